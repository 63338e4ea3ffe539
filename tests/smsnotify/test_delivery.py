"""smsnotify/delivery.py: a delivery run claims, asks the gateway and records each outcome."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from smsnotify import aftercare, history as message_history, outbox
from smsnotify.gateways import AmbiguousGatewayError, PermanentGatewayError, TransientGatewayError, get_gateway
from smsnotify.models import Status
from tests.delivery import deliver, deliver_one
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


def test_unexpected_gateway_bug_marks_unknown(shop, gateway_errors):
    message = schedule(shop)
    gateway_errors.append(RuntimeError("boom"))
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert "boom" in message.error_text

