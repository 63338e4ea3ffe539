"""smsnotify/delivery.py: a delivery run claims, asks the gateway and records each outcome."""

import datetime as dt
import uuid
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credits.models import EntryKind, LedgerEntry
from credits.pricing import forget_rates
from shop.models import MarketingConsent
from smsnotify import aftercare, history as message_history, outbox
from smsnotify.gateways import (
    AmbiguousGatewayError,
    PermanentGatewayError,
    SendResult,
    TransientGatewayError,
    get_gateway,
    locmem,
)
from smsnotify.models import EventType, Message, SmsSettings, Status
from tests.delivery import deliver, deliver_one
from tests.factories import CustomerFactory, make_shop
from tests.smsnotify import policies
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db


def test_delivering_twice_sends_once(shop, sms_outbox):
    message = schedule(shop)
    gateway = get_gateway()
    assert deliver_one(message.pk, gateway=gateway) == Status.SENT
    assert deliver_one(message.pk, gateway=gateway) is None
    assert len(sms_outbox) == 1


def test_transient_error_backs_off_then_gives_up(shop, sms_outbox, gateway_errors, settings):
    settings.SMS_MAX_ATTEMPTS = 3
    message = schedule(shop)
    gateway_errors.extend([TransientGatewayError("busy", code="20429")] * 3)
    start = timezone.now()
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.SCHEDULED
    assert dt.timedelta(seconds=29) < message.send_at - start < dt.timedelta(seconds=32)
    assert message.error_code == "20429"

    assert deliver_one(message.pk, gateway=get_gateway()) is None  # not due yet
    with time_machine.travel(start + dt.timedelta(seconds=31)):
        deliver([message.pk])
    message.refresh_from_db()
    assert dt.timedelta(seconds=90) < message.send_at - start < dt.timedelta(seconds=93)  # 30 s, then 60 s
    with time_machine.travel(start + dt.timedelta(seconds=95)):
        deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == 3
    assert message.error_text == "busy"  # the provider's words, as it said them
    assert message_history.event_text(message.events.last()) == \
        "Gave up after 3 attempts: the provider is busy (provider's answer: “busy”, code 20429)."
    assert sms_outbox == []


def test_transient_error_then_success(shop, sms_outbox, gateway_errors, on_commit):
    message = schedule(shop)
    gateway_errors.append(TransientGatewayError("connection refused"))
    deliver([message.pk])
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)), on_commit():
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.error_text == ""
    assert len(sms_outbox) == 1


def test_permanent_error_fails_with_the_providers_code(shop, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(PermanentGatewayError("The 'To' number is not valid.", code="21211"))
    deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_text) == (
        Status.FAILED, "21211", "The 'To' number is not valid.")
    assert outbox.messages_dispatch_due() == 0


