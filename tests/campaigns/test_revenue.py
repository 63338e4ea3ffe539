"""Orders credited to texts (campaigns/attribution.py) and revenue per campaign (campaigns/revenue.py,
the Campaign revenue page)."""

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.urls import reverse

from campaigns.attribution import campaign_of
from campaigns.models import AttributionSource, BulkSend, DateCampaign, OrderAttribution
from campaigns.revenue import AUTOMATION, BULK, OTHER, campaign_revenue, local_period
from shop import services as shop_services
from shop.models import Coupon, OrderStatus
from smsnotify.models import Kind, Message, Status
from smsnotify.outbox import PreparedMessage, message_schedule, messages_schedule_many
from templates_sms.models import SmsTemplate
from tests.factories import CustomerFactory, make_merchant, make_shop
from tests.smsnotify.helpers import visit

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.timezone.utc)
_numbers = iter(range(1000, 10_000))


def _bulk_text(shop, customer, *, credits=12, body="Sale! https://acme.example/sale") -> Message:
    bulk = BulkSend.objects.create(shop=shop, body=body, send_key=uuid.uuid4(), status="sending", recipients=1)
    written = messages_schedule_many(shop=shop, kind=Kind.BULK, batch_ref=bulk.batch_ref, rows=[PreparedMessage(
        to=str(customer.phone), body=body, dedupe_key=f"{bulk.batch_ref}:customer:{customer.pk}",
        customer_id=customer.pk)])
    return _sent(Message.objects.get(pk=written[f"{bulk.batch_ref}:customer:{customer.pk}"]), credits)


def _campaign(shop, name="Birthday") -> DateCampaign:
    return DateCampaign.objects.create(shop=shop, name=name, trigger="birthday", template=SmsTemplate.objects.get(
        shop=shop, event="date:birthday", is_standard=True))


def _date_text(shop, customer, campaign, *, credits=24, coupon=False) -> Message:
    key = f"date:{campaign.pk}:birthday:customer:{customer.pk}:2026"
    message = message_schedule(shop=shop, to=customer.phone, body="Happy birthday! https://acme.example/gift",
                               kind=Kind.DATE_CAMPAIGN, dedupe_key=key, customer=customer, ring=False)
    if coupon:
        Coupon.objects.create(shop=shop, code=f"BDAY{customer.pk}", kind="percent", value=10, customer=customer,
                              valid_until=T0 + dt.timedelta(days=30), source_key=key)
    return _sent(message, credits)


def _sent(message: Message, credits: int) -> Message:
    Message.objects.filter(pk=message.pk).update(status=Status.DELIVERED, credits_charged=credits)
    message.refresh_from_db()
    return message


def _click(message: Message, **visitor):
    status, _headers, _body = visit(f"/{message.links.first().code}", **visitor)
    assert status == "302 Found"


def _order(shop, customer, total=5_000, coupon_code=""):
    return shop_services.order_create(shop=shop, number=f"R-{next(_numbers)}", customer=customer, subtotal=total,
                                      coupon_code=coupon_code)


@pytest.fixture
def customer(shop):
    return CustomerFactory(shop=shop)


# --- attribution -----------------------------------------------------------------------------------


@pytest.mark.parametrize("days,credited", [(6, True), (6.99, True), (8, False)])
def test_a_click_counts_for_an_order_within_7_days(shop, customer, days, credited):
    with time_machine.travel(T0, tick=False):
        text = _bulk_text(shop, customer)
        _click(text)
    with time_machine.travel(T0 + dt.timedelta(days=days), tick=False):
        order = _order(shop, customer)
    attribution = OrderAttribution.objects.filter(order=order).first()
    if credited:
        assert (attribution.message, attribution.campaign, attribution.source) == (
            text, text.batch_ref, AttributionSource.CLICK)
    else:
        assert attribution is None


