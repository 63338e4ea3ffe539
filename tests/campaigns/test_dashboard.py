"""The merchant's dashboard (campaigns/dashboard.py, the admin's first page): credits and the days
they last, texts of today / this week / this month, delivery rate, failures by reason, opt-outs,
numbers collected, and each attention item appearing, linking to its fix, and going away."""

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from campaigns.dashboard import Credits, Problem, dashboard
from campaigns.models import AbandonedCartSettings, DateCampaign, OptOut, OrderStatusRule
from credits.models import CreditAccount
from smsnotify.models import Direction, Kind, SmsSettings, Status
from templates_sms.models import SmsTemplate
from tests.factories import CustomerFactory, MessageFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=WARSAW)  # a Wednesday


def at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=WARSAW)


def text(shop, when, *, status=Status.DELIVERED, credits=0, **fields):
    return MessageFactory(shop=shop, kind=fields.pop("kind", Kind.ORDER_STATUS), status=status, created_at=when,
                          credits_charged=credits, **fields)


@pytest.fixture
def shop():
    shop = make_shop(name="Dashboard shop", time_zone="Europe/Warsaw")
    fund(shop, 1000)
    CreditAccount.objects.filter(shop=shop).update(low_balance_threshold=50)
    return shop


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def merchant(client, shop):
    client.force_login(make_merchant(shop))
    return client


def problems(shop) -> list[str]:
    return [item.problem for item in dashboard(shop=shop).attention]


# --- credits and how long they last -----------------------------------------------------------------


@pytest.mark.parametrize("spent, days_left", [
    ({7: 70, 30: 300}, 100),  # the last week's pace: 10 a day
    ({7: 0, 30: 300}, 100),  # nothing this week: the month's pace, 10 a day
    ({7: 700, 30: 900}, 10),  # a busy week wins over a quiet month
    ({7: 0, 30: 0}, None),  # no spend lately: no estimate
    ({7: 3000, 30: 3000}, 2),  # 428.6 a day: two whole days
])
def test_days_left_at_the_current_pace(spent, days_left):
    assert Credits(balance=1000, threshold=50, spent=spent).days_left == days_left


def test_days_left_from_the_texts_credits(shop, now):
    # the last 7 days: 19-25 November (today) in Warsaw; the last 30: from 27 October
    text(shop, at(11, 25, 11), credits=40)
    text(shop, at(11, 19, 0, 5), credits=30)
    text(shop, at(11, 18, 23, 55), credits=400)  # the month's, not the week's
    text(shop, at(10, 27, 0, 5), credits=100)
    text(shop, at(10, 26, 23, 55), credits=9000)  # older than both
    credits = dashboard(shop=shop).credits
    assert credits.spent == {7: 70, 30: 570}
    assert credits.daily_spend(7) == 10 and credits.daily_spend(30) == 19
    assert credits.days_left == 100  # 1000 credits at 10 a day


# --- texts ----------------------------------------------------------------------------------------------


def test_texts_today_this_week_and_this_month_in_the_shops_zone(shop, now):
    text(shop, at(11, 25, 0, 10))  # today, 00:10 in Warsaw (yesterday in UTC)
    text(shop, at(11, 24, 23, 50), status=Status.SENT)  # yesterday: this week (from Monday the 23rd)
    text(shop, at(11, 23, 0, 5), status=Status.UNDELIVERED)  # Monday: this week
    text(shop, at(11, 22, 23, 55))  # Sunday: last week, this month
    text(shop, at(11, 1, 0, 5))  # this month
    text(shop, at(10, 31, 23, 55))  # last month
    text(shop, at(11, 25, 9), status=Status.SCHEDULED)  # not sent yet
    text(shop, at(11, 25, 9), status=Status.FAILED)  # did not leave
    MessageFactory(shop=shop, direction=Direction.INBOUND, kind=Kind.INBOUND, status=Status.DELIVERED,
                   created_at=at(11, 25, 9))  # a reply is not a text sent
    texts = dashboard(shop=shop).texts
    assert (texts.today, texts.this_week, texts.this_month) == (1, 3, 5)
    # last 30 days: 5 delivered or sent or undelivered + 1 failed attempted (Oct 31 is 25 days ago)
    assert (texts.delivered, texts.attempted) == (4, 7)
    assert texts.delivery_rate == pytest.approx(4 / 7)


