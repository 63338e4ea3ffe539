"""smsnotify/aftercare.py: stuck rows, reconciliation with the provider, delivery reports."""

import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from smsnotify import aftercare, outbox
from smsnotify import history as message_history
from smsnotify.gateways import AmbiguousGatewayError, GatewayError, SendResult
from smsnotify.gateways.base import DeliveryReport
from smsnotify.models import Message, Status
from tests.delivery import deliver, stuck_after_the_attempt
from tests.credits.helpers import charge, kinds
from tests.smsnotify.helpers import history, schedule

pytestmark = pytest.mark.django_db


def test_message_stuck_in_sending_becomes_unknown_after_the_lease(shop, sms_outbox, settings):
    message = schedule(shop)
    stuck_after_the_attempt(message)
    assert aftercare.messages_recover_stale() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1)):
        assert aftercare.messages_recover_stale() == 1
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.error_code == "lease_expired"
    assert sms_outbox == []


def test_a_message_stuck_before_its_attempt_was_stamped_goes_out_again_once(shop, sms_outbox, settings, on_commit):
    """The worker died after the claim (and the charge) but before the gateway call: it surely
    did not leave, so it is sent again, with its attempt given back and no second charge."""
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(status=Status.SENDING, sending_at=timezone.now(), attempts=1)
    charge(message)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1)):
        assert aftercare.messages_recover_stale() == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (Status.SCHEDULED, 0)
        assert message_history.event_text(message.events.last()).endswith(
            "The worker stopped before handing it to the gateway; it will be sent again.")
        with on_commit():
            outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert (message.status, message.attempts, len(sms_outbox)) == (Status.SENT, 1, 1)
    assert kinds(shop, message) == ["charge"]  # paid once, by the first run


def test_delivery_reports_never_move_a_message_back(shop):
    message = schedule(shop)
    deliver([message.pk])
    message.refresh_from_db()
    report = lambda status: DeliveryReport(provider_id=message.provider_id, status=status)  # noqa: E731
    aftercare.report_apply(gateway_name="locmem", report=report("delivered"))
    aftercare.report_apply(gateway_name="locmem", report=report("sent"))  # late, out of order
    aftercare.report_apply(gateway_name="locmem", report=report("delivered"))  # repeated
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.delivered_at is not None
    assert history(message).count(Status.DELIVERED) == 1


def test_report_for_another_gateway_is_ignored(shop):
    message = schedule(shop)
    deliver([message.pk])
    message.refresh_from_db()
    aftercare.report_apply(gateway_name="twilio", report=DeliveryReport(message.provider_id, "delivered"))
    message.refresh_from_db()
    assert message.status == Status.SENT


@override_settings(SMS_GATEWAY="smsnotify.gateways.sandbox.SandboxGateway", SANDBOX_DELIVERY_SECONDS=2)
def test_sandbox_accepts_then_reports_delivery(shop):
    ok = schedule(shop, to="+12025550123")
    refused = schedule(shop, to="+15005550001")
    undelivered = schedule(shop, to="+15005550010")
    deliver([ok.pk, refused.pk, undelivered.pk])
    assert aftercare.reports_poll() == 0  # too early: delivery takes a moment
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=3)):
        assert aftercare.reports_poll() == 2
    for message in (ok, refused, undelivered):
        message.refresh_from_db()
    assert ok.status == Status.DELIVERED
    assert (refused.status, refused.error_code) == (Status.FAILED, "21211")
    assert (undelivered.status, undelivered.error_code) == (Status.UNDELIVERED, "30003")


@override_settings(SMS_GATEWAY="smsnotify.gateways.sandbox.SandboxGateway", SANDBOX_DELIVERY_SECONDS=2)
def test_polling_takes_the_least_recently_polled_first(shop, monkeypatch):
    """A message a carrier never reports on must not starve newer ones."""
    from smsnotify.gateways.sandbox import SandboxGateway

    never, newer = schedule(shop, to="+12025550111"), schedule(shop, to="+12025550122")
    deliver([never.pk])
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=1)):
        deliver([newer.pk])
    polled = []
    monkeypatch.setattr(SandboxGateway, "fetch_reports", lambda self, refs: polled.extend(r.to for r in refs) or [])
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=10)):
        aftercare.reports_poll(limit=1)
        aftercare.reports_poll(limit=1)
    assert polled == ["+12025550111", "+12025550122"]



def unknown_message(shop, gateway_errors, *, to):
    message = schedule(shop, to=to)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    return message