def test_the_last_click_wins(shop, customer):
    campaign = _campaign(shop)
    with time_machine.travel(T0, tick=False):
        bulk_text = _bulk_text(shop, customer)
        date_text = _date_text(shop, customer, campaign)
        _click(date_text)
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        _click(bulk_text)
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        first = _order(shop, customer)
    assert first.attribution.message == bulk_text
    with time_machine.travel(T0 + dt.timedelta(days=4), tick=False):
        _click(date_text, address="198.51.100.9")  # the same text opened on another network: a new visitor
        second = _order(shop, customer)
    assert (second.attribution.message, second.attribution.campaign) == (date_text, f"date:{campaign.pk}")


def test_a_click_after_the_order_or_by_another_customer_does_not_count(shop, customer):
    other = CustomerFactory(shop=shop)
    with time_machine.travel(T0, tick=False):
        _click(_bulk_text(shop, other))
        text = _bulk_text(shop, customer)
        order = _order(shop, customer)
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        _click(text)
    assert not OrderAttribution.objects.filter(order=order).exists()


def test_the_discount_code_of_a_text_wins_over_a_later_click(shop, customer):
    campaign = _campaign(shop)
    with time_machine.travel(T0, tick=False):
        date_text = _date_text(shop, customer, campaign, coupon=True)
    with time_machine.travel(T0 + dt.timedelta(days=10), tick=False):  # past the clicks' window: the code still counts
        _click(_bulk_text(shop, customer))
        order = _order(shop, customer, coupon_code=f"BDAY{customer.pk}")
    attribution = order.attribution
    assert (attribution.message, attribution.campaign, attribution.source) == (
        date_text, f"date:{campaign.pk}", AttributionSource.COUPON)


def test_the_campaign_of_each_kind_of_text(shop, customer):
    order = _order(shop, customer)
    texts = {
        "status:shipped": dict(kind=Kind.ORDER_STATUS, dedupe_key=f"order:{order.pk}:status:shipped"),
        "date:37": dict(kind=Kind.DATE_CAMPAIGN, dedupe_key="date:37:after_shipped:order:5"),
        "abandoned_cart": dict(kind=Kind.ABANDONED_CART, dedupe_key="cart:4:abandoned:1764412800"),
        "back_in_stock": dict(kind=Kind.BACK_IN_STOCK, dedupe_key="stock:subscription:8"),
        "manual": dict(kind=Kind.MANUAL, dedupe_key=f"manual:{uuid.uuid4().hex}"),
    }
    for expected, fields in texts.items():
        message = message_schedule(shop=shop, to=customer.phone, body="Hi", ring=False, **fields)
        assert Message.objects.annotate(c=campaign_of()).get(pk=message.pk).c == expected


# --- revenue per campaign ----------------------------------------------------------------------------


@pytest.fixture
def month(shop):
    """A month of texts: a bulk send (two texts, one clicked before an order), a birthday campaign
    whose code was used, an order-status text clicked before an order later cancelled, an
    abandoned-cart reminder that earned nothing, and a text by hand."""
    ann, bob, cid = (CustomerFactory(shop=shop) for _ in range(3))
    campaign = _campaign(shop, name="Birthday 10%")
    with time_machine.travel(T0, tick=False):
        bulk_texts = [_bulk_text(shop, ann, body="Sale! https://acme.example/s"), None]
        bulk = BulkSend.objects.get(pk=int(bulk_texts[0].batch_ref.split(":")[1]))
        written = messages_schedule_many(shop=shop, kind=Kind.BULK, batch_ref=bulk.batch_ref, rows=[PreparedMessage(
            to=str(bob.phone), body=bulk.body, dedupe_key=f"{bulk.batch_ref}:customer:{bob.pk}", customer_id=bob.pk)])
        bulk_texts[1] = _sent(Message.objects.get(pk=written[f"{bulk.batch_ref}:customer:{bob.pk}"]), 12)
        _date_text(shop, bob, campaign, credits=24, coupon=True)
        first = _order(shop, cid, total=1_000)
        status_text = _sent(message_schedule(shop=shop, to=cid.phone, body="Shipped: https://track.example/1",
                                             kind=Kind.ORDER_STATUS, dedupe_key=f"order:{first.pk}:status:shipped",
                                             order=first, customer=cid, ring=False), 12)
        _sent(message_schedule(shop=shop, to=ann.phone, body="Your cart", kind=Kind.ABANDONED_CART,
                               dedupe_key="cart:1:abandoned:1", customer=ann, ring=False), 12)
        _sent(message_schedule(shop=shop, to=ann.phone, body="Thanks", kind=Kind.MANUAL, customer=ann, ring=False), 12)
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        _click(bulk_texts[0])
        _click(status_text)
        _order(shop, ann, total=5_000)
        _order(shop, bob, total=3_000, coupon_code=f"BDAY{bob.pk}")
        cancelled = _order(shop, cid, total=9_900)
        shop_services.order_change_status(order=cancelled, status=OrderStatus.CANCELLED)
    return {"bulk": bulk, "campaign": campaign}