def test_ambiguous_error_is_never_resent_blindly(shop, sms_outbox, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        outbox.messages_dispatch_due()
        aftercare.messages_recover_stale()
        aftercare.messages_reconcile_unknown()  # locmem cannot look messages up: the merchant decides
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert sms_outbox == []


def test_unexpected_gateway_bug_marks_unknown(shop, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(RuntimeError("boom"))
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert "boom" in message.error_text



# --- the delivery policy chain -------------------------------------------------------------------


def chain(*classes):
    """SMS_DELIVERY_POLICIES naming these test policies (and any dotted path given as a string)."""
    return override_settings(SMS_DELIVERY_POLICIES=[c if isinstance(c, str) else policies.path(c) for c in classes])


CHARGE = "credits.policies.ChargeCredits"


def test_a_hold_sends_the_message_back_to_scheduled_at_its_new_time_without_counting_the_attempt(
        shop, sms_outbox, policy_calls):
    message = schedule(shop, body="please hold this one")
    with chain(policies.HoldMarked, CHARGE):
        assert deliver([message.pk]) == {Status.SCHEDULED: 1}
        message.refresh_from_db()
        assert (message.status, message.send_at, message.attempts) == (Status.SCHEDULED, policies.LATER, 0)
        held = message.events.get(type=EventType.HELD)
        assert held.status == Status.SCHEDULED
        assert held.parameters == {"policy": policies.path(policies.HoldMarked), "reason": "quiet_hours",
                                   "until": policies.LATER.isoformat(), "zone": "New York"}
        assert message_history.event_text(held).endswith(": Quiet hours in New York.")
        assert not message.events.filter(type=EventType.ATTEMPT).exists()
        assert deliver_one(message.pk) is None  # not due again before its new time
    assert sms_outbox == []
    assert not LedgerEntry.objects.filter(message=message).exists()


def test_a_refusal_ends_the_message_in_the_given_status_with_the_reason(shop, sms_outbox, policy_calls):
    message = schedule(shop, body="refuse this one")
    with chain(policies.RefuseMarked, CHARGE):
        assert deliver([message.pk]) == {Status.SUPPRESSED: 1}
        message.refresh_from_db()
        assert (message.status, message.error_code) == (Status.SUPPRESSED, "refused_marked")
        stopped = message.events.get(type=EventType.STOPPED)
        assert stopped.parameters == {"policy": policies.path(policies.RefuseMarked), "reason": "refused_marked",
                                      "phone": message.recipient}
        assert message_history.event_text(stopped) == f"Not sent: {message.recipient} replied STOP."
        assert deliver_one(message.pk) is None  # final: never claimed again
    assert sms_outbox == []
    assert not LedgerEntry.objects.filter(message=message).exists()


def test_policies_run_in_order_and_a_message_stopped_by_one_is_not_seen_by_the_next(shop, sms_outbox, policy_calls):
    refused = schedule(shop, body="refuse me")
    held = schedule(shop, body="hold me")
    plain = schedule(shop, body="just send me")
    with chain(policies.FirstRecorder, policies.RefuseMarked, policies.HoldMarked, policies.LastRecorder, CHARGE):
        tally = deliver([refused.pk, held.pk, plain.pk])
    assert tally == {Status.SUPPRESSED: 1, Status.SCHEDULED: 1, Status.SENT: 1}
    seen = [(name, pks) for name, step, pks, *_ in policy_calls if step == "before_send"]
    assert seen == [("first", [refused.pk, held.pk, plain.pk]), ("refuse", [refused.pk, held.pk, plain.pk]),
                    ("hold", [held.pk, plain.pk]), ("last", [plain.pk])]
    # The charge comes last: only what is really sent is paid for.
    assert list(LedgerEntry.objects.filter(shop=shop, kind=EntryKind.CHARGE).values_list("message", flat=True)) == [
        plain.pk]
    assert [sms.body for sms in sms_outbox] == ["just send me"]


def test_settle_runs_in_reverse_order_with_every_outcome(shop, gateway_errors, policy_calls):
    refused, retried, unknown, sent = (schedule(shop, body=f"message {n}") for n in range(4))
    gateway_errors.extend([PermanentGatewayError("invalid To", code="21211"), TransientGatewayError("busy"),
                           AmbiguousGatewayError("read timeout")])  # the last message is accepted
    with chain(policies.FirstRecorder, CHARGE, policies.LastRecorder):
        deliver([refused.pk, retried.pk, unknown.pk, sent.pk])
    settled = [(name, outcomes, refunds) for name, step, outcomes, *rest in policy_calls if step == "settle"
               for refunds in rest]
    outcomes = sorted([(refused.pk, Status.FAILED, False), (retried.pk, Status.SCHEDULED, False),
                       (unknown.pk, Status.UNKNOWN, True), (sent.pk, Status.SENT, True)])
    # Reversed: the last policy first, then the charge (it refunds the two not billed), then the first.
    assert settled == [("last", outcomes, 0), ("first", outcomes, 2)]
    refunded = set(LedgerEntry.objects.filter(kind=EntryKind.REFUND).values_list("message", flat=True))
    assert refunded == {refused.pk, retried.pk}


@pytest.mark.parametrize("size", [1, 20])
def test_the_chain_asks_each_policy_once_per_batch(shop, size):
    """A policy that queries runs its query once for the batch, whatever the batch's size."""
    messages = [schedule(shop, to=f"+1202555{n:04d}") for n in range(size)]
    with chain(policies.OptedOutCustomers, CHARGE), CaptureQueriesContext(connection) as queries:
        assert deliver([m.pk for m in messages]) == {Status.SENT: size}
    assert len([q for q in queries.captured_queries if '"shop_customer"' in q["sql"]]) == 1


def test_a_policy_that_queries_refuses_from_one_batch_query(shop, sms_outbox):
    revoked = CustomerFactory(shop=shop, phone="+12025550177", marketing_consent=MarketingConsent.REVOKED)
    to_revoked = schedule(shop, to=str(revoked.phone))
    other = schedule(shop, to="+12025550178")
    with chain(policies.OptedOutCustomers, CHARGE):
        assert deliver([to_revoked.pk, other.pk]) == {Status.SUPPRESSED: 1, Status.SENT: 1}
    assert [sms.to for sms in sms_outbox] == ["+12025550178"]


def queries_to_deliver(shops, count, errors=()) -> int:
    messages = [schedule(shops[n % len(shops)], to=f"+1202555{n:04d}") for n in range(count)]
    locmem.errors.extend(errors)
    forget_rates()  # each run starts with the prices uncached, so both runs read them
    with CaptureQueriesContext(connection) as queries:
        tally = deliver([m.pk for m in messages])
    assert sum(tally.values()) == count
    return len(queries.captured_queries)


def test_a_delivery_run_uses_as_many_queries_for_fifty_messages_as_for_five(shop):
    shops = [shop, make_shop(credits=10_000)]
    assert queries_to_deliver(shops, 50) == queries_to_deliver(shops, 5)


def test_a_delivery_run_with_every_kind_of_outcome_does_not_query_per_message(shop):
    """Refused, retried and unknown answers (and the refunds they bring) are recorded per kind, not per message."""
    shops = [shop, make_shop(credits=10_000)]
    # In pairs, so that every kind of answer reaches both shops in both runs (a refund is one UPDATE per shop).
    answers = [PermanentGatewayError("invalid To", code="21211")] * 2 + [TransientGatewayError("busy", code="20429")] * 2 \
        + [AmbiguousGatewayError("read timeout")] * 2
    # 70, not more: SQLite takes at most 999 parameters a statement, so Django splits an INSERT of
    # more ledger rows (13 columns each) in two; PostgreSQL has no such limit.
    assert queries_to_deliver(shops, 70, answers * 10) == queries_to_deliver(shops, 8, answers)  # the rest are sent


# --- the batch claim -----------------------------------------------------------------------------


def test_two_runs_over_the_same_messages_send_each_once(shop, sms_outbox):
    messages = [schedule(shop, to=f"+1202555{n:04d}") for n in range(5)]
    ids = [m.pk for m in messages]
    assert deliver(ids) == {Status.SENT: 5}
    assert deliver(ids) == {}
    assert sorted(sms.to for sms in sms_outbox) == sorted(m.recipient for m in messages)
    assert all(m.attempts == 1 for m in Message.objects.filter(pk__in=ids))


def test_rows_another_run_has_claimed_are_left_to_it(shop, sms_outbox):
    theirs = [schedule(shop, to=f"+1202555{n:04d}") for n in range(2)]
    ours = [schedule(shop, to=f"+1202556{n:04d}") for n in range(3)]
    other_run = uuid.uuid4()
    Message.objects.filter(pk__in=[m.pk for m in theirs]).update(status=Status.SENDING, claim=other_run, attempts=1)
    assert deliver([m.pk for m in theirs + ours]) == {Status.SENT: 3}
    assert sorted(sms.to for sms in sms_outbox) == sorted(m.recipient for m in ours)
    for message in theirs:
        message.refresh_from_db()
        assert (message.status, message.claim, message.attempts, message.provider_id) == (
            Status.SENDING, other_run, 1, "")
        assert not message.events.exclude(type=EventType.SCHEDULED).exists()
        assert not LedgerEntry.objects.filter(message=message).exists()  # paid for by the run that holds it


def test_a_message_not_due_yet_or_cancelled_is_not_claimed(shop, sms_outbox):
    later = schedule(shop, send_at=timezone.now() + dt.timedelta(minutes=5))
    cancelled = schedule(shop)
    assert outbox.message_cancel(message=cancelled)
    due = schedule(shop)
    assert deliver([later.pk, cancelled.pk, due.pk]) == {Status.SENT: 1}
    for message, status in ((later, Status.SCHEDULED), (cancelled, Status.CANCELLED)):
        message.refresh_from_db()
        assert (message.status, message.attempts, message.claim, message.sending_at) == (status, 0, None, None)
    assert [sms.to for sms in sms_outbox] == [due.recipient]


def send_many_then(action):
    """Patch the locmem gateway so that ``action(messages)`` runs while the run waits for the provider."""
    original = locmem.LocmemGateway.send_many

    def send_many(self, messages):
        answers = original(self, messages)
        action(messages)
        return answers

    return mock.patch.object(locmem.LocmemGateway, "send_many", send_many)


def test_a_row_moved_to_unknown_meanwhile_is_not_overwritten_by_the_run(shop, sms_outbox, settings):
    stuck, other = schedule(shop), schedule(shop, to="+12025550124")

    def lease_runs_out_for_stuck(_messages):
        # This row's lease ran out while the provider was answering: aftercare made it "unknown".
        Message.objects.filter(pk=stuck.pk).update(
            sending_at=timezone.now() - dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1))
        assert aftercare.messages_recover_stale() == 1

    with send_many_then(lease_runs_out_for_stuck):
        assert deliver([stuck.pk, other.pk]) == {Status.SENT: 1}
    stuck.refresh_from_db()
    other.refresh_from_db()
    assert (stuck.status, stuck.error_code, stuck.provider_id) == (Status.UNKNOWN, "lease_expired", "")
    assert not stuck.events.filter(type=EventType.ACCEPTED).exists()
    assert other.status == Status.SENT


def test_a_row_claimed_by_another_run_meanwhile_is_not_written_by_this_one(shop, sms_outbox):
    """The claim token scopes the recording: after the lease, "unknown", "send again" and another
    run's claim, this run's late answer must not touch the row the other run now holds."""
    taken, other = schedule(shop), schedule(shop, to="+12025550124")
    next_run = uuid.uuid4()

    def another_run_takes_it(_messages):
        Message.objects.filter(pk=taken.pk).update(status=Status.SENDING, claim=next_run)

    with send_many_then(another_run_takes_it):
        assert deliver([taken.pk, other.pk]) == {Status.SENT: 1}
    taken.refresh_from_db()
    assert (taken.status, taken.claim, taken.provider_id, taken.sent_at) == (Status.SENDING, next_run, "", None)
    assert not taken.events.filter(type=EventType.ACCEPTED).exists()


def test_a_row_claimed_by_another_run_meanwhile_is_not_refunded_by_this_one(shop, gateway_errors):
    taken = schedule(shop)
    next_run = uuid.uuid4()
    gateway_errors.append(PermanentGatewayError("invalid To", code="21211"))

    def another_run_takes_it(_messages):
        Message.objects.filter(pk=taken.pk).update(status=Status.SENDING, claim=next_run)

    with send_many_then(another_run_takes_it):
        assert deliver([taken.pk]) == {}
    taken.refresh_from_db()
    assert (taken.status, taken.error_code) == (Status.SENDING, "")
    assert list(LedgerEntry.objects.filter(message=taken).values_list("kind", flat=True)) == [EntryKind.CHARGE]


@pytest.mark.parametrize("attempts", [1, 5], ids=["retried", "given-up"])
def test_a_row_claimed_by_another_run_meanwhile_is_not_rescheduled_or_failed_by_this_one(
        shop, gateway_errors, settings, attempts):
    settings.SMS_MAX_ATTEMPTS = 5
    taken = schedule(shop)
    Message.objects.filter(pk=taken.pk).update(attempts=attempts - 1)
    next_run = uuid.uuid4()
    gateway_errors.append(TransientGatewayError("busy", code="20429"))

    def another_run_takes_it(_messages):
        Message.objects.filter(pk=taken.pk).update(status=Status.SENDING, claim=next_run)

    with send_many_then(another_run_takes_it):
        assert deliver([taken.pk]) == {}
    taken.refresh_from_db()
    assert (taken.status, taken.claim, taken.error_code) == (Status.SENDING, next_run, "")


def test_a_policy_that_fails_gives_the_batch_back_unsent_and_still_paid(shop, sms_outbox, settings):
    """Nothing of the run reached the gateway: the rows go back to scheduled (not left to the
    lease, which would make them "unknown"), and the charge they got stays theirs."""
    message = schedule(shop)
    with chain(CHARGE, policies.Broken), pytest.raises(RuntimeError):
        deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SCHEDULED, 0)
    assert message.events.last().type == EventType.HELD
    assert sms_outbox == []
    assert deliver([message.pk]) == {}  # not before the retry delay: an error that repeats must not spin
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_RETRY_BASE_SECONDS + 1)):
        deliver([message.pk])  # the next run sends it, without charging it again
    message.refresh_from_db()
    assert (message.status, len(sms_outbox)) == (Status.SENT, 1)
    assert LedgerEntry.objects.filter(message=message, kind=EntryKind.CHARGE).count() == 1


