"""The merchant's scheduled sends and error log (campaigns/admin_lists.py): only the shop's own
texts, search and filters, cancelling (also every text matching, across pages, and a text a
worker already queued), and the error log's reasons and sources in the shop's language."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from campaigns import sources
from campaigns.admin_lists import ScheduledMessageAdmin
from campaigns.models import FailedMessage, ScheduledMessage
from smsnotify import outbox
from smsnotify.models import Direction, EventType, Kind, Message, Status
from smsnotify.transitions import message_transition
from tests.delivery import deliver
from tests.factories import CustomerFactory, MessageFactory, OrderFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

SCHEDULED = "admin:campaigns_scheduledmessage_changelist"
ERRORS = "admin:campaigns_failedmessage_changelist"
NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def merchant(client, shop):
    client.force_login(make_merchant(shop, "anna"))
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {message.pk for message in response.context["cl"].result_list}


def waiting(shop, **kwargs):
    return MessageFactory(shop=shop, status=kwargs.pop("status", Status.SCHEDULED),
                          send_at=kwargs.pop("send_at", timezone.now() + dt.timedelta(days=1)), **kwargs)


def cancel(client, messages, **extra):
    return client.post(reverse(SCHEDULED) + extra.pop("query", ""),
                       {"action": "cancel_selected", "_selected_action": [m.pk for m in messages], **extra},
                       follow=True)


def notices(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def status_of(message) -> str:
    message.refresh_from_db()
    return message.status


# --- the scheduled sends -----------------------------------------------------------------------


def test_lists_only_the_shops_texts_that_are_still_waiting(merchant, shop):
    later, due = waiting(shop), waiting(shop, status=Status.QUEUED, send_at=timezone.now())
    for status in (Status.SENDING, Status.SENT, Status.DELIVERED, Status.FAILED, Status.CANCELLED):
        MessageFactory(shop=shop, status=status)
    MessageFactory(shop=shop, status=Status.SCHEDULED, direction=Direction.INBOUND, kind=Kind.INBOUND)
    foreign = waiting(make_shop(name="Other Shop"))
    response = merchant.get(reverse(SCHEDULED))
    assert listed(response) == {later.pk, due.pk}
    page = response.content.decode()
    assert "Other Shop" not in page and foreign.body not in page
    # a row opens the message's own page, with its history
    assert reverse("admin:smsnotify_message_change", args=[later.pk]) in page


def test_another_shops_text_is_not_cancelled_with_a_forged_id(merchant, shop):
    own, foreign = waiting(shop), waiting(make_shop())
    response = cancel(merchant, [own, foreign])
    assert status_of(own) == Status.CANCELLED
    assert status_of(foreign) == Status.SCHEDULED
    assert notices(response) == ["1 message cancelled: it will not be sent."]
    # nor when it is the only one picked, nor through "select all"
    for extra in ({}, {"select_across": "1"}):
        cancel(merchant, [foreign], **extra)
        assert status_of(foreign) == Status.SCHEDULED
    assert merchant.get(reverse("admin:campaigns_scheduledmessage_change", args=[foreign.pk])).status_code == 404


def test_a_text_that_left_meanwhile_is_reported_not_cancelled(merchant, shop):
    first, second = waiting(shop), waiting(shop)
    Message.objects.filter(pk=second.pk).update(status=Status.SENT)  # a worker sent it after the page was drawn
    response = cancel(merchant, [first, second])
    assert status_of(first) == Status.CANCELLED and status_of(second) == Status.SENT
    assert notices(response) == [
        "1 message cancelled: it will not be sent.",
        "1 message was no longer waiting (it is being sent or was sent) and was not cancelled.",
    ]
    event = first.events.get(type=EventType.CANCELLED)
    assert event.user.get_username() == "anna"


def test_select_all_matching_cancels_every_page_and_nothing_else(merchant, shop, monkeypatch):
    monkeypatch.setattr(ScheduledMessageAdmin, "list_per_page", 2)
    promo = [waiting(shop, body=f"Black Friday -{n}0%") for n in range(1, 6)]
    other = waiting(shop, body="Your order is packed")
    foreign = waiting(make_shop(), body="Black Friday elsewhere")
    page = merchant.get(reverse(SCHEDULED), {"q": "black friday"})
    assert len(listed(page)) == 2 and page.context["cl"].result_count == 5
    assert "Select all 5" in page.content.decode()
    # The admin posts the ticked rows of the page, "select_across" and the search it came from.
    response = cancel(merchant, promo[:2], select_across="1", query="?q=black+friday")
    assert [status_of(message) for message in promo] == [Status.CANCELLED] * 5
    assert status_of(other) == Status.SCHEDULED and status_of(foreign) == Status.SCHEDULED
    assert notices(response) == ["5 messages cancelled: they will not be sent."]
    assert listed(merchant.get(reverse(SCHEDULED))) == {other.pk}


def test_a_queued_text_cancelled_is_never_delivered(merchant, shop, sms_outbox):
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="Leaving soon", kind=Kind.MANUAL,
                                      ring=False)
    assert outbox.messages_dispatch_due() == 1  # a worker's doorbell has rung for it
    assert status_of(message) == Status.QUEUED
    assert message.pk in listed(merchant.get(reverse(SCHEDULED)))
    cancel(merchant, [message])
    assert deliver([message.pk]) == {}  # the worker finds nothing to claim
    assert sms_outbox == []
    assert status_of(message) == Status.CANCELLED


def test_search_by_phone_as_typed_and_by_text(merchant, shop):
    polish = waiting(shop, recipient="+48600100200", body="Dzień dobry")
    american = waiting(shop, recipient="+12025550123", body="Your parcel ships tomorrow")
    for term, expected in (("600 100 200", {polish}), ("600-100-200", {polish}), ("+48 600100200", {polish}),
                           ("202555", {american}), ("parcel ships", {american}), ("dzień", {polish}),
                           ("777", set())):
        assert listed(merchant.get(reverse(SCHEDULED), {"q": term})) == {m.pk for m in expected}, term


def test_filter_by_type(merchant, shop):
    status_text = waiting(shop, kind=Kind.ORDER_STATUS)
    bulk = waiting(shop, kind=Kind.BULK)
    assert listed(merchant.get(reverse(SCHEDULED), {"kind": Kind.BULK})) == {bulk.pk}
    assert listed(merchant.get(reverse(SCHEDULED), {"kind": Kind.ORDER_STATUS})) == {status_text.pk}
    choices = [choice["display"] for choice in merchant.get(reverse(SCHEDULED)).context["cl"].filter_specs[0]
               .choices(merchant.get(reverse(SCHEDULED)).context["cl"])]
    assert "Bulk send" in choices and "Received" not in choices


@time_machine.travel(NOW, tick=False)
def test_filter_by_send_date_in_the_shops_days(client):
    shop = make_shop(time_zone="Pacific/Auckland")  # 22:00 on 20 November there: tomorrow starts in 2 hours
    client.force_login(make_merchant(shop))
    tonight = waiting(shop, send_at=NOW + dt.timedelta(hours=1))
    tomorrow = waiting(shop, send_at=NOW + dt.timedelta(hours=3))
    next_week = waiting(shop, send_at=NOW + dt.timedelta(days=5))
    later = waiting(shop, send_at=NOW + dt.timedelta(days=30))
    for value, expected in (("today", {tonight}), ("tomorrow", {tomorrow}),
                            ("week", {tonight, tomorrow, next_week}), ("later", {later})):
        assert listed(client.get(reverse(SCHEDULED), {"leaves": value})) == {m.pk for m in expected}, value
    # the date hierarchy drills down by the shop's days too
    day = client.get(reverse(SCHEDULED), {"send_at__year": 2026, "send_at__month": 11, "send_at__day": 21})
    assert listed(day) == {tomorrow.pk}


def test_send_date_reads_in_the_shops_time_zone(client):
    shop = make_shop(time_zone="Europe/Warsaw")
    client.force_login(make_merchant(shop))
    waiting(shop, send_at=dt.datetime(2026, 12, 24, 17, 30, tzinfo=dt.UTC))
    assert "18:30" in client.get(reverse(SCHEDULED)).content.decode()


def test_the_operator_sees_every_shop_with_its_name(client, shop):
    other = make_shop(name="Second Shop", time_zone="Asia/Tokyo")
    own, foreign = waiting(shop), waiting(other, send_at=dt.datetime(2026, 12, 24, 17, 30, tzinfo=dt.UTC))
    client.force_login(get_user_model().objects.create_superuser("operator", password="pw-operator-1"))
    response = client.get(reverse(SCHEDULED))
    assert listed(response) == {own.pk, foreign.pk}
    page = response.content.decode()
    assert "Second Shop" in page and "02:30" in page  # each row in its own shop's time


def test_the_lists_are_in_the_merchants_sidebar(merchant):
    index = merchant.get(reverse("admin:index")).content.decode()
    assert reverse(SCHEDULED) in index and reverse(ERRORS) in index


def test_cancel_without_picking_anything_changes_nothing(merchant, shop):
    message = waiting(shop)
    response = merchant.post(reverse(SCHEDULED), {"action": "cancel_selected"}, follow=True)
    assert response.status_code == 200
    assert status_of(message) == Status.SCHEDULED
    response = merchant.post(reverse(SCHEDULED), {"action": "cancel_selected", "_selected_action": ["x'1"]},
                             follow=True)
    assert response.status_code < 500 and status_of(message) == Status.SCHEDULED


# --- the error log -------------------------------------------------------------------------------


def failed(shop, **kwargs):
    return MessageFactory(shop=shop, **{"status": Status.FAILED, **kwargs})


def test_error_log_lists_what_did_not_reach_anyone(merchant, shop):
    refused = failed(shop, error_code="21211", error_text="Invalid 'To' phone number")
    undelivered = failed(shop, status=Status.UNDELIVERED, error_code="30003", error_text="Unreachable handset")
    unknown = failed(shop, status=Status.UNKNOWN, error_code="lease_expired")
    suppressed = failed(shop, status=Status.SUPPRESSED, error_code="21610")
    switched_off = failed(shop, status=Status.CANCELLED, error_code="sms_inactive")
    by_hand = waiting(shop)
    outbox.message_cancel(message=by_hand)  # the merchant's own decision: no error
    for status in (Status.SCHEDULED, Status.SENT, Status.DELIVERED):
        MessageFactory(shop=shop, status=status)
    failed(make_shop(), error_code="21211")
    response = merchant.get(reverse(ERRORS))
    assert listed(response) == {refused.pk, undelivered.pk, unknown.pk, suppressed.pk, switched_off.pk}
    page = response.content.decode()
    assert "21211" in page and "Invalid &#x27;To&#x27; phone number" in page
    assert "Not sent: SMS is switched off for this shop." in page  # our own reason, in words
    assert listed(merchant.get(reverse(ERRORS), {"status": Status.UNDELIVERED})) == {undelivered.pk}
    assert listed(merchant.get(reverse(ERRORS), {"q": "30003"})) == {undelivered.pk}


def test_error_log_links_each_text_to_where_it_came_from(merchant, shop):
    order = OrderFactory(shop=shop, number="1001")
    customer = CustomerFactory(shop=shop, first_name="Ola", last_name="Nowak")
    from_order = failed(shop, kind=Kind.ORDER_STATUS, order=order, customer=order.customer,
                        dedupe_key=f"order:{order.pk}:status:shipped")
    from_customer = failed(shop, kind=Kind.BULK, customer=customer, dedupe_key=f"bulk:k:customer:{customer.pk}")
    alert = failed(shop, kind=Kind.MERCHANT_ALERT, dedupe_key=f"low_balance:{shop.pk}:100")
    response = merchant.get(reverse(ERRORS))
    page = response.content.decode()
    order_url = reverse("admin:shop_order_change", args=[order.pk])
    customer_url = reverse("admin:shop_customer_change", args=[customer.pk])
    assert f'<a href="{order_url}">Order status · order #1001</a>' in page
    assert f'<a href="{customer_url}">Bulk send · Ola Nowak</a>' in page
    assert sources.message_source(alert) == sources.Source("Alert to the merchant", None)
    assert {from_order.pk, from_customer.pk, alert.pk} == listed(response)


def test_a_feature_can_place_its_texts_by_their_key(shop, monkeypatch):
    order = OrderFactory(shop=shop)
    message = failed(shop, kind=Kind.DATE_CAMPAIGN, order=order, dedupe_key="birthday:customer:9:2027")
    campaign = sources.Source("Birthday campaign", "/admin/campaigns/datecampaign/3/change/")
    monkeypatch.setitem(sources.SOURCE_FINDERS, "birthday:", lambda m: campaign)
    monkeypatch.setitem(sources.SOURCE_FINDERS, "birth", lambda m: None)
    assert sources.message_source(message) == campaign
    monkeypatch.setitem(sources.SOURCE_FINDERS, "birthday:", lambda m: None)  # cannot place it: the order can
    assert sources.message_source(message).url == reverse("admin:shop_order_change", args=[order.pk])


def test_a_polish_merchant_reads_polish(client):
    shop = make_shop(language="pl", country="PL", time_zone="Europe/Warsaw")
    client.force_login(make_merchant(shop))
    order = OrderFactory(shop=shop, number="77")
    message = waiting(shop, kind=Kind.ORDER_STATUS, order=order)
    message_transition(message.pk, from_statuses=[Status.SCHEDULED], status=Status.CANCELLED,
                       event=EventType.STOPPED, params={"reason": "sms_inactive"}, error_code="sms_inactive")
    page = client.get(reverse(ERRORS)).content.decode()
    assert "Nie wysłano: SMS są wyłączone w tym sklepie." in page
    assert "Not sent" not in page
    assert "Kod błędu" in page or "kod błędu" in page
    waiting(shop, kind=Kind.BULK)
    scheduled = client.get(reverse(SCHEDULED)).content.decode()
    assert "Wysyłka masowa" in scheduled and "Anuluj zaznaczone wiadomości" in scheduled


def test_a_providers_error_reads_in_the_shops_language_with_the_providers_words_beneath(client):
    shop = make_shop(language="pl", country="PL", time_zone="Europe/Warsaw")
    client.force_login(make_merchant(shop))
    opted_out = failed(shop, status=Status.SUPPRESSED, error_code="21610",
                       error_text="Attempt to send to unsubscribed recipient")
    odd = failed(shop, error_code="30999", error_text="Carrier said no")
    pages = {"list": client.get(reverse(ERRORS)).content.decode(),
             "message": client.get(reverse("admin:smsnotify_message_change", args=[opted_out.pk])).content.decode()}
    for name, page in pages.items():
        assert "Ten numer odpowiedział STOP Twojemu nadawcy" in page, name
        # the provider's own words stay for support, introduced in Polish and set apart
        assert ('<small class="provider-answer" style="color:var(--body-quiet-color)">Odpowiedź dostawcy: '
                "„Attempt to send to unsubscribed recipient” (21610)</small>") in page, name
    # a code we do not know: a Polish headline, the provider's words beneath it
    assert "Błąd zgłoszony przez dostawcę SMS<br>" in pages["list"]
    assert "„Carrier said no” (30999)" in pages["list"] and odd.pk in listed(client.get(reverse(ERRORS)))


def test_proxies_hold_exactly_their_statuses(shop):
    rows = {status: MessageFactory(shop=shop, status=status) for status in Status}
    manual = waiting(shop)
    outbox.message_cancel(message=manual)
    assert {m.status for m in ScheduledMessage.objects.all()} == {Status.SCHEDULED, Status.QUEUED}
    assert set(FailedMessage.objects.values_list("pk", flat=True)) == {
        rows[s].pk for s in (Status.FAILED, Status.UNDELIVERED, Status.UNKNOWN, Status.SUPPRESSED, Status.CANCELLED)}


@pytest.mark.parametrize("name", [SCHEDULED, ERRORS])
@pytest.mark.parametrize("query", [
    {"kind": "nonsense"}, {"leaves": "nonsense"}, {"status": "nonsense"}, {"send_at__year": "abc"},
    {"updated_at__year": "abc", "updated_at__month": "13"}, {"updated_at__gte": "not a date"}, {"q": "%_\\'"},
    {"o": "99"}, {"p": "9999"},
])
def test_bad_filters_are_no_error(merchant, shop, name, query):
    waiting(shop)
    failed(shop)
    response = merchant.get(reverse(name), query)
    assert response.status_code in (200, 302), (name, query, response.status_code)