def test_revenue_per_campaign_with_its_credits(shop, month):
    start, end = T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=2)
    report = campaign_revenue(shop=shop, start=start, end=end)
    rows = {row.campaign: (row.name, row.texts, row.credits, row.clicks, row.orders, row.revenue) for row in report.rows}
    bulk, campaign = month["bulk"], month["campaign"]
    assert rows[bulk.batch_ref][1:] == (2, 24, 1, 1, 5_000)
    assert rows[f"date:{campaign.pk}"] == ("Date campaign: Birthday 10%", 1, 24, 0, 1, 2_700)  # 10% off 3,000
    assert rows["status:shipped"] == ("Order status: Shipped", 1, 12, 1, 0, 0)  # its order was cancelled
    assert rows["abandoned_cart"] == ("Abandoned cart", 1, 12, 0, 0, 0)
    assert rows["manual"] == ("Sent by hand", 1, 12, 0, 0, 0)
    assert rows[bulk.batch_ref][0].startswith(f"Bulk send #{bulk.pk} of ")
    assert [row.family for row in report.rows] == [BULK, AUTOMATION, AUTOMATION, AUTOMATION, OTHER]  # most revenue first
    total = report.total
    assert (total.texts, total.credits, total.clicks, total.orders, total.revenue) == (6, 84, 2, 2, 7_700)

    assert [row.campaign for row in campaign_revenue(shop=shop, start=start, end=end, family=BULK).rows] == [
        bulk.batch_ref]
    automations = campaign_revenue(shop=shop, start=start, end=end, family=AUTOMATION).rows
    assert [row.campaign for row in automations] == [f"date:{campaign.pk}", "abandoned_cart", "status:shipped"]
    # the orders came the next day: a period of T0's day alone has the texts and not the revenue
    first_day = campaign_revenue(shop=shop, start=T0 - dt.timedelta(hours=1), end=T0 + dt.timedelta(hours=1))
    assert first_day.total.credits == 84 and first_day.total.revenue == 0 and first_day.total.clicks == 0


def test_another_shops_texts_and_orders_are_not_counted(shop, month):
    other = make_shop()
    customer = CustomerFactory(shop=other)
    with time_machine.travel(T0, tick=False):
        _click(_bulk_text(other, customer))
        _order(other, customer, total=70_000)
    report = campaign_revenue(shop=shop, start=T0 - dt.timedelta(days=1), end=T0 + dt.timedelta(days=2))
    assert report.total.revenue == 7_700 and report.total.clicks == 2
    assert campaign_revenue(shop=other, start=T0 - dt.timedelta(days=1), end=T0 + dt.timedelta(days=2)).total.revenue \
        == 70_000


# --- the page --------------------------------------------------------------------------------------