def test_a_row_whose_lease_ran_out_during_the_policies_is_not_sent_by_the_run(shop, sms_outbox, settings):
    slow, quick = schedule(shop, body="slow"), schedule(shop, body="quick")
    # Time stands still: the row's sending_at is then the very time of the attempt's stamp.
    with time_machine.travel(timezone.now(), tick=False), chain(policies.SlowLeaseRunsOut):
        deliver([slow.pk, quick.pk])
    assert [sms.body for sms in sms_outbox] == ["quick"]
    slow.refresh_from_db()
    assert slow.status == Status.UNKNOWN and not slow.events.filter(type=EventType.ATTEMPT).exists()


# --- what a failed run gives back, and the reason it stores -------------------------------------


def test_a_run_that_fails_gives_back_the_attempt_and_says_why_in_the_history(shop, settings):
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(attempts=2)  # two earlier attempts, retried
    start = timezone.now()
    with time_machine.travel(start, tick=False), chain(CHARGE, policies.Broken), pytest.raises(RuntimeError):
        deliver([message.pk])
    message.refresh_from_db()
    later = start + dt.timedelta(seconds=settings.SMS_RETRY_BASE_SECONDS)
    assert (message.status, message.attempts, message.send_at) == (Status.SCHEDULED, 2, later)
    held = message.events.last()
    assert (held.type, held.parameters) == (EventType.HELD, {"reason": "internal_error", "until": later.isoformat()})
    assert message_history.event_text(held).endswith(
        ": An internal error stopped it before it was sent; it will be tried again.")


