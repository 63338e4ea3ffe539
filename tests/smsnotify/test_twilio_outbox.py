"""The outbox through the real twilio SDK, against the local Twilio-compatible server."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from smsnotify import outbox
from smsnotify.delivery import messages_deliver
from smsnotify.models import Kind, Status
from tests.fakes.twilio_server import Delay, Reply
from smsnotify import aftercare

pytestmark = pytest.mark.django_db


@pytest.fixture
def twilio_settings(settings, twilio_server):
    settings.SMS_GATEWAY = "smsnotify.gateways.twilio.TwilioGateway"
    settings.TWILIO_ACCOUNT_SID = twilio_server.account_sid
    settings.TWILIO_AUTH_TOKEN = twilio_server.auth_token
    settings.TWILIO_API_BASE_URL = twilio_server.base_url
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.TWILIO_TIMEOUT = 0.5
    return twilio_server


def deliver(shop, to="+12025550123"):
    message = outbox.message_schedule(shop=shop, to=to, body="Your order has shipped", kind=Kind.ORDER_STATUS)
    messages_deliver(message_ids=[message.pk])
    message.refresh_from_db()
    return message


def test_sent_through_the_sdk_with_status_callback(shop, twilio_settings):
    message = deliver(shop)
    assert message.status == Status.SENT
    (post,) = twilio_settings.posts
    assert post.form["To"] == "+12025550123"
    assert post.form["From"] == "TestShop"
    assert post.form["Body"] == "Your order has shipped"
    assert post.form["StatusCallback"] == "https://sms.example.com/webhooks/twilio/status/"
    assert "MessagingServiceSid" not in post.form
    assert list(twilio_settings.messages) == [message.provider_id]


def test_invalid_number_fails_permanently_with_21211(shop, twilio_settings):
    twilio_settings.script(Reply(status=400, code=21211))
    message = deliver(shop)
    assert (message.status, message.error_code) == (Status.FAILED, "21211")
    assert outbox.messages_dispatch_due() == 0


def test_rate_limit_is_retried(shop, twilio_settings, on_commit):
    twilio_settings.script(Reply(status=429, code=20429))
    message = deliver(shop)
    assert message.status == Status.SCHEDULED
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)), on_commit():
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(twilio_settings.posts) == 2
    assert len(twilio_settings.messages) == 1


def test_read_timeout_is_unknown_then_reconciled_never_sent_twice(shop, twilio_settings):
    twilio_settings.script(Delay(1.5))
    message = deliver(shop)
    assert message.status == Status.UNKNOWN
    assert twilio_settings.wait_idle()
    outbox.messages_dispatch_due()
    aftercare.messages_recover_stale()
    (created,) = twilio_settings.messages.values()
    twilio_settings.set_status(created["sid"], "sent")
    assert aftercare.messages_reconcile_unknown() == 1
    message.refresh_from_db()
    assert (message.status, message.provider_id) == (Status.SENT, created["sid"])
    assert len(twilio_settings.posts) == 1


def test_refused_connection_is_retried(shop, settings):
    settings.SMS_GATEWAY = "smsnotify.gateways.twilio.TwilioGateway"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    message = deliver(shop)
    assert message.status == Status.SCHEDULED
    assert message.attempts == 1
