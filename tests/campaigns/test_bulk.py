"""Bulk sends (campaigns/bulk.py): the plan, the confirmation with its hold, the fan-out in
chunks, progress, finishing and cancelling."""

import datetime as dt
import threading
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from campaigns import bulk
from campaigns.models import BulkRecipient, BulkSend, OptOut
from campaigns.sending import SendBlocked, send_key_new
from credits.estimate import sms_estimate
from credits.models import CreditHold, EntryKind, LedgerEntry
from credits.selectors import credit_balance
from shop.models import Customer, MarketingConsent, Order
from smsnotify.delivery import messages_deliver
from smsnotify.models import EventType, Kind, Lane, Message, SmsSettings, Status
from smsnotify.transitions import message_transition
from tests.campaigns.conftest import consenting, customers_of
from tests.credits.helpers import assert_consistent
from tests.factories import CustomerFactory, OrderFactory, fund, make_shop

pytestmark = pytest.mark.django_db


def create(shop, body="Sale", selection=None, **kwargs):
    return bulk.bulk_send_create(shop=shop, selection=customers_of(shop) if selection is None else selection,
                                 body=body, send_key=send_key_new(), **kwargs)


def test_the_plan_leaves_out_and_says_why(funded):
    ok = consenting(funded)
    consenting(funded, phone=ok.phone)  # same number twice
    CustomerFactory(shop=funded)  # never asked
    consenting(funded, phone="")
    stopped = consenting(funded)
    OptOut.objects.create(shop=funded, phone=str(stopped.phone))
    plan = bulk.bulk_plan(shop=funded, selection=customers_of(funded), body="Sale: -20% today")
    assert plan.count == 1 and plan.credits == 12
    assert plan.excluded == {"duplicate": 1, "no_consent": 1, "invalid_number": 1, "opted_out": 1}
    assert [p.number for p in plan.previews] == [str(ok.phone)]
    service = bulk.bulk_plan(shop=funded, selection=customers_of(funded), body="Shop closed today",
                             purpose=BulkSend.Purpose.SERVICE)
    assert service.count == 2  # consent does not matter for a service text; opt-outs do
    assert service.excluded == {"duplicate": 1, "invalid_number": 1, "opted_out": 1}


def test_the_plan_prices_each_rendered_text_to_its_number(funded):
    consenting(funded, first_name="Al")
    consenting(funded, first_name="Łucja")  # one Polish letter turns her text into UCS-2: 2 parts
    consenting(funded, first_name="Zed", phone="+48601234567")
    body = "Hi {firstname}! " + "x" * 65
    plan = bulk.bulk_plan(shop=funded, selection=customers_of(funded), body=body)
    assert plan.credits == 12 + 24 + 30 and plan.segments == 2
    assert plan.previews[1].text == "Hi Łucja! " + "x" * 65
    assert plan.previews[2].credits == sms_estimate(shop=funded, text="Hi Zed! " + "x" * 65,
                                                    recipient="+48601234567").credits


@pytest.mark.usefixtures("daytime")
def test_confirming_holds_the_credits_and_fans_out(funded, sms_outbox, on_commit):
    ann, bob = consenting(funded, first_name="Ann"), consenting(funded, first_name="Bob")
    with on_commit():
        sent = create(funded, body="Hi [[firstname]], -20% today")
    sent.refresh_from_db()  # the delivery run that sent the last one finished it
    assert (sent.status, sent.recipients, sent.credits_held) == (BulkSend.State.FINISHED, 2, 24)
    assert {sms.to: sms.body for sms in sms_outbox} == {
        str(ann.phone): "Hi Ann, -20% today", str(bob.phone): "Hi Bob, -20% today"}
    messages = Message.objects.filter(batch_ref=sent.batch_ref)
    assert {(m.kind, m.lane, m.dedupe_key) for m in messages} == {
        (Kind.BULK, Lane.MARKETING, f"bulk:{sent.pk}:customer:{c.pk}") for c in (ann, bob)}
    assert credit_balance(funded) == 1000 - 24
    assert list(LedgerEntry.objects.filter(shop=funded).order_by("pk").values_list("kind", "amount")) == [
        ("bonus", 1000), ("hold", -24), ("charge", 0), ("charge", 0)]  # nothing left to release
    assert CreditHold.objects.get(reference=sent.batch_ref).status == CreditHold.Status.CLOSED
    assert_consistent(funded)