def test_a_run_that_fails_leaves_alone_the_rows_another_run_took_meanwhile(shop, sms_outbox):
    """Giving back a row another run holds would let a third run send it while the other one does."""
    taken, ours = schedule(shop, body="taken, break"), schedule(shop, body="ours")
    with chain(CHARGE, policies.AnotherRunTakesMarked), pytest.raises(RuntimeError):
        deliver([taken.pk, ours.pk])
    taken.refresh_from_db()
    ours.refresh_from_db()
    assert (taken.status, taken.attempts) == (Status.SENDING, 1)
    assert not taken.events.filter(type=EventType.HELD).exists()
    assert ours.status == Status.SCHEDULED


def test_a_refusal_leaves_alone_a_row_another_run_took_meanwhile(shop, sms_outbox):
    taken, other = schedule(shop, body="taken, refuse"), schedule(shop, body="other")
    with chain(policies.AnotherRunTakesMarked, CHARGE):
        tally = deliver([taken.pk, other.pk])
    assert (tally[Status.SENT], tally.get(Status.SUPPRESSED, 0)) == (1, 0)
    taken.refresh_from_db()
    assert (taken.status, taken.error_code) == (Status.SENDING, "")
    assert not taken.events.filter(type=EventType.STOPPED).exists()
    assert [sms.body for sms in sms_outbox] == ["other"]