def test_one_failing_lookup_does_not_stop_the_reconciliation_of_the_next(shop, gateway_errors, lookup_gateway,
                                                                         sms_outbox):
    start = timezone.now()
    with time_machine.travel(start):
        cannot_tell = unknown_message(shop, gateway_errors, to="+12025550111")
    with time_machine.travel(start + dt.timedelta(seconds=5)):
        found = unknown_message(shop, gateway_errors, to="+12025550122")
    lookup_gateway.answers = {"+12025550111": GatewayError("provider API down", code="503"),
                              "+12025550122": SendResult(provider_id="SM-found-1")}
    with time_machine.travel(start + dt.timedelta(seconds=30)):
        assert aftercare.messages_reconcile_unknown() == 1
    cannot_tell.refresh_from_db()
    found.refresh_from_db()
    assert cannot_tell.status == Status.UNKNOWN  # asked again next time
    assert (found.status, found.provider_id, found.sent_at) == (Status.SENT, "SM-found-1", found.sending_at)
    assert found.events.order_by("pk").last().parameters == {"provider_id": "SM-found-1"}
    # Looked up by the number it went to, from shortly before it was handed over.
    assert lookup_gateway.asked == [
        ("+12025550111", f"msg-{cannot_tell.pk}", cannot_tell.sending_at - dt.timedelta(minutes=2)),
        ("+12025550122", f"msg-{found.pk}", found.sending_at - dt.timedelta(minutes=2)),
    ]
    assert sms_outbox == []  # nothing was sent again


def test_a_message_the_provider_surely_never_got_is_sent_again_after_the_grace(shop, gateway_errors, lookup_gateway,
                                                                             sms_outbox, settings, on_commit):
    message = unknown_message(shop, gateway_errors, to="+12025550133")
    lookup_gateway.answers = {"+12025550133": None}
    assert aftercare.messages_reconcile_unknown() == 0  # within the grace: the provider may not list it yet
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_RECONCILE_GRACE_SECONDS + 1)):
        with on_commit():
            assert aftercare.messages_reconcile_unknown() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert [sms.to for sms in sms_outbox] == ["+12025550133"]
    assert [to for to, _ref, _since in lookup_gateway.asked] == ["+12025550133"] * 2


def test_a_gateway_that_reports_by_webhook_is_never_polled(shop):
    assert aftercare.reports_poll() == 0  # locmem: no poll_reports_after


@override_settings(SMS_GATEWAY="smsnotify.gateways.sandbox.SandboxGateway", SANDBOX_DELIVERY_SECONDS=2)
def test_polling_asks_only_about_this_gateways_sent_messages_within_the_window_oldest_first(shop, monkeypatch):
    from smsnotify.gateways.sandbox import SandboxGateway

    now = timezone.now()
    after = SandboxGateway().poll_reports_after

    def sent(to, *, ago, gateway="sandbox", status=Status.SENT):
        message = schedule(shop, to=to)
        Message.objects.filter(pk=message.pk).update(status=status, gateway=gateway, sent_at=now - ago,
                                                     provider_id=f"SB-{message.pk}")
        return message

    sent("+12025550101", ago=after + dt.timedelta(minutes=1))
    sent("+12025550102", ago=after + dt.timedelta(minutes=2))  # older: asked first
    sent("+12025550103", ago=after / 2)  # too recent
    sent("+12025550104", ago=aftercare.REPORT_WINDOW + dt.timedelta(minutes=1))  # too old
    sent("+12025550105", ago=after + dt.timedelta(minutes=1), gateway="twilio")
    sent("+12025550106", ago=after + dt.timedelta(minutes=1), status=Status.DELIVERED)
    polled = []
    monkeypatch.setattr(SandboxGateway, "fetch_reports", lambda self, refs: polled.append([r.to for r in refs]) or [])
    with time_machine.travel(now, tick=False):
        aftercare.reports_poll(limit=1)
        aftercare.reports_poll()
    assert polled == [["+12025550102"], ["+12025550101", "+12025550102"]]  # the never-polled one first


def test_a_failure_report_stores_the_providers_words_cut_to_fit(shop):
    coded, worded = schedule(shop), schedule(shop)
    deliver([coded.pk, worded.pk])
    coded.refresh_from_db()
    worded.refresh_from_db()
    aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(
        provider_id=coded.provider_id, status=Status.UNDELIVERED, error_code="c" * 40, error_text="t" * 600))
    aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(
        provider_id=worded.provider_id, status=Status.FAILED, error_text="Carrier violation"))
    coded.refresh_from_db()
    worded.refresh_from_db()
    assert (coded.status, coded.error_code, coded.error_text) == (Status.UNDELIVERED, "c" * 32, "t" * 500)
    assert coded.events.order_by("pk").last().parameters == {
        "status": Status.UNDELIVERED, "code": "c" * 32, "text": "t" * 300}
    assert (worded.status, worded.error_code, worded.error_text) == (Status.FAILED, "", "Carrier violation")