def test_a_service_send_goes_in_the_service_lane(funded, on_commit):
    CustomerFactory(shop=funded)  # no consent: a service text still reaches them
    with on_commit():
        sent = create(funded, body="We are closed on Monday", purpose=BulkSend.Purpose.SERVICE)
    message = Message.objects.get(batch_ref=sent.batch_ref)
    assert (message.kind, message.lane) == (Kind.BULK_SERVICE, Lane.SERVICE)


def test_a_double_click_makes_one_bulk_send(funded, on_commit):
    consenting(funded)
    key = send_key_new()
    with on_commit():
        first = bulk.bulk_send_create(shop=funded, selection=customers_of(funded), body="Sale", send_key=key)
        again = bulk.bulk_send_create(shop=funded, selection=customers_of(funded), body="Sale", send_key=key)
    assert first.pk == again.pk
    assert Message.objects.count() == 1 and credit_balance(funded) == 1000 - 12


def test_a_send_the_balance_cannot_cover_writes_nothing(db):
    shop = make_shop()
    fund(shop, 20)
    consenting(shop), consenting(shop)
    with pytest.raises(SendBlocked) as excinfo:
        create(shop)
    assert "24" in str(excinfo.value)
    assert not BulkSend.objects.exists() and not BulkRecipient.objects.exists() and not Message.objects.exists()
    assert not CreditHold.objects.exists() and credit_balance(shop) == 20


def test_a_text_longer_than_the_shop_allows_for_anyone_is_refused(funded):
    SmsSettings.objects.filter(shop=funded).update(max_segments=2)
    consenting(funded, first_name="Al")
    consenting(funded, first_name="Łucja")  # her text is UCS-2: 3 parts
    body = "Hi {firstname}! " + "x" * 150
    with pytest.raises(ValidationError) as excinfo:
        create(funded, body=body)
    assert "allows 2 parts" in excinfo.value.message_dict["body"][0]
    assert not BulkSend.objects.exists()


@pytest.mark.parametrize("body", ["Hi {order_id}", "  ", "Hi {frstname}"])
def test_a_bad_text_is_refused(funded, body):
    consenting(funded)
    with pytest.raises(ValidationError):
        create(funded, body=body)
    assert not BulkSend.objects.exists()


def test_nobody_to_text_is_refused(funded):
    CustomerFactory(shop=funded)  # no consent
    with pytest.raises(ValidationError):
        create(funded)
    assert not BulkSend.objects.exists()


def test_another_shops_customers_are_never_reached(funded, on_commit):
    consenting(make_shop())
    mine = consenting(funded)
    with on_commit():
        sent = create(funded, selection=Customer.objects.all())
    assert list(Message.objects.values_list("customer", flat=True)) == [mine.pk]
    assert sent.recipients == 1


def test_from_orders_each_number_once_with_order_tokens(funded, on_commit):
    customer = consenting(funded)
    first = OrderFactory(shop=funded, customer=customer, phone=customer.phone)
    OrderFactory(shop=funded, customer=customer, phone=customer.phone)  # same number
    with on_commit():
        sent = create(funded, body="Order {order_id}: 10% off your next one", selection=Order.objects.all())
    assert sent.source == BulkSend.Source.ORDERS and sent.excluded == {"duplicate": 1}
    message = Message.objects.get(batch_ref=sent.batch_ref)
    assert (message.order_id, message.customer_id) == (first.pk, customer.pk)
    assert str(first.number) in message.body


