"""The outbox on SQLite with the locmem gateway: scheduling, dispatch, delivery, failures."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from smsnotify import history as message_history, outbox
from smsnotify.gateways import AmbiguousGatewayError, PermanentGatewayError, TransientGatewayError, get_gateway
from smsnotify.gateways.base import DeliveryReport
from smsnotify.models import Kind, Message, SmsSettings, Status
from smsnotify.phones import InvalidPhoneNumber
from tests.delivery import deliver, deliver_one
from smsnotify import aftercare

pytestmark = pytest.mark.django_db


def schedule(shop, **kwargs):
    defaults = dict(shop=shop, to="+12025550123", body="Hello from the shop", kind=Kind.MANUAL)
    return outbox.message_schedule(**{**defaults, **kwargs})


def history(message):
    return list(message.events.values_list("status", flat=True))


def test_send_now_is_delivered_on_commit(shop, sms_outbox, on_commit):
    with on_commit():
        message = schedule(shop, to="(202) 555-0123")
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.recipient == "+12025550123"
    assert message.sender == "TestShop"
    assert message.provider_id.startswith("LM")
    assert message.attempts == 1
    assert [(sms.to, sms.body, sms.sender) for sms in sms_outbox] == [("+12025550123", "Hello from the shop", "TestShop")]
    assert history(message) == [Status.SCHEDULED, Status.SENDING, Status.SENT]


def test_message_stores_encoding_and_segments(shop):
    message = schedule(shop, body="Zażółć gęślą jaźń " * 5)
    assert (message.encoding, message.segments) == ("UCS-2", 2)


def test_same_dedupe_key_schedules_once(shop, sms_outbox, on_commit):
    with on_commit():
        first = schedule(shop, dedupe_key="order:1:status:shipped")
        second = schedule(shop, dedupe_key="order:1:status:shipped", body="different text")
    assert first.pk == second.pk
    assert Message.objects.count() == 1
    assert len(sms_outbox) == 1


def test_dedupe_key_is_per_shop(shop):
    from tests.factories import make_shop

    other = make_shop()
    schedule(shop, dedupe_key="order:1:status:shipped")
    schedule(other, dedupe_key="order:1:status:shipped")
    assert Message.objects.count() == 2


@pytest.mark.parametrize("bad", ["", "not a number", "+1 202", "12345", "+999123456789"])
def test_invalid_recipient_never_reaches_the_outbox(shop, bad):
    with pytest.raises(InvalidPhoneNumber):
        schedule(shop, to=bad)
    assert Message.objects.count() == 0


def test_national_number_uses_the_shops_country(db):
    from tests.factories import make_shop

    polish = make_shop(country="PL")
    assert schedule(polish, to="601 234 567").recipient == "+48601234567"


def test_empty_body_is_refused(shop):
    with pytest.raises(ValidationError):
        schedule(shop, body="   ")
    assert Message.objects.count() == 0


def test_inactive_shop_cancels_with_a_reason(shop, sms_outbox, on_commit):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with on_commit():
        message = schedule(shop)
    assert (message.status, message.error_code) == (Status.CANCELLED, "sms_inactive")
    assert message_history.error_text(message) == "Not sent: SMS is switched off for this shop."
    assert message_history.event_text(message.events.get()) == "Not sent: SMS is switched off for this shop."
    assert sms_outbox == []


def test_switching_sms_off_before_delivery_cancels(shop, sms_outbox, on_commit):
    message = schedule(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with on_commit():
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert sms_outbox == []


def test_future_message_waits_for_its_time(shop, sms_outbox, on_commit):
    message = schedule(shop, send_at=timezone.now() + dt.timedelta(days=2))
    assert outbox.messages_dispatch_due() == 0
    assert sms_outbox == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, seconds=1)), on_commit():
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


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
    assert message_history.event_text(message.events.last()) == "Gave up after 3 attempts: 20429: busy."
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


def test_merchant_can_send_an_unknown_message_again(shop, sms_outbox, gateway_errors, on_commit):
    message = schedule(shop)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    deliver([message.pk])
    with on_commit():
        assert outbox.message_send_again(message=message)
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


def test_unexpected_gateway_bug_marks_unknown(shop, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(RuntimeError("boom"))
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert "boom" in message.error_text


def test_message_stuck_in_sending_becomes_unknown_after_the_lease(shop, sms_outbox, settings):
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(status=Status.SENDING, sending_at=timezone.now())
    assert aftercare.messages_recover_stale() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1)):
        assert aftercare.messages_recover_stale() == 1
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.error_code == "lease_expired"
    assert sms_outbox == []


def test_lost_doorbell_is_rung_again(shop, sms_outbox, settings, django_capture_on_commit_callbacks):
    message = schedule(shop)
    with django_capture_on_commit_callbacks(execute=False):  # the broker dropped the task
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert sms_outbox == []
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS + 1)):
        with django_capture_on_commit_callbacks(execute=True):
            outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


def test_message_far_past_due_expires(shop, sms_outbox, settings):
    message = schedule(shop, send_at=timezone.now() - dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS, minutes=1))
    outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "expired")
    assert sms_outbox == []


def test_cancel_only_before_sending(shop):
    waiting = schedule(shop, send_at=timezone.now() + dt.timedelta(hours=1))
    assert outbox.message_cancel(message=waiting)
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    sent = schedule(shop)
    deliver([sent.pk])
    assert not outbox.message_cancel(message=sent)


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
