"""smsnotify/outbox.py, messages_schedule_many: many automatic texts written at once, by the
rules of message_schedule (one recipient format, dedupe per shop, SMS off, one doorbell)."""

from unittest import mock

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from smsnotify import outbox
from smsnotify.models import EventType, Kind, Message, SmsSettings, Status
from tests.factories import CartFactory, CustomerFactory, OrderFactory, ProductFactory, make_shop
from tests.smsnotify.helpers import history, schedule

pytestmark = pytest.mark.django_db

Outgoing = outbox.Outgoing


def many(shop, texts, kind=Kind.BACK_IN_STOCK):
    return outbox.messages_schedule_many(shop=shop, kind=kind, texts=texts)


def test_writes_each_text_with_its_history_and_links(shop):
    customer, product = CustomerFactory(shop=shop), ProductFactory(shop=shop)
    written = many(shop, [
        Outgoing(to="(202) 555-0101", body="Hello Ada", dedupe_key="k:1", customer=customer, product=product),
        Outgoing(to="+48601234567", body="Zażółć gęślą jaźń", dedupe_key="k:2"),
    ])
    first, second = (Message.objects.get(pk=m.pk) for m in written)
    assert (first.recipient, first.body, first.kind, first.status) == (
        "+12025550101", "Hello Ada", Kind.BACK_IN_STOCK, Status.SCHEDULED)
    assert (first.customer, first.product, first.dedupe_key, first.shop) == (customer, product, "k:1", shop)
    assert (first.encoding, first.segments, second.encoding) == ("GSM-7", 1, "UCS-2")
    (long,) = many(shop, [Outgoing(to="+12025550103", body="Zażółć gęślą jaźń " * 5, dedupe_key="k:3")])
    assert (long.encoding, long.segments) == ("UCS-2", 2)  # counted as message_schedule counts
    assert first.send_at == first.created_at
    assert (first.error_code, first.error_text) == ("", "")
    assert history(first) == history(second) == [Status.SCHEDULED]
    event = first.events.get()
    assert (event.type, event.created_at) == (EventType.SCHEDULED, first.created_at)  # one moment, as one write


def test_texts_leave_on_commit_with_one_doorbell(shop, sms_outbox, on_commit):
    with mock.patch("smsnotify.outbox._ring", wraps=outbox._ring) as ring:
        with on_commit():
            written = many(shop, [Outgoing(to=f"+1202555010{n}", body=f"Hi {n}", dedupe_key=f"k:{n}")
                                  for n in range(3)])
    ring.assert_called_once_with([m.pk for m in written])
    assert sorted(sms.body for sms in sms_outbox) == ["Hi 0", "Hi 1", "Hi 2"]


def test_a_key_already_taken_returns_that_message_and_a_never_reached_one_is_retried(shop):
    reached = schedule(shop, to="+12025550101", body="first", dedupe_key="k:1")
    SmsSettings.objects.filter(shop=shop).update(active=False)
    cancelled = schedule(shop, to="+12025550102", body="first", dedupe_key="k:2")
    SmsSettings.objects.filter(shop=shop).update(active=True)
    with mock.patch("smsnotify.outbox.message_schedule", side_effect=AssertionError("not one by one")):
        written = many(shop, [Outgoing(to="+12025550101", body="again", dedupe_key="k:1"),
                              Outgoing(to="+12025550102", body="again", dedupe_key="k:2")])
    assert written[0].pk == reached.pk and Message.objects.get(pk=reached.pk).body == "first"
    assert written[1].pk != cancelled.pk and written[1].status == Status.SCHEDULED
    cancelled.refresh_from_db()
    assert cancelled.dedupe_key is None and cancelled.status == Status.CANCELLED  # keeps its history
    assert Message.objects.get(dedupe_key="k:2").pk == written[1].pk


def test_keys_are_per_shop(shop):
    schedule(make_shop(), dedupe_key="k:1")
    (message,) = many(shop, [Outgoing(to="+12025550101", body="hi", dedupe_key="k:1")])
    assert message.shop == shop and Message.objects.count() == 2


def test_with_sms_off_they_are_cancelled_with_the_reason(shop, sms_outbox, on_commit):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with mock.patch("smsnotify.outbox._ring") as ring, on_commit():
        (message,) = many(shop, [Outgoing(to="+12025550101", body="hi", dedupe_key="k:1")])
    ring.assert_not_called()
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_text) == (
        Status.CANCELLED, "sms_inactive", "SMS is switched off for this shop.")
    event = message.events.get()
    assert (event.type, event.status, event.parameters) == (EventType.STOPPED, Status.CANCELLED,
                                                            {"reason": "sms_inactive"})
    assert sms_outbox == []