@override_settings(LANGUAGE_CODE="pl")
def test_the_stored_reason_of_a_refusal_is_english_whatever_the_language(sms_outbox):
    """error_text is for exports and the operator; the merchant reads the history in the shop's language."""
    from django.utils import translation

    broke = make_shop(credits=0)
    message = schedule(broke)
    with translation.override("pt"), chain(CHARGE):
        assert deliver([message.pk]) == {Status.FAILED: 1}
    message.refresh_from_db()
    assert (message.error_code, message.error_text) == (
        "insufficient_credits", "Not sent: the credit balance could not pay for it. Buy credits, then send it again.")


def test_the_stored_reason_of_a_refusal_has_its_parameters_and_fits_the_column(shop):
    refused = schedule(shop, body="refuse this one")
    with chain(policies.RefuseMarked, CHARGE):
        deliver([refused.pk])
    refused.refresh_from_db()
    assert refused.error_text == f"Not sent: {refused.recipient} replied STOP."

    long = schedule(shop, body="another one")
    with chain(policies.RefuseWithALongReason):
        deliver([long.pk])
    long.refresh_from_db()
    assert (long.error_code, long.error_text) == (policies.RefuseWithALongReason.code[:32],
                                                  ("Not sent: " + "x" * 600)[:500])


def test_a_hold_leaves_alone_a_row_another_run_took_meanwhile_and_gives_back_only_this_attempt(shop, sms_outbox):
    taken, waiting = schedule(shop, body="taken, wait"), schedule(shop, body="wait")
    Message.objects.filter(pk=waiting.pk).update(attempts=2)
    with chain(policies.AnotherRunTakesMarked, CHARGE):
        assert deliver([taken.pk, waiting.pk]) == {Status.SCHEDULED: 1}
    taken.refresh_from_db()
    waiting.refresh_from_db()
    assert (taken.status, taken.send_at == policies.LATER) == (Status.SENDING, False)
    assert (waiting.status, waiting.send_at, waiting.attempts) == (Status.SCHEDULED, policies.LATER, 2)
    assert sms_outbox == []


