"""outbox.messages_schedule_many: a scan's chunk written with one INSERT, under message_schedule's rules."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from smsnotify.models import EventType, Kind, Lane, Message, SmsSettings, Status
from smsnotify.outbox import PreparedMessage, message_schedule, messages_schedule_many
from tests.factories import CustomerFactory, make_shop

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)


def _write(shop, *rows, kind=Kind.DATE_CAMPAIGN):
    with time_machine.travel(NOW, tick=False):
        return messages_schedule_many(shop=shop, kind=kind, rows=rows)


def test_rows_are_written_with_their_parts_links_and_an_event(shop):
    customer = CustomerFactory(shop=shop)
    later = NOW + dt.timedelta(hours=2)
    written = _write(shop, PreparedMessage(to="(202) 555-0123", body="Hello Zoe " * 20, dedupe_key="k:1",
                                           customer_id=customer.pk),
                     PreparedMessage(to="+12025550124", body="Hi", dedupe_key="k:2", send_at=later))
    assert set(written) == {"k:1", "k:2"}
    first, second = Message.objects.get(pk=written["k:1"]), Message.objects.get(pk=written["k:2"])
    assert (first.recipient, first.kind, first.customer, first.status) == (
        "+12025550123", Kind.DATE_CAMPAIGN, customer, Status.SCHEDULED)
    assert (first.encoding, first.segments) == ("GSM-7", 2)
    assert (first.send_at, second.send_at) == (NOW, later)
    assert [(e.type, e.parameters) for e in first.events.all()] == [(EventType.SCHEDULED, {})]
    assert second.events.get().parameters == {"send_at": later.isoformat()}


def test_a_key_already_taken_is_left_alone_and_not_reported(shop):
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        earlier = message_schedule(shop=shop, to="+12025550123", body="Earlier", kind=Kind.DATE_CAMPAIGN,
                                   dedupe_key="k:1", ring=False)
    written = _write(shop, PreparedMessage(to="+12025550123", body="Again", dedupe_key="k:1"),
                     PreparedMessage(to="+12025550123", body="New", dedupe_key="k:2"),
                     PreparedMessage(to="+12025550123", body="Same key twice", dedupe_key="k:2"))
    assert list(written) == ["k:2"]
    assert Message.objects.get(pk=earlier.pk).body == "Earlier"
    assert Message.objects.get(pk=written["k:2"]).body == "New"
    assert Message.objects.count() == 2
    assert _write(shop, PreparedMessage(to="+12025550123", body="New", dedupe_key="k:2")) == {}


def test_the_same_key_in_another_shop_is_another_text(shop):
    other = make_shop()
    _write(shop, PreparedMessage(to="+12025550123", body="A", dedupe_key="k:1"))
    assert list(_write(other, PreparedMessage(to="+12025550123", body="B", dedupe_key="k:1"))) == ["k:1"]


def test_invalid_numbers_and_empty_texts_are_skipped(shop, caplog):
    written = _write(shop, PreparedMessage(to="12", body="Hi", dedupe_key="bad"),
                     PreparedMessage(to="", body="Hi", dedupe_key="none"),
                     PreparedMessage(to="+12025550123", body="  ", dedupe_key="empty"),
                     PreparedMessage(to="+12025550123", body="Hi", dedupe_key="good"))
    assert list(written) == ["good"]
    assert "Invalid phone '12' for bad" in caplog.text


def test_sms_switched_off_writes_cancelled_rows(shop):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    written = _write(shop, PreparedMessage(to="+12025550123", body="Hi", dedupe_key="k:1"))
    message = Message.objects.get(pk=written["k:1"])
    assert (message.status, message.error_code, message.error_text) == (
        Status.CANCELLED, "sms_inactive", "SMS is switched off for this shop.")
    assert [(e.type, e.status, e.parameters) for e in message.events.all()] == [
        (EventType.STOPPED, Status.CANCELLED, {"reason": "sms_inactive"})]
    SmsSettings.objects.filter(shop=shop).update(active=True)
    written = _write(shop, PreparedMessage(to="+12025550123", body="Hi", dedupe_key="k:2"))
    assert Message.objects.filter(pk=written["k:2"]).values_list("error_code", "error_text").get() == ("", "")


def test_the_shops_replace_special_characters_applies(shop):
    SmsSettings.objects.filter(shop=shop).update(replace_special_characters=True)
    written = _write(shop, PreparedMessage(to="+12025550123", body="Zażółć gęślą jaźń", dedupe_key="k:1"))
    message = Message.objects.get(pk=written["k:1"])
    assert (message.body, message.encoding) == ("Zazolc gesla jazn", "GSM-7")


def test_nothing_is_rung_the_dispatch_takes_them(shop, sms_outbox, on_commit):
    with on_commit():
        messages_schedule_many(shop=shop, kind=Kind.DATE_CAMPAIGN,
                               rows=[PreparedMessage(to="+12025550123", body="Hi", dedupe_key="k:1",
                                                     send_at=timezone.now())])
    assert not sms_outbox
    assert Message.objects.get().status == Status.SCHEDULED


def test_nothing_to_write_makes_no_query(shop, django_assert_num_queries):
    with django_assert_num_queries(1):  # the shop's SMS settings
        assert messages_schedule_many(shop=shop, kind=Kind.DATE_CAMPAIGN, rows=[]) == {}


def test_a_bulk_chunk_carries_its_batch_its_lane_and_who_wrote_it(shop, admin_user, on_commit):
    later = NOW + dt.timedelta(hours=3)
    with mock.patch("smsnotify.outbox._ring") as ring, on_commit(), time_machine.travel(NOW, tick=False):
        written = messages_schedule_many(
            shop=shop, kind=Kind.BULK_SERVICE, batch_ref="bulk:1", user=admin_user, numbers_checked=True, ring=True,
            rows=[PreparedMessage(to="+12025550101", body="Now", dedupe_key="bulk:1:customer:1"),
                  PreparedMessage(to="+12025550102", body="Later", dedupe_key="bulk:1:customer:2", send_at=later)])
    now, due_later = Message.objects.get(pk=written["bulk:1:customer:1"]), Message.objects.get(
        pk=written["bulk:1:customer:2"])
    assert {now.batch_ref, due_later.batch_ref} == {"bulk:1"}
    assert (now.lane, now.kind) == (Lane.SERVICE, Kind.BULK_SERVICE)
    event = now.events.get()
    assert (event.user, event.parameters) == (admin_user, {"user": admin_user.get_username()})
    assert due_later.events.get().parameters == {"send_at": later.isoformat(), "user": admin_user.get_username()}
    ring.assert_called_once_with([now.pk], Lane.SERVICE)  # only the one due now is rung


def test_checked_numbers_in_e164_are_taken_as_they_are_others_are_still_read(shop):
    rows = [PreparedMessage(to="+1202555010", body="Hi", dedupe_key="e164"),
            PreparedMessage(to="(202) 555-0102", body="Hi", dedupe_key="national"),
            PreparedMessage(to="12", body="Hi", dedupe_key="bad")]
    with time_machine.travel(NOW, tick=False):
        checked = messages_schedule_many(shop=shop, kind=Kind.BULK, rows=rows, numbers_checked=True)
        unchecked = messages_schedule_many(shop=make_shop(), kind=Kind.BULK, rows=rows)
    assert Message.objects.get(pk=checked["national"]).recipient == "+12025550102"
    assert set(checked) == {"e164", "national"}
    # +1 202 555 010 (a digit short) is no valid number: only a caller that checked its numbers skips that check
    assert set(unchecked) == {"national"}


def test_on_postgresql_rows_events_and_links_go_to_the_array_statements(shop, admin_user, monkeypatch):
    """pg_outbox's statements are checked on PostgreSQL (CI); here, that the outbox hands them
    what the ORM path would write: each row's values, what all rows share, events and links."""
    from django.db import connection

    from smsnotify import pg_outbox

    calls = []
    monkeypatch.setattr(pg_outbox, "messages_insert",
                        lambda prepared, common: calls.append(("messages", prepared, common)) or {"k:1": 41, "k:2": 42})
    monkeypatch.setattr(pg_outbox, "events_insert", lambda events, **kwargs: calls.append(("events", events, kwargs)))
    monkeypatch.setattr(pg_outbox, "links_insert", lambda shop_id, links, **kwargs: calls.append(
        ("links", shop_id, [(pk, url) for pk, _code, url in links], kwargs)))
    monkeypatch.setattr(connection, "vendor", "postgresql")
    customer = CustomerFactory(shop=shop)
    later = NOW + dt.timedelta(hours=2)
    url = "https://www.acme-outdoor-equipment.example.com/collections/winter-sale/tents?utm_source=sms"
    with time_machine.travel(NOW, tick=False):
        messages_schedule_many(shop=shop, kind=Kind.BULK, batch_ref="bulk:7", user=admin_user, rows=[
            PreparedMessage(to="(202) 555-0123", body="Hi", dedupe_key="k:1", customer_id=customer.pk),
            PreparedMessage(to="+12025550124", body=f"Sale: {url}", dedupe_key="k:2", send_at=later)])
    (_, prepared, common), (_, events, event_kwargs), (_, shop_id, links, link_kwargs) = calls
    short_body = prepared["k:2"][1]
    assert short_body.startswith("Sale: https://s.example.com/") and len(short_body) == len("Sale: https://s.example.com/") + 10
    assert prepared == {"k:1": ("+12025550123", "Hi", "GSM-7", 1, NOW, customer.pk, None, None, None),
                        "k:2": ("+12025550124", short_body, "GSM-7", 1, later, None, None, None, None)}
    assert common == {"shop_id": shop.pk, "kind": Kind.BULK, "lane": Lane.MARKETING, "batch_ref": "bulk:7",
                      "status": Status.SCHEDULED, "error_code": "", "error_text": "", "created_at": NOW,
                      "updated_at": NOW}
    user = admin_user.get_username()
    assert events == [(41, {"user": user}), (42, {"send_at": later.isoformat(), "user": user})]
    assert event_kwargs == {"type": EventType.SCHEDULED, "status": Status.SCHEDULED, "user": admin_user,
                            "created_at": NOW}
    assert (shop_id, links, link_kwargs) == (shop.pk, [(42, url)], {"created_at": NOW})
    assert not Message.objects.exists()  # the array statements wrote them: the ORM's wrote nothing