def test_a_later_send_time_writes_the_messages_due_then(funded, on_commit, sms_outbox):
    consenting(funded)
    later = timezone.now() + timezone.timedelta(days=2)
    with on_commit():
        sent = create(funded, send_at=later)
    message = Message.objects.get(batch_ref=sent.batch_ref)
    assert (message.status, message.send_at) == (Status.SCHEDULED, later)
    sent.refresh_from_db()
    assert sms_outbox == [] and sent.status == BulkSend.State.SENDING


def test_the_fan_out_writes_in_chunks_and_a_rerun_writes_nothing_twice(funded, on_commit):
    for _ in range(7):
        consenting(funded)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"):  # not yet
        with on_commit():
            sent = create(funded, body="Sale")
    with mock.patch("smsnotify.outbox.messages_ring") as ring:
        assert bulk._fan_out_range(sent, *bulk._next_ranges(sent, 0, 3, 1)[0])
        assert Message.objects.count() == 3
        BulkSend.objects.filter(pk=sent.pk).update(cursor=0)  # a crash before the cursor moved
        bulk.bulk_fan_out(bulk_id=sent.pk, chunk=3)
    assert Message.objects.filter(batch_ref=sent.batch_ref).count() == 7
    assert sum(len(call.kwargs["message_ids"]) for call in ring.call_args_list) == 7  # each rung once
    sent.refresh_from_db()
    assert sent.status == BulkSend.State.SENDING


def _ten_thousand(shop):
    """10,000 selected customers: 9,000 reachable; left out 400 without consent, 300 opted out,
    200 without a valid number, 100 sharing a number."""
    rows = []
    for i in range(10_000):
        consent = MarketingConsent.UNKNOWN if i % 25 == 1 else MarketingConsent.GRANTED  # 400
        phone = f"+1202{5550000 + i:07d}"
        if i % 50 == 2:
            phone = "12"  # 200 invalid
        elif i % 100 == 3:
            phone = "+12025550000"  # 100 share customer 0's number
        rows.append(Customer(shop=shop, first_name=f"C{i}", last_name="X", phone=phone, marketing_consent=consent))
    Customer.objects.bulk_create(rows, batch_size=2000)
    OptOut.objects.bulk_create([OptOut(shop=shop, phone=f"+1202{5550000 + i:07d}")
                                for i in range(10_000) if i % 50 == 4 or i % 50 == 29][:300])


def test_bulk_to_ten_thousand_customers(db, on_commit, settings):
    settings.SMS_DISPATCH_BATCH = 1000
    shop = make_shop(credits=200_000)
    _ten_thousand(shop)
    plan = bulk.bulk_plan(shop=shop, selection=customers_of(shop), body="Hi {firstname}, -20% today")
    assert plan.excluded == {"no_consent": 400, "opted_out": 200 - 0 + 100, "invalid_number": 200, "duplicate": 100}
    assert plan.count == 9_000 and plan.credits == 9_000 * 12
    with mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, on_commit():
        sent = create(shop, body="Hi {firstname}, -20% today")
    assert (sent.recipients, sent.credits_held, sent.excluded) == (9_000, 108_000, plan.excluded)
    assert credit_balance(shop) == 200_000 - 108_000
    assert Message.objects.filter(batch_ref=sent.batch_ref, status=Status.SCHEDULED).count() == 9_000
    assert sum(len(call.args[0][0]) for call in enqueue.call_args_list) == 9_000
    progress = bulk.bulk_progress(bulk=sent)
    assert (progress.written, progress.waiting, progress.percent) == (9_000, 9_000, 0)
    # deliver half: paid from the hold, the balance does not move
    half = list(Message.objects.filter(batch_ref=sent.batch_ref).order_by("pk").values_list("pk", flat=True)[:4_500])
    with mock.patch("campaigns.policies.QuietHours.before_send", return_value={}):
        for start in range(0, 4_500, 1_500):
            messages_deliver(message_ids=half[start:start + 1_500])
    assert credit_balance(shop) == 92_000
    assert CreditHold.objects.get(reference=sent.batch_ref).used == 4_500 * 12
    # cancel midway: nothing unsent leaves, the rest of the hold comes back in one row
    assert bulk.bulk_send_cancel(bulk=sent) == 4_500
    progress = bulk.bulk_progress(bulk=sent)
    assert (progress.sent, progress.cancelled, progress.waiting, progress.percent) == (4_500, 4_500, 0, 100)
    assert credit_balance(shop) == 200_000 - 4_500 * 12
    assert LedgerEntry.objects.filter(shop=shop, kind=EntryKind.RELEASE).get().amount == 4_500 * 12
    rest = list(Message.objects.filter(batch_ref=sent.batch_ref, status=Status.CANCELLED).values_list("pk", flat=True))
    assert messages_deliver(message_ids=rest) == {}  # nothing cancelled leaves
    assert bulk.bulk_send_cancel(bulk=sent) == 0  # once
    assert_consistent(shop)
    call_command("audit_credits")