def test_reconciliation_asks_only_about_this_gateways_recent_unknown_messages(shop, gateway_errors, lookup_gateway):
    """Asking the wrong provider, or about a message long past its window, would find nothing and send it again."""
    ours = unknown_message(shop, gateway_errors, to="+12025550101")
    other_gateway = unknown_message(shop, gateway_errors, to="+12025550102")
    Message.objects.filter(pk=other_gateway.pk).update(gateway="twilio")
    too_old = unknown_message(shop, gateway_errors, to="+12025550103")
    Message.objects.filter(pk=too_old.pk).update(
        sending_at=timezone.now() - aftercare.REPORT_WINDOW - dt.timedelta(minutes=1))
    settled = unknown_message(shop, gateway_errors, to="+12025550104")
    Message.objects.filter(pk=settled.pk).update(status=Status.SENT)
    lookup_gateway.answers = {"+12025550101": GatewayError("cannot tell", code="503")}
    aftercare.messages_reconcile_unknown()
    assert [to for to, _ref, _since in lookup_gateway.asked] == ["+12025550101"]
    ours.refresh_from_db()
    assert ours.status == Status.UNKNOWN


def test_a_report_without_a_provider_id_matches_no_message(shop):
    """A sent text the provider gave no id (or a malformed callback) must not match any other
    message without one: the report names nothing."""
    message = schedule(shop)
    deliver([message.pk])
    Message.objects.filter(pk=message.pk).update(provider_id="")
    assert aftercare.report_apply(gateway_name="locmem", report=DeliveryReport("", "delivered")) is None
    message.refresh_from_db()
    assert message.status == Status.SENT


# --- the stuck-message rule, message by message --------------------------------------------------


def _later(settings):
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1))


def test_only_an_attempt_of_this_message_since_its_claim_makes_it_maybe_sent(shop, settings):
    """Another message's attempt, this message's other events, or an attempt of an earlier claim
    say nothing about whether this claim reached the gateway."""
    from smsnotify.models import EventType, MessageEvent

    attempted, beside, earlier = schedule(shop), schedule(shop), schedule(shop)
    claimed_at = timezone.now()
    stuck_after_the_attempt(attempted, at=claimed_at)
    for message in (beside, earlier):
        Message.objects.filter(pk=message.pk).update(status=Status.SENDING, sending_at=claimed_at, attempts=1)
    MessageEvent.objects.create(message_id=beside.pk, type=EventType.HELD, status=Status.SENDING,
                                created_at=claimed_at, parameters={})
    MessageEvent.objects.create(message_id=earlier.pk, type=EventType.ATTEMPT, status=Status.SENDING,
                                created_at=claimed_at - dt.timedelta(hours=1), parameters={"attempt": 1})
    with _later(settings):
        assert aftercare.messages_recover_stale() == 3
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert (statuses[attempted.pk], statuses[beside.pk], statuses[earlier.pk]) == (
        Status.UNKNOWN, Status.SCHEDULED, Status.SCHEDULED)
    attempted.refresh_from_db()
    assert (attempted.error_code, attempted.error_text) == (
        "lease_expired", "The worker stopped while handing it to the gateway.")


def test_a_stuck_message_sent_again_is_due_now_not_when_it_was_first_due(shop, settings):
    """Due at its old time, a text scheduled days ago would be expired as too late instead of sent."""
    message = schedule(shop, send_at=timezone.now() - dt.timedelta(days=2))
    Message.objects.filter(pk=message.pk).update(status=Status.SENDING, sending_at=timezone.now(), attempts=1)
    with _later(settings):
        assert aftercare.messages_recover_stale() == 1
        now = timezone.now()
    message.refresh_from_db()
    assert message.status == Status.SCHEDULED and abs(message.send_at - now) < dt.timedelta(seconds=1)


def test_a_thousand_old_rows_in_other_statuses_do_not_hide_a_stuck_one(shop, settings):
    old = timezone.now() - dt.timedelta(hours=1)
    Message.objects.bulk_create([Message(shop=shop, kind="manual", recipient="+12025550123", body="x",
                                         status=Status.SENT, sending_at=old) for _ in range(1000)])
    stuck = schedule(shop)
    Message.objects.filter(pk=stuck.pk).update(status=Status.SENDING, sending_at=timezone.now(), attempts=1)
    with _later(settings):
        assert aftercare.messages_recover_stale() == 1
    stuck.refresh_from_db()
    assert stuck.status == Status.SCHEDULED


