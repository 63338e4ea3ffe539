"""The statistics page (admin:statistics): the period picker and range in the shop's calendar, a
chart and a table of the same figures per section, clear errors for a wrong range, the navigation's
link, and the operator's choice of shop (a merchant's is always their own)."""

import datetime as dt
import json
import re
import uuid

import pytest
import time_machine
from django.urls import reverse

from campaigns.models import AttributionSource, BulkSend, OptOut, OrderAttribution
from smsnotify.models import Kind
from tests.campaigns.test_statistics import NOW, at, hand_counted_texts, rating, text
from tests.factories import OrderFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def texts():
    return hand_counted_texts(make_shop(name="Sklep", time_zone="Europe/Warsaw"))


def _chart(page: str, chart_id: str) -> dict:
    match = re.search(rf'<script id="data-{chart_id}" type="application/json">(.*?)</script>', page, re.S)
    assert match, f"no data for the chart {chart_id}"
    return json.loads(match.group(1))


def _series(chart: dict, label: str) -> list:
    return next(dataset["data"] for dataset in chart["datasets"] if dataset["label"] == label)


@pytest.fixture
def merchant(client, texts):
    client.force_login(make_merchant(texts))
    return client


def test_the_page_shows_weeks_with_charts_and_tables(merchant, texts):
    rating(texts, at(24, 9), 4)
    OptOut.objects.create(shop=texts, phone="+48600000001", created_at=at(23, 8))
    with time_machine.travel(NOW, tick=False):
        response = merchant.get(reverse("admin:statistics"), {"period": "week", "start": "2026-11-18",
                                                              "end": "2026-11-29"})
    assert response.status_code == 200
    page = response.content.decode()
    chart = _chart(page, "texts")
    assert len(chart["labels"]) == 2  # widened to whole weeks: 16-22 and 23-29 November
    assert _series(chart, "Sent") == [2, 3]
    assert _series(chart, "Delivered") == [1, 1]
    assert _series(chart, "Failed") == [1, 1]
    assert _series(_chart(page, "credits"), "Credits spent") == [3, 5]
    replies = _chart(page, "replies")
    assert _series(replies, "Replies received") == [1, 2]
    assert _series(replies, "Opt-outs") == [0, 1]
    assert _series(_chart(page, "satisfaction"), "Average rating (1-5)") == [None, 4]
    kinds = _chart(page, "kinds")
    assert kinds["labels"] == ["Bulk send", "Order status", "Sent by hand"]
    assert _series(kinds, "Credits spent") == [5, 3, 0]
    # the same figures in the table below each chart, the newest period first (the chart runs left to right)
    table = re.search(r'<table class="stats-table" id="table-texts">(.*?)</table>', page, re.S).group(1)
    assert [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><th scope=\"row\">.*?</tr>", table)] \
        == [["3", "1", "1"], ["2", "1", "1"]]
    assert re.findall(r'<th scope="row">(.*?)</th>', table) == list(reversed(chart["labels"]))
    credits = re.search(r'<table class="stats-table" id="table-credits">(.*?)</table>', page, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", credits) == ["5", "3"]
    assert "21211" in page and "30003" in page
    assert 'value="2026-11-16"' in page  # the form shows the range as read


def test_the_default_range_is_the_last_30_days(merchant, texts):
    with time_machine.travel(NOW, tick=False):
        page = merchant.get(reverse("admin:statistics")).content.decode()
    chart = _chart(page, "texts")
    assert len(chart["labels"]) == 30
    assert sum(_series(chart, "Sent")) == 6  # the two weeks and the Sunday before them
    assert 'value="2026-10-31"' in page and 'value="2026-11-29"' in page


@pytest.mark.parametrize("query, error", [
    ({"start": "2026-11-29", "end": "2026-11-01"}, "The range must start before it ends."),
    ({"start": "2020-01-01", "end": "2026-11-01"}, "Choose a range of at most three years."),
    ({"start": "yesterday"}, "Enter a valid date."),
    ({"period": "year"}, "Select a valid choice."),
    ({"period": "month", "start": "9999-12-01", "end": "9999-12-31"}, "Choose a day between 2000-01-01 and 2099-12-31."),
    ({"start": "0001-01-01", "end": "0001-01-02"}, "Choose a day between 2000-01-01 and 2099-12-31."),
])
def test_a_wrong_range_is_a_clear_400(merchant, query, error):
    response = merchant.get(reverse("admin:statistics"), query)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert 'data-chart' not in response.content.decode()


def test_the_page_is_linked_from_the_admins_navigation(merchant):
    index = merchant.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:statistics")}"' in index
    orders = merchant.get(reverse("admin:shop_order_changelist")).content.decode()  # the sidebar
    assert f'href="{reverse("admin:statistics")}"' in orders


def test_the_operator_picks_the_shop(client, admin_user, texts):
    other = make_shop(name="Another", time_zone="Europe/Warsaw")
    text(other, at(24, 10), credits=7)
    client.force_login(admin_user)
    url = reverse("admin:statistics")
    with time_machine.travel(NOW, tick=False):
        page = client.get(url, {"shop": other.pk, "period": "week", "start": "2026-11-16"}).content.decode()
        assert _series(_chart(page, "credits"), "Credits spent") == [0, 7]
        page = client.get(url, {"shop": texts.pk, "period": "week", "start": "2026-11-16"}).content.decode()
        assert _series(_chart(page, "credits"), "Credits spent") == [3, 5]
        assert client.get(url, {"shop": "999999"}).status_code == 400
        assert client.get(url, {"shop": "x"}).status_code == 400


def test_a_merchant_cannot_pick_another_shop(merchant, texts):
    other = make_shop(name="Another", time_zone="Europe/Warsaw")
    text(other, at(24, 10), credits=7)
    with time_machine.travel(NOW, tick=False):
        page = merchant.get(reverse("admin:statistics"), {"shop": other.pk, "period": "week",
                                                          "start": "2026-11-16"}).content.decode()
    assert _series(_chart(page, "credits"), "Credits spent") == [3, 5]
    assert "Another" not in page


def test_the_page_shows_orders_and_revenue_per_campaign_beside_its_credits(merchant, texts):
    bulk = BulkSend.objects.create(shop=texts, body="Sale", send_key=uuid.uuid4(), status="sending", recipients=1)
    sale = text(texts, at(24, 10), kind=Kind.BULK, credits=7, batch_ref=bulk.batch_ref,
                dedupe_key=f"{bulk.batch_ref}:customer:1")
    order = OrderFactory(shop=texts, total=12_345, placed_at=at(24, 12))
    OrderAttribution.objects.create(shop=texts, order=order, message=sale, campaign=f"bulk:{bulk.pk}",
                                    source=AttributionSource.CLICK)
    OrderAttribution.objects.create(shop=texts, order=OrderFactory(shop=texts, total=99_999, placed_at=at(10, 12)),
                                    campaign=f"bulk:{bulk.pk}", source=AttributionSource.CLICK)  # before the range
    with time_machine.travel(NOW, tick=False):
        response = merchant.get(reverse("admin:statistics"), {"period": "week", "start": "2026-11-18",
                                                              "end": "2026-11-29"})
    page = response.content.decode()
    section = re.search(r'<section class="stats-section" id="section-revenue">(.*?)</section>', page, re.S).group(1)
    row = re.search(rf'<tr data-campaign="bulk:{bulk.pk}">(.*?)</tr>', section, re.S).group(1)
    assert re.findall(r'<td class="numeric">(.*?)</td>', row)[1:4] == ["7", "0", "1"]  # credits, clicks, orders
    assert "123.45" in row and "999.99" not in section
    assert "first=2026-11-16&amp;last=2026-11-29" in section  # the full report, for the same days


def test_failure_reasons_are_in_the_shops_language_where_the_code_is_known():
    from django.utils import translation

    from campaigns.admin_dashboard import failures_table
    from campaigns.statistics import Failure

    failures = [Failure(code="21211", text="The 'To' number is not valid.", count=2),
                Failure(code="expired", text="Not sent: more than 48 hours late.", count=1),
                Failure(code="30999", text="Provider's own words", count=1), Failure(code="", text="", count=1)]
    with translation.override("pl"):
        reasons = [row[1] for row in failures_table(failures).rows]
    assert reasons[0] != "The 'To' number is not valid." and "21211" not in reasons[0]
    assert reasons[1] != "Not sent: more than 48 hours late."
    assert reasons[2] == "Provider's own words"
    with translation.override("en"):
        assert [row[1] for row in failures_table(failures).rows] == [
            "The number is not valid", "Not sent: it was due too long ago.", "Provider's own words", "No reason given"]


def test_a_polish_shop_sees_its_range_in_the_date_fields(client):
    """A date input reads only ISO dates: a Polish "16.11.2026" would show an empty field."""
    shop = make_shop(name="Sklep PL", language="pl", time_zone="Europe/Warsaw")
    client.force_login(make_merchant(shop))
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("admin:statistics"), {"period": "week", "start": "2026-11-18",
                                                            "end": "2026-11-29"})
    page = response.content.decode()
    assert 'value="2026-11-16"' in page and 'value="2026-11-29"' in page


def test_rates_are_rounded_not_cut():
    from django.utils import translation

    from campaigns.admin_dashboard import _percent

    with translation.override("en"):
        assert _percent(8 / 9) == "88.9 %"
        assert _percent(None) == "–"