def test_a_row_another_run_took_after_the_policies_is_not_sent_by_this_one(shop, sms_outbox):
    """Both runs would send it: the attempt is stamped only on the rows this run's claim still holds."""
    taken, other = schedule(shop, body="taken"), schedule(shop, body="other")
    with time_machine.travel(timezone.now(), tick=False), chain(policies.AnotherRunTakesMarked, CHARGE):
        assert deliver([taken.pk, other.pk]) == {Status.SENT: 1}
    taken.refresh_from_db()
    assert taken.status == Status.SENDING
    assert not taken.events.filter(type=EventType.ATTEMPT).exists()
    assert [sms.body for sms in sms_outbox] == ["other"]


def test_the_tally_and_the_settled_outcomes_count_every_message_a_policy_stopped(shop, policy_calls):
    """Two refusals for two reasons (two recipients), two holds by two policies."""
    first, second = schedule(shop, body="refuse", to="+12025550101"), schedule(shop, body="refuse", to="+12025550102")
    held, waiting = schedule(shop, body="hold"), schedule(shop, body="wait")
    with chain(policies.FirstRecorder, policies.RefuseMarked, policies.HoldMarked, policies.AnotherRunTakesMarked):
        assert deliver([first.pk, second.pk, held.pk, waiting.pk]) == {Status.SUPPRESSED: 2, Status.SCHEDULED: 2}
    settled = [outcomes for name, step, outcomes, *_ in policy_calls if step == "settle"]
    assert settled == [[(first.pk, Status.SUPPRESSED, False), (second.pk, Status.SUPPRESSED, False)]]


def test_the_attempt_event_says_which_attempt_and_which_gateway(shop):
    message = schedule(shop)
    deliver([message.pk])
    attempt = message.events.get(type=EventType.ATTEMPT)
    assert (attempt.status, attempt.parameters) == (Status.SENDING, {"attempt": 1, "gateway": "locmem"})


def test_the_gateway_is_given_the_messages_reference(shop, sms_outbox):
    message = schedule(shop)
    deliver([message.pk])
    assert sms_outbox[0].reference == f"msg-{message.pk}"


@pytest.mark.parametrize(("error", "reason"), [
    (PermanentGatewayError("no route"), "Refused by the gateway (no route)."),
    (PermanentGatewayError(""), "Refused by the gateway (PermanentGatewayError)."),
    (PermanentGatewayError("no route", code="21612"), "Refused by the gateway (21612: no route)."),
])
def test_the_refund_says_what_the_gateway_answered(shop, gateway_errors, error, reason):
    message = schedule(shop)
    gateway_errors.append(error)
    with chain(CHARGE):
        deliver([message.pk])
    assert LedgerEntry.objects.get(message=message, kind=EntryKind.REFUND).reason == reason