def test_on_postgresql_one_message_and_its_links_go_to_the_array_statement(shop, monkeypatch):
    from django.db import connection

    from smsnotify import pg_outbox

    calls = []
    monkeypatch.setattr(pg_outbox, "links_insert", lambda shop_id, links, **kwargs: calls.append(
        (shop_id, [(pk, url) for pk, _code, url in links], kwargs)))
    monkeypatch.setattr(connection, "vendor", "postgresql")
    url = "https://www.acme-outdoor-equipment.example.com/collections/winter-sale/tents?utm_source=sms"
    with time_machine.travel(NOW, tick=False):
        message = message_schedule(shop=shop, to="+12025550124", body=f"Sale: {url}", kind=Kind.MANUAL, ring=False)
    assert calls == [(shop.pk, [(message.pk, url)], {"created_at": NOW})]


def test_a_message_and_its_first_event_share_their_moment(shop):
    """Unfrozen time: the history's first line is the message's creation, not a moment later."""
    written = messages_schedule_many(shop=shop, kind=Kind.BULK, rows=[
        PreparedMessage(to="+12025550123", body="Hi", dedupe_key="k:1")])
    alone = message_schedule(shop=shop, to="+12025550123", body="Hi", kind=Kind.MANUAL, ring=False)
    for message in (Message.objects.get(pk=written["k:1"]), alone):
        assert message.events.get().created_at == message.created_at


def test_a_key_a_concurrent_writer_takes_meanwhile_is_skipped_not_an_error(shop, monkeypatch):
    """Between this call's read of the keys taken and its INSERT, another worker writes one of them."""
    from smsnotify import pg_outbox

    def another_writer_first(insert):
        def write(*args, **kwargs):
            Message.objects.create(shop=shop, kind=Kind.BULK, recipient="+12025550124", body="Theirs",
                                   dedupe_key="k:2", created_at=NOW + dt.timedelta(microseconds=1))  # its own moment
            return insert(*args, **kwargs)
        return write

    # the INSERT of whichever path the database takes (the ORM's, or PostgreSQL's array statement)
    monkeypatch.setattr(Message.objects, "bulk_create", another_writer_first(Message.objects.bulk_create))
    monkeypatch.setattr(pg_outbox, "messages_insert", another_writer_first(pg_outbox.messages_insert))
    written = _write(shop, PreparedMessage(to="+12025550123", body="Mine", dedupe_key="k:1"),
                     PreparedMessage(to="+12025550124", body="Mine too", dedupe_key="k:2"))
    assert list(written) == ["k:1"]
    assert dict(Message.objects.values_list("dedupe_key", "body")) == {"k:1": "Mine", "k:2": "Theirs"}