def test_cancel_stops_the_fan_out_between_chunks(funded, on_commit):
    for _ in range(5):
        consenting(funded)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"), on_commit():
        sent = create(funded)
    assert bulk._fan_out_range(sent, *bulk._next_ranges(sent, 0, 2, 1)[0])
    assert bulk.bulk_send_cancel(bulk=sent) == 2
    bulk.bulk_fan_out(bulk_id=sent.pk, chunk=2)  # the task's next run: writes nothing more
    assert Message.objects.filter(batch_ref=sent.batch_ref).count() == 2
    assert credit_balance(funded) == 1000
    assert_consistent(funded)


def test_finishing_waits_for_the_last_message_and_releases_the_rest(funded, on_commit):
    consenting(funded)
    stopped = consenting(funded)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"), on_commit():
        sent = create(funded)
    with mock.patch("smsnotify.outbox.messages_ring"):
        bulk.bulk_fan_out(bulk_id=sent.pk)
    sent.refresh_from_db()
    assert sent.status == BulkSend.State.SENDING and bulk.bulk_sends_finish() == 0
    OptOut.objects.create(shop=funded, phone=str(stopped.phone))  # opted out meanwhile: suppressed, not paid
    first, last = Message.objects.order_by("pk")
    with mock.patch("campaigns.policies.QuietHours.before_send", return_value={}):
        messages_deliver(message_ids=[first.pk])
        sent.refresh_from_db()
        assert sent.status == BulkSend.State.SENDING  # one is still waiting
        messages_deliver(message_ids=[last.pk])
    sent.refresh_from_db()  # the run that sent the last one finished it: no sweep needed
    assert sent.status == BulkSend.State.FINISHED and bulk.bulk_sends_finish() == 0
    progress = bulk.bulk_progress(bulk=sent)
    assert (progress.sent, progress.suppressed, progress.percent) == (1, 1, 100)
    assert credit_balance(funded) == 1000 - 12
    assert_consistent(funded)


def test_a_fan_out_the_broker_lost_is_enqueued_again_by_beats_sweep(funded, on_commit):
    from campaigns import tasks

    consenting(funded)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"), on_commit():  # the broker lost it
        sent = create(funded)
    assert bulk.bulk_sends_stalled() == []  # just confirmed: its task may be on its way
    BulkSend.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=5))
    with mock.patch("smsnotify.outbox.messages_ring"):
        tasks.bulk_sends_finish()
    assert Message.objects.filter(batch_ref=sent.batch_ref).count() == 1


def test_the_ledger_speaks_the_shops_language(db, on_commit):
    shop = make_shop(language="pl", credits=100)
    consenting(shop)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"), on_commit():
        sent = create(shop)
    bulk.bulk_send_cancel(bulk=sent)
    reasons = list(LedgerEntry.objects.filter(shop=shop, hold__isnull=False).order_by("pk")
                   .values_list("reason", flat=True))
    assert reasons == [f"Zarezerwowane na wysyłkę masową nr {sent.pk} (SMS-ów: 1)",
                       f"Wysyłka masowa nr {sent.pk} anulowana"]