def test_the_page_shows_a_period_of_the_shops_days(client, month):
    shop = month["bulk"].shop
    shop.time_zone = "America/New_York"
    shop.save()
    client.force_login(make_merchant(shop))
    url = reverse("admin:campaigns_orderattribution_changelist")
    # 3 November in New York ends at 05:00 UTC on the 4th: the orders of T0 + 1 day (16:00 UTC on the 3rd) are in
    response = client.get(url, {"first": "2026-11-03", "last": "2026-11-03"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Campaign revenue" in page and 'id="campaign-revenue-table"' in page
    assert "Birthday 10%" in page and "$50.00" in page and "$77.00" in page
    # the total row reads as a total: bold and set off from the campaigns above it, in the rows' own size
    # (Django's base.css makes tfoot cells as small as the column headers)
    rule = re.search(r"tr\.revenue-total > td \{(.*?)\}", page, re.S).group(1)
    assert "font-weight: bold" in rule and "border-top: 2px solid" in rule
    assert "font-size: 0.8125rem" in rule  # base.css's td, th
    assert re.search(r'<tfoot>\s*<tr class="revenue-total">', page)
    assert response.context["revenue"].total.revenue == 7_700 and response.context["revenue"].total.credits == 0
    assert local_period(shop=shop, first=dt.date(2026, 11, 3), last=dt.date(2026, 11, 3)) == (
        dt.datetime(2026, 11, 3, 5, 0, tzinfo=dt.timezone.utc), dt.datetime(2026, 11, 4, 5, 0, tzinfo=dt.timezone.utc))
    response = client.get(url, {"first": "2026-11-04", "last": "2026-11-30"})
    assert "No texts, clicks or orders in this period." in response.content.decode()


@pytest.mark.parametrize("query,error", [
    ({"first": "2026-11-05", "last": "2026-11-01"}, "The first day must not be after the last."),
    ({"first": "2025-01-01", "last": "2026-11-01"}, "Choose at most 366 days."),
    ({"first": "yesterday", "last": "2026-11-01"}, "Enter a valid date."),
    ({"first": "9999-12-31", "last": "9999-12-31"}, "Choose a day between 2000-01-01 and 2099-12-31."),
])
def test_a_bad_period_is_a_message_not_an_error(client, shop, query, error):
    client.force_login(make_merchant(shop))
    response = client.get(reverse("admin:campaigns_orderattribution_changelist"), query)
    assert response.status_code == 200
    assert error in response.content.decode() and response.context["revenue"] is None


def test_the_operator_picks_the_shop(client, month, django_user_model):
    shop = month["bulk"].shop
    operator = django_user_model.objects.create_superuser("root", password="pw-root-12345")
    client.force_login(operator)
    response = client.get(reverse("admin:campaigns_orderattribution_changelist"),
                          {"first": "2026-11-01", "last": "2026-11-30", "shop": shop.pk})
    assert response.context["revenue"].total.revenue == 7_700


def test_staff_of_no_shop_see_no_shops_revenue(client, month, django_user_model):
    """Only the operator picks a shop: a staff user without a shop (removed from theirs) gets nothing."""
    outsider = django_user_model.objects.create_user("outsider", password="pw-out-12345", is_staff=True)
    client.force_login(outsider)
    response = client.get(reverse("admin:campaigns_orderattribution_changelist"),
                          {"first": "2026-11-01", "last": "2026-11-30", "shop": month["bulk"].shop.pk})
    assert response.status_code == 403


def test_a_periods_clicks_of_one_shop_are_read_through_an_index_not_by_scanning_every_click(db):
    """The revenue's click count filters the clicks by their link's shop and their time: neither
    was indexed (ShortLink.shop has db_index=False), so every click and link was read."""
    from django.db import connection
    from django.db.models import Count

    from smsnotify.models import LinkClick

    start, end = T0, T0 + dt.timedelta(days=30)
    clicks = (LinkClick.objects.filter(link__shop_id=1, clicked_at__gte=start, clicked_at__lt=end)
              .annotate(campaign=campaign_of("link__message__")).values("campaign").annotate(n=Count("pk")).order_by())
    sql, params = clicks.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}" if connection.vendor == "sqlite" else f"EXPLAIN {sql}", params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "shortlink_shop_idx" in plan or "linkclick_clicked_idx" in plan, plan
    assert {"shortlink_shop_idx", "linkclick_clicked_idx"} <= {
        name for table in ("smsnotify_shortlink", "smsnotify_linkclick")
        for name in connection.introspection.get_constraints(connection.cursor(), table)}