def test_failures_opt_outs_and_numbers(shop, now):
    text(shop, NOW - dt.timedelta(days=3), status=Status.FAILED, error_code="21211", error_text="Invalid 'To'")
    text(shop, NOW - dt.timedelta(days=4), status=Status.FAILED, error_code="21211", error_text="Invalid 'To'")
    text(shop, NOW - dt.timedelta(days=5), status=Status.UNDELIVERED, error_code="30003", error_text="Unreachable")
    text(shop, NOW - dt.timedelta(days=40), status=Status.FAILED, error_code="21614", error_text="Not a mobile")
    OptOut.objects.create(shop=shop, phone="+48600000001", created_at=NOW - dt.timedelta(days=2))
    OptOut.objects.create(shop=shop, phone="+48600000002", created_at=NOW - dt.timedelta(days=45))
    for days in (1, 3, 10, 20, 400):
        CustomerFactory(shop=shop, registered_at=NOW - dt.timedelta(days=days))
    CustomerFactory(shop=shop, registered_at=NOW - dt.timedelta(days=1), phone="")
    board = dashboard(shop=shop)
    assert [(f.code, f.text, f.count) for f in board.failures] == [("21211", "Invalid 'To'", 2),
                                                                   ("30003", "Unreachable", 1)]
    assert board.opt_outs == 1
    assert (board.numbers.total, board.numbers.new_this_week) == (5, 2)
    assert board.numbers.growth == pytest.approx(2 / 3)


# --- what needs attention ---------------------------------------------------------------------------------


def test_a_healthy_shop_needs_nothing(shop, now, merchant):
    assert problems(shop) == []
    page = merchant.get(reverse("admin:index")).content.decode()
    assert "Nothing needs your attention." in page


def _item_link(page: str, text: str) -> str:
    """The link of the attention item that says ``text``."""
    items = re.findall(r'<li class="attention-\w+">(.*?) <a href="([^"]+)">', page[page.index('id="attention"'):])
    return next(html.unescape(url) for said, url in items if text in html.unescape(said))


def _opens(client, url: str) -> None:
    assert client.get(url).status_code == 200, url


def test_sms_switched_off(shop, now, merchant):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    assert problems(shop) == [Problem.SMS_OFF]
    page = merchant.get(reverse("admin:index")).content.decode()
    url = _item_link(page, "SMS is switched off")
    assert url == reverse("admin:smsnotify_smssettings_change", args=[SmsSettings.objects.get(shop=shop).pk])
    _opens(merchant, url)
    SmsSettings.objects.filter(shop=shop).update(active=True)
    assert problems(shop) == []


def test_low_balance(shop, now, merchant):
    CreditAccount.objects.filter(shop=shop).update(low_balance_threshold=5000)  # the merchant wants 5,000 kept
    assert problems(shop) == [Problem.LOW_BALANCE]
    page = merchant.get(reverse("admin:index")).content.decode()
    url = _item_link(page, "Credits are running low: 1,000 left.")
    assert url == reverse("admin:credits_purchase_buy")
    _opens(merchant, url)
    fund(shop, 5000)
    assert problems(shop) == []


def test_credits_that_run_out_within_a_week_are_low_whatever_the_threshold(shop, now, merchant):
    text(shop, NOW - dt.timedelta(days=1), credits=1400)  # 200 a day: 1,000 last 5 days
    assert problems(shop) == [Problem.LOW_BALANCE]
    page = merchant.get(reverse("admin:index")).content.decode()
    assert "At the current pace they last 5 more days." in page
    fund(shop, 1000)  # 2,000: 10 days
    assert problems(shop) == []


def test_texts_with_an_unknown_outcome(shop, now, merchant):
    unknown = text(shop, NOW - dt.timedelta(days=60), status=Status.UNKNOWN)  # however old: it waits for a decision
    assert problems(shop) == [Problem.UNKNOWN]
    page = merchant.get(reverse("admin:index")).content.decode()
    url = _item_link(page, "1 text has an unknown outcome")
    assert url == reverse("admin:campaigns_failedmessage_changelist") + "?status=unknown"
    _opens(merchant, url)
    unknown.status = Status.DELIVERED
    unknown.save()
    assert problems(shop) == []