@pytest.mark.integration
def test_on_postgresql_two_threads_write_the_chunks_and_nothing_twice(require_postgres):
    """Outside a transaction (as its task runs) the fan-out writes two chunks at once, each in a
    thread with its own connection; the cursor follows whole rounds, so a run after a crash in
    the middle of one writes nothing twice."""
    shop = make_shop(name="Threads")
    fund(shop, 1000)
    for _ in range(7):
        consenting(shop)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"):
        sent = create(shop)
    recipients = list(BulkRecipient.objects.filter(bulk=sent).order_by("pk").values_list("pk", flat=True))
    writers, real = set(), bulk._fan_out_range

    def watched(*args):
        writers.add(threading.current_thread().name)
        return real(*args)

    with mock.patch("smsnotify.outbox.messages_ring") as ring, mock.patch.object(bulk, "_fan_out_range", watched):
        assert real(sent, 0, recipients[1])  # a first chunk written before a crash: the cursor never moved
        bulk.bulk_fan_out(bulk_id=sent.pk, chunk=2)
    assert len(writers) == 2 and all(name.startswith("fan-out") for name in writers)
    keys = list(Message.objects.filter(batch_ref=sent.batch_ref).values_list("dedupe_key", flat=True))
    assert len(keys) == len(set(keys)) == 7
    rung = [pk for call in ring.call_args_list for pk in call.kwargs["message_ids"]]
    assert sorted(rung) == sorted(Message.objects.filter(batch_ref=sent.batch_ref).values_list("pk", flat=True))
    sent.refresh_from_db()
    assert (sent.status, sent.cursor) == (BulkSend.State.SENDING, recipients[-1])


@pytest.mark.integration
def test_on_postgresql_a_cancelled_bulk_send_stops_its_writer_threads(require_postgres):
    shop = make_shop(name="Cancelled threads")
    fund(shop, 1000)
    for _ in range(6):
        consenting(shop)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"):
        sent = create(shop)
    real = bulk._fan_out_range

    def cancelled_after_the_first_round(bulk_send, after, upto):
        done = real(bulk_send, after, upto)
        if Message.objects.filter(batch_ref=sent.batch_ref).count() == 4:  # the first round, both chunks
            bulk.bulk_send_cancel(bulk=sent)
        return done

    with mock.patch("smsnotify.outbox.messages_ring"), \
            mock.patch.object(bulk, "_fan_out_range", cancelled_after_the_first_round):
        bulk.bulk_fan_out(bulk_id=sent.pk, chunk=2)
    assert Message.objects.filter(batch_ref=sent.batch_ref).count() == 4
    assert not Message.objects.filter(batch_ref=sent.batch_ref).exclude(status=Status.CANCELLED).exists()
    sent.refresh_from_db()
    assert sent.status == BulkSend.State.CANCELLED


@pytest.mark.integration
def test_on_postgresql_a_second_fan_out_of_the_same_send_leaves_it_to_the_first(require_postgres):
    """Beat's sweep may enqueue a fan-out that is still running: the second run returns at once."""
    import psycopg
    from django.db import connection

    shop = make_shop(name="Twice")
    fund(shop, 1000)
    consenting(shop)
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"):
        sent = create(shop)
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as running:
        running.execute("SELECT pg_advisory_lock(%s, %s)", [bulk.FAN_OUT_LOCK, sent.pk])
        with mock.patch("smsnotify.outbox.messages_ring"):
            bulk.bulk_fan_out(bulk_id=sent.pk)
        assert not Message.objects.filter(batch_ref=sent.batch_ref).exists()
    with mock.patch("smsnotify.outbox.messages_ring"):  # the first run's lock is gone with its connection
        bulk.bulk_fan_out(bulk_id=sent.pk)
    assert Message.objects.filter(batch_ref=sent.batch_ref).count() == 1