def test_stuck_rows_are_recovered_a_thousand_at_a_time(shop, settings):
    now = timezone.now()
    Message.objects.bulk_create([Message(shop=shop, kind="manual", recipient="+12025550123", body="x",
                                         status=Status.SENDING, sending_at=now, attempts=1) for _ in range(1001)])
    with _later(settings):
        assert aftercare.messages_recover_stale() == 1000
        assert aftercare.messages_recover_stale() == 1


# --- what a report tells the delivery policies ----------------------------------------------------


@pytest.mark.parametrize(("code", "text", "summary"), [
    ("30003", "Unreachable handset", "Provider reports undelivered (30003 Unreachable handset)"),
    ("30003", "", "Provider reports undelivered (30003)"),
    ("", "Unreachable handset", "Provider reports undelivered (Unreachable handset)"),
    ("", "", "Provider reports undelivered"),
])
def test_a_report_settles_the_policies_with_its_status_billing_and_why(shop, policy_calls, code, text, summary):
    from tests.smsnotify import policies

    message = schedule(shop)
    deliver([message.pk])
    message.refresh_from_db()
    with override_settings(SMS_DELIVERY_POLICIES=[policies.path(policies.SummaryRecorder)]):
        aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(
            message.provider_id, Status.UNDELIVERED, error_code=code, error_text=text, billed=False))
    assert policy_calls == [("summary", "settle", [(message.pk, Status.UNDELIVERED, False, summary)])]


# --- polling ---------------------------------------------------------------------------------------


@override_settings(SMS_GATEWAY="smsnotify.gateways.sandbox.SandboxGateway", SANDBOX_DELIVERY_SECONDS=2)
def test_polling_names_each_message_by_id_number_and_when_it_was_sent_two_hundred_at_a_time(shop, monkeypatch):
    from smsnotify.gateways.base import SentRef
    from smsnotify.gateways.sandbox import SandboxGateway

    sent_at = timezone.now() - dt.timedelta(minutes=5)
    Message.objects.bulk_create([
        Message(shop=shop, kind="manual", recipient=f"+1202555{n:04d}", body="x", status=Status.SENT,
                gateway="sandbox", provider_id=f"SB{n}", sent_at=sent_at) for n in range(201)])
    asked = []
    monkeypatch.setattr(SandboxGateway, "fetch_reports", lambda self, refs: asked.append(refs) or [])
    aftercare.reports_poll()
    assert len(asked[0]) == 200
    for ref in asked[0]:
        message = Message.objects.get(provider_id=ref.provider_id)
        assert ref == SentRef(message.provider_id, message.recipient, sent_at)


def test_each_message_found_counts_and_reads_sent_without_its_old_error(shop, gateway_errors, lookup_gateway, caplog):
    first = unknown_message(shop, gateway_errors, to="+12025550141")
    second = unknown_message(shop, gateway_errors, to="+12025550142")
    broken = unknown_message(shop, gateway_errors, to="+12025550143")
    assert first.error_code  # the ambiguous failure's
    lookup_gateway.answers = {"+12025550141": SendResult(provider_id="SM-1"),
                              "+12025550142": SendResult(provider_id="SM-2"),
                              "+12025550143": GatewayError("provider API down", code="503")}
    with caplog.at_level("WARNING", logger="smsnotify.aftercare"):
        assert aftercare.messages_reconcile_unknown() == 2
    for message in (first, second):
        message.refresh_from_db()
        assert (message.status, message.error_code, message.error_text) == (Status.SENT, "", "")
    [record] = [r for r in caplog.records if r.name == "smsnotify.aftercare"]
    assert record.getMessage() == f"Could not reconcile message {broken.pk}" and record.exc_info[0] is GatewayError


def test_a_message_is_sent_again_only_once_the_grace_is_over_not_at_its_last_second(
        shop, gateway_errors, lookup_gateway, settings):
    message = unknown_message(shop, gateway_errors, to="+12025550151")
    lookup_gateway.answers = {"+12025550151": None}
    grace = dt.timedelta(seconds=settings.SMS_RECONCILE_GRACE_SECONDS)
    with time_machine.travel(message.sending_at + grace, tick=False):
        assert aftercare.messages_reconcile_unknown() == 0
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