def test_a_bad_recipient_or_an_empty_body_is_skipped_and_the_others_written(shop, caplog):
    written = many(shop, [Outgoing(to="12345", body="hi", dedupe_key="k:1"),
                          Outgoing(to="+12025550101", body="  ", dedupe_key="k:2"),
                          Outgoing(to="+12025550102", body="hi", dedupe_key="k:3")])
    assert written[:2] == [None, None] and written[2].recipient == "+12025550102"
    assert Message.objects.count() == 1
    assert [r.getMessage() for r in caplog.records if r.name == "smsnotify.outbox"] == [
        "Invalid phone '12345' for k:1; no SMS scheduled.", "Empty text for k:2; no SMS scheduled."]


def test_the_shops_special_characters_option_applies(shop):
    SmsSettings.objects.filter(shop=shop).update(replace_special_characters=True)
    (message,) = many(shop, [Outgoing(to="+12025550101", body="Zażółć", dedupe_key="k:1")])
    assert (message.body, message.encoding) == ("Zazolc", "GSM-7")


def test_a_polish_shop_reads_national_numbers_in_poland(db):
    (message,) = many(make_shop(country="PL"), [Outgoing(to="601 234 567", body="hi", dedupe_key="k:1")])
    assert message.recipient == "+48601234567"


@pytest.mark.parametrize("keys", [["k:1", "k:1"], ["k:1", ""]])
def test_each_text_needs_its_own_key(shop, keys):
    with pytest.raises(ValueError, match="^Each text of a batch needs its own dedupe key.$"):
        many(shop, [Outgoing(to="+12025550101", body="hi", dedupe_key=key) for key in keys])
    assert not Message.objects.exists()


def test_nothing_to_write_writes_nothing(shop):
    assert many(shop, []) == []
    assert many(shop, [Outgoing(to="bad", body="hi", dedupe_key="k:1")]) == [None]


def test_the_cost_does_not_grow_with_the_number_of_texts(shop):
    def queries_for(count, offset):
        texts = [Outgoing(to=f"+1202555{offset + n:04d}", body="hi", dedupe_key=f"k:{offset + n}")
                 for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            many(shop, texts)
        return len(queries)

    # (SQLite caps an INSERT at 999 parameters: Django splits larger batches, still a few per thousand)
    assert queries_for(2, 0) == queries_for(30, 100)
    assert Message.objects.count() == 32


def test_a_key_taken_by_a_concurrent_writer_falls_back_to_one_by_one(shop):
    links = dict(customer=CustomerFactory(shop=shop), order=OrderFactory(shop=shop), cart=CartFactory(shop=shop),
                 product=ProductFactory(shop=shop))
    texts = [Outgoing(to="+12025550101", body="hi", dedupe_key="k:1", **links),
             Outgoing(to="+12025550102", body="hi", dedupe_key="k:2")]
    with mock.patch.object(Message.objects, "bulk_create", side_effect=IntegrityError("taken")):
        written = many(shop, texts)
    assert [m.recipient for m in written] == ["+12025550101", "+12025550102"]
    assert all(m.pk and m.status == Status.SCHEDULED and m.kind == Kind.BACK_IN_STOCK for m in written)
    first = Message.objects.get(pk=written[0].pk)
    assert (first.dedupe_key, first.customer, first.order, first.cart, first.product) == (
        "k:1", links["customer"], links["order"], links["cart"], links["product"])
    assert Message.objects.get(pk=written[1].pk).dedupe_key == "k:2"
    assert history(written[0]) == [Status.SCHEDULED]


def test_a_rerun_of_the_same_batch_is_one_read_and_writes_nothing(shop):
    texts = [Outgoing(to=f"+1202555010{n}", body="hi", dedupe_key=f"k:{n}") for n in range(3)]
    first = many(shop, texts)
    with mock.patch("smsnotify.outbox.message_schedule") as one_by_one, \
            CaptureQueriesContext(connection) as queries:
        again = many(shop, texts)
    one_by_one.assert_not_called()
    assert [m.pk for m in again] == [m.pk for m in first]
    assert not [q for q in queries if q["sql"].startswith(("INSERT", "UPDATE"))]
    assert Message.objects.count() == 3


def test_only_the_batchs_own_keys_are_read(shop):
    for n in range(5):
        schedule(shop, to="+12025550109", dedupe_key=f"other:{n}")
    with CaptureQueriesContext(connection) as queries:
        many(shop, [Outgoing(to="+12025550101", body="hi", dedupe_key="k:1")])
    (read,) = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and '"smsnotify_message"' in q["sql"]
               and "dedupe_key" in q["sql"]]
    assert '"dedupe_key" IN (' in read  # a shop's whole history is never loaded to find a few keys


def test_a_text_keeps_its_order_and_cart(shop):
    order, cart = OrderFactory(shop=shop), CartFactory(shop=shop)
    (message,) = many(shop, [Outgoing(to="+12025550101", body="hi", dedupe_key="k:1", order=order, cart=cart)])
    message = Message.objects.get(pk=message.pk)
    assert (message.order, message.cart, message.customer, message.product) == (order, cart, None, None)