def test_texts_that_failed_lately(shop, now, merchant):
    failed = text(shop, NOW - dt.timedelta(days=6), status=Status.FAILED, error_code="21211")
    text(shop, NOW - dt.timedelta(days=2), status=Status.UNDELIVERED, error_code="30003")
    assert problems(shop) == [Problem.FAILED]
    page = merchant.get(reverse("admin:index")).content.decode()
    url = _item_link(page, "2 texts failed in the last 7 days.")
    assert url == reverse("admin:campaigns_failedmessage_changelist")
    _opens(merchant, url)
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):  # a week after the first
        assert [(i.problem, i.count) for i in dashboard(shop=shop).attention] == [(Problem.FAILED, 1)]
    with time_machine.travel(NOW + dt.timedelta(days=6), tick=False):
        assert problems(shop) == []
    assert failed.pk  # still in the error log: only the dashboard's reminder went


def _standard(shop, event):
    return SmsTemplate.objects.get(shop=shop, event=event, is_standard=True)


@pytest.mark.parametrize("automation, event, name", [
    (lambda shop: DateCampaign.objects.create(shop=shop, name="Happy birthday", trigger="birthday"),
     "date:birthday", "Happy birthday"),
    (lambda shop: OrderStatusRule.objects.create(shop=shop, status="shipped", delay_days=1),
     "order_status:shipped", "Shipped"),
    (lambda shop: AbandonedCartSettings.objects.create(shop=shop, active=True), "cart:abandoned",
     "Abandoned-cart reminder"),
])
def test_an_automation_whose_template_is_off(shop, now, merchant, automation, event, name):
    template = _standard(shop, event)
    SmsTemplate.objects.filter(pk=template.pk).update(active=True)
    automation(shop)
    assert problems(shop) == []
    SmsTemplate.objects.filter(pk=template.pk).update(active=False)
    assert [(i.problem, i.automation, i.template) for i in dashboard(shop=shop).attention] \
        == [(Problem.TEMPLATE_OFF, name, template)]
    page = merchant.get(reverse("admin:index")).content.decode()
    url = _item_link(page, "sends nothing: its template is switched off.")
    assert url == reverse("admin:templates_sms_smstemplate_change", args=[template.pk])
    _opens(merchant, url)
    SmsTemplate.objects.filter(pk=template.pk).update(active=True)
    assert problems(shop) == []


def test_an_automation_with_a_template_of_its_own_or_switched_off_needs_nothing(shop, now):
    template = _standard(shop, "date:birthday")
    SmsTemplate.objects.filter(pk=template.pk).update(active=False)
    DateCampaign.objects.create(shop=shop, name="Own text", trigger="birthday", template=template)
    DateCampaign.objects.create(shop=shop, name="Off", trigger="birthday", active=False)
    OrderStatusRule.objects.create(shop=shop, status="shipped", active=False)
    AbandonedCartSettings.objects.create(shop=shop, active=False)
    assert problems(shop) == []


# --- the page -----------------------------------------------------------------------------------------


def test_the_merchants_first_page_is_the_dashboard(shop, now, merchant):
    text(shop, at(11, 25, 9), credits=4)
    page = merchant.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard"' in page
    assert 'id="data-dashboard-texts"' in page and 'id="table-dashboard-texts"' in page  # chart and table
    assert "chart.umd.js" in page
    assert f'href="{reverse("admin:statistics")}"' in page
    assert 'href="/admin/shop/order/"' in page  # the list of apps stays, below
    assert "Lasts about 1,750 days at the current pace." in page  # 1,000 credits at 4 a week


def test_the_dashboards_table_shows_today_first(shop, now, merchant):
    """The table under the chart sits in a scroll box: today's row comes first, not under 13 older days."""
    text(shop, at(11, 25, 9))
    text(shop, at(11, 25, 10))
    text(shop, at(11, 20, 9))
    page = merchant.get(reverse("admin:index")).content.decode()
    table = re.search(r'<table class="stats-table" id="table-dashboard-texts">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td>', table)
    assert len(rows) == 14
    assert rows[0] == ("11/25/2026", "2") and rows[5] == ("11/20/2026", "1") and rows[-1] == ("11/12/2026", "0")
    # the chart still runs from the oldest day to today
    assert re.search(r'id="data-dashboard-texts" type="application/json">.*?"labels": \["11/12/2026"', page, re.S)


def test_the_operator_keeps_the_list_of_apps(client, admin_user, shop):
    client.force_login(admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard"' not in page
    assert "recent-actions-module" in page
    assert f'href="{reverse("admin:statistics")}"' in page