def test_the_providers_code_and_text_are_cut_to_fit_the_history(shop, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(PermanentGatewayError("t" * 600, code="c" * 40))
    deliver([message.pk])
    message.refresh_from_db()
    assert (message.error_code, message.error_text) == ("c" * 32, "t" * 500)
    assert message.events.get(type=EventType.REFUSED).parameters == {"code": "c" * 32, "text": "t" * 300}


def test_the_status_callback_url_is_built_from_the_public_address_when_the_gateway_has_one(settings):
    from smsnotify.delivery import status_callback_url

    settings.PUBLIC_BASE_URL = ""
    assert status_callback_url("twilio") == ""
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    assert status_callback_url("twilio") == "https://sms.example.com/webhooks/twilio/status/"
    assert status_callback_url("locmem") == ""


# --- recording the answers ------------------------------------------------------------------------


def answers(*results):
    """Make the gateway answer exactly these results for the next batch."""
    return mock.patch.object(locmem.LocmemGateway, "send_many", return_value=list(results))


def test_every_accepted_answer_reaches_the_policies_with_its_status(shop, policy_calls):
    sent, delivered = schedule(shop), schedule(shop)
    with chain(policies.SummaryRecorder), answers(SendResult("SM1"), SendResult("SM2", status=Status.DELIVERED)):
        assert deliver([sent.pk, delivered.pk]) == {Status.SENT: 1, Status.DELIVERED: 1}
    assert policy_calls == [("summary", "settle", [(sent.pk, Status.SENT, True, ""),
                                                   (delivered.pk, Status.DELIVERED, True, "")])]


def test_a_long_provider_id_is_cut_to_its_column_but_kept_whole_in_the_history(shop):
    message = schedule(shop)
    with answers(SendResult("SM" + "9" * 70)):
        deliver([message.pk])
    message.refresh_from_db()
    assert message.provider_id == ("SM" + "9" * 70)[:64]
    assert message.events.get(type=EventType.ACCEPTED).parameters == {"provider_id": "SM" + "9" * 70}


def test_a_gateway_that_answers_for_fewer_messages_than_it_was_given_is_an_error(shop):
    first, second = schedule(shop), schedule(shop)
    with answers(SendResult("SM1")), pytest.raises(ValueError):
        deliver([first.pk, second.pk])


def test_only_an_unexpected_error_is_logged_as_one(shop, gateway_errors, caplog):
    bug, ambiguous = schedule(shop), schedule(shop)
    gateway_errors.extend([RuntimeError("boom"), AmbiguousGatewayError("read timeout")])
    with caplog.at_level("ERROR", logger="smsnotify.delivery"):
        deliver([bug.pk, ambiguous.pk])
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"Unexpected error delivering message {bug.pk}: RuntimeError('boom')"]


def test_a_message_sent_after_a_retry_forgets_the_earlier_error(shop, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(TransientGatewayError("busy", code="20429"))
    deliver([message.pk])
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_text) == (Status.SENT, "", "")


def test_a_retry_stores_the_providers_words_cut_to_fit_or_transient_when_it_gave_no_code(shop, gateway_errors):
    coded, bare = schedule(shop), schedule(shop)
    gateway_errors.extend([TransientGatewayError("t" * 600, code="c" * 40), TransientGatewayError("busy")])
    deliver([coded.pk, bare.pk])
    coded.refresh_from_db()
    bare.refresh_from_db()
    assert (coded.status, coded.error_code, coded.error_text) == (Status.SCHEDULED, "c" * 32, "t" * 500)
    assert (bare.status, bare.error_code, bare.error_text) == (Status.SCHEDULED, "transient", "busy")


def test_every_answer_that_is_not_a_plain_acceptance_reaches_the_policies_with_its_summary(
        shop, gateway_errors, policy_calls, settings):
    settings.SMS_MAX_ATTEMPTS = 1
    gave_up, ambiguous = schedule(shop), schedule(shop)
    gateway_errors.extend([TransientGatewayError("busy", code="20429"), AmbiguousGatewayError("read timeout")])
    with chain(policies.SummaryRecorder):
        deliver([gave_up.pk, ambiguous.pk])
    assert policy_calls == [("summary", "settle", [(gave_up.pk, Status.FAILED, False, "Gave up (20429: busy)."),
                                                   (ambiguous.pk, Status.UNKNOWN, True, "")])]