# --- why a bulk send waits ----------------------------------------------------------------------------

WARSAW_DAWN = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)  # 6:00 in Warsaw: before the 8:00-20:00 hours


def _fanned_out(shop, on_commit, **kwargs):
    with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"), on_commit():
        sent = create(shop, **kwargs)
    with mock.patch("smsnotify.outbox.messages_ring"):
        bulk.bulk_fan_out(bulk_id=sent.pk)
    sent.refresh_from_db()
    return sent


def test_a_bulk_send_held_by_quiet_hours_says_so_and_when_it_starts(db, on_commit, sms_outbox):
    shop = make_shop(language="pl", country="PL", time_zone="Europe/Warsaw", credits=1000)
    consenting(shop, phone="+48601234567")
    consenting(shop, phone="+48601234568")
    with time_machine.travel(WARSAW_DAWN, tick=False):
        sent = _fanned_out(shop, on_commit)
        assert bulk.bulk_waiting(bulk=sent) is None  # written, due: nothing holds it yet
        messages_deliver(message_ids=list(Message.objects.filter(batch_ref=sent.batch_ref).values_list("pk", flat=True)))
        assert sms_outbox == []
        wait = bulk.bulk_waiting(bulk=sent)
    assert (wait.reason, wait.until) == ("outside_hours", dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC))
    with time_machine.travel(dt.datetime(2026, 12, 1, 7, 0, 1, tzinfo=dt.UTC), tick=False):
        assert bulk.bulk_waiting(bulk=sent) is None  # due again: it is leaving


def test_a_later_bulk_send_waits_for_its_time_and_an_over_one_for_nothing(funded, on_commit):
    consenting(funded)
    later = timezone.now() + dt.timedelta(hours=3)
    sent = _fanned_out(funded, on_commit, send_at=later)
    assert bulk.bulk_waiting(bulk=sent) == bulk.BulkWait("scheduled", later)
    bulk.bulk_send_cancel(bulk=sent)
    sent.refresh_from_db()
    assert bulk.bulk_waiting(bulk=sent) is None


def test_a_bulk_send_paced_by_its_senders_rate_says_so_even_while_its_next_text_is_due(funded, on_commit):
    consenting(funded)
    consenting(funded)
    sent = _fanned_out(funded, on_commit)
    first = Message.objects.filter(batch_ref=sent.batch_ref).order_by("send_at", "pk").first()
    until = timezone.now() - dt.timedelta(seconds=1)
    message_transition(first.pk, from_statuses=[Status.SCHEDULED], status=Status.SCHEDULED, event=EventType.HELD,
                       params={"reason": "paced", "rate": "0.5", "until": until.isoformat()}, send_at=until)
    wait = bulk.bulk_waiting(bulk=sent)
    assert (wait.reason, wait.params["rate"]) == ("paced", "0.5")
    # held by a policy until a moment now past: it is leaving, nothing to explain
    message_transition(first.pk, from_statuses=[Status.SCHEDULED], status=Status.SCHEDULED, event=EventType.HELD,
                       params={"reason": "frequency_cap", "until": until.isoformat()}, send_at=until)
    assert bulk.bulk_waiting(bulk=sent) is None
    later = timezone.now() + dt.timedelta(hours=1)
    for message in Message.objects.filter(batch_ref=sent.batch_ref):  # every text held for later: it waits
        message_transition(message.pk, from_statuses=[Status.SCHEDULED], status=Status.SCHEDULED,
                           event=EventType.HELD, params={"reason": "frequency_cap", "until": later.isoformat()},
                           send_at=later + dt.timedelta(minutes=message.pk - first.pk))
    assert bulk.bulk_waiting(bulk=sent) == bulk.BulkWait("frequency_cap", later, {
        "reason": "frequency_cap", "until": later.isoformat()})