def test_an_unknown_fate_stores_the_providers_words_or_the_bug_cut_to_fit(shop, gateway_errors):
    bug, bare, coded = schedule(shop), schedule(shop), schedule(shop)
    boom = RuntimeError("b" * 400)
    gateway_errors.extend([boom, AmbiguousGatewayError("read timeout"),
                           AmbiguousGatewayError("t" * 600, code="c" * 40)])
    deliver([bug.pk, bare.pk, coded.pk])
    for message in (bug, bare, coded):
        message.refresh_from_db()
        assert message.status == Status.UNKNOWN
    assert (bug.error_code, bug.error_text) == ("unexpected", repr(boom)[:300])
    assert (bare.error_code, bare.error_text) == ("unknown", "read timeout")
    assert (coded.error_code, coded.error_text) == ("c" * 32, "t" * 500)
    assert coded.events.get(type=EventType.AMBIGUOUS).parameters == {"code": "c" * 32, "text": "t" * 300}
    assert bare.events.get(type=EventType.AMBIGUOUS).parameters == {"code": "", "text": "read timeout"}


def test_a_row_claimed_by_another_run_meanwhile_is_not_marked_unknown_by_this_one(shop, gateway_errors):
    taken = schedule(shop)
    next_run = uuid.uuid4()
    gateway_errors.append(AmbiguousGatewayError("read timeout"))

    def another_run_takes_it(_messages):
        Message.objects.filter(pk=taken.pk).update(status=Status.SENDING, claim=next_run)

    with send_many_then(another_run_takes_it):
        assert deliver([taken.pk]) == {}
    taken.refresh_from_db()
    assert (taken.status, taken.claim, taken.error_code) == (Status.SENDING, next_run, "")


def test_a_worker_killed_during_the_policies_leaves_a_row_the_stuck_message_rule_sends_again(
        shop, sms_outbox, settings):
    """The claim stamps sending_at: without it the row would wait in "sending" for ever."""
    message = schedule(shop)
    start = timezone.now()
    with time_machine.travel(start, tick=False), chain(policies.Dies), pytest.raises(policies.WorkerKilled):
        deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.sending_at, message.updated_at) == (Status.SENDING, start, start)
    with time_machine.travel(start + dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1)):
        assert aftercare.messages_recover_stale() == 1
        message.refresh_from_db()
        assert message.status == Status.SCHEDULED
        deliver([message.pk])
    assert len(sms_outbox) == 1


def test_a_shop_without_sms_settings_is_claimed_with_the_providers_default_sender(shop):
    message = schedule(shop)
    SmsSettings.objects.filter(shop=shop).delete()
    with chain(policies.Dies), pytest.raises(policies.WorkerKilled):
        deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.sender) == (Status.SENDING, "")


def test_a_policy_is_not_asked_about_an_empty_batch(shop, policy_calls):
    message = schedule(shop, body="refuse this one")
    with chain(policies.RefuseMarked, policies.LastRecorder):
        deliver([message.pk])
    assert [(name, step) for name, step, *_ in policy_calls] == [("refuse", "before_send"), ("last", "settle")]


def test_the_refusals_of_every_policy_are_settled(shop, policy_calls):
    """A message refused now may carry a charge from an earlier run: each policy's refusals are given back."""
    revoked = CustomerFactory(shop=shop, phone="+12025550177", marketing_consent=MarketingConsent.REVOKED)
    opted_out, no_consent = schedule(shop, body="refuse"), schedule(shop, to=str(revoked.phone))
    with chain(policies.FirstRecorder, policies.RefuseMarked, policies.OptedOutCustomers):
        assert deliver([opted_out.pk, no_consent.pk]) == {Status.SUPPRESSED: 2}
    settled = [outcomes for name, step, outcomes, *_ in policy_calls if step == "settle"]
    assert settled == [[(opted_out.pk, Status.SUPPRESSED, False), (no_consent.pk, Status.SUPPRESSED, False)]]


def test_the_lease_of_a_message_runs_from_its_attempt_not_from_its_claim(shop, sms_outbox, monkeypatch):
    """Slow policies must not eat into the time the gateway call has before the stuck-message rule."""
    message = schedule(shop)
    claimed_at = timezone.now()
    with time_machine.travel(claimed_at, tick=False) as traveller, chain(policies.SlowPolicy):
        monkeypatch.setattr(policies, "clock", traveller)
        deliver([message.pk])
    message.refresh_from_db()
    assert message.sending_at == claimed_at + dt.timedelta(seconds=30)
