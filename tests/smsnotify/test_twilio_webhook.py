"""Twilio's delivery-status callback: signed callbacks move a message, forged ones change nothing."""

import pytest
from django.urls import reverse

from smsnotify import outbox
from smsnotify.models import Kind, Message, Status
from tests.fakes.twilio_server import sign

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://sms.example.com/webhooks/twilio/status/"


@pytest.fixture
def sent_message(shop, settings):
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="hi", kind=Kind.MANUAL)
    Message.objects.filter(pk=message.pk).update(status=Status.SENT, gateway="twilio", provider_id="SM" + "a" * 32)
    return message


def callback(status, **extra):
    from django.conf import settings

    return {"MessageSid": "SM" + "a" * 32, "SmsSid": "SM" + "a" * 32, "MessageStatus": status,
            "AccountSid": settings.TWILIO_ACCOUNT_SID, "To": "+12025550123", "From": "TestShop", **extra}


def post(client, params, signature):
    return client.post(reverse("webhooks:twilio-status"), params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_signed_callback_moves_the_status(client, sent_message, settings):
    params = callback("delivered")
    response = post(client, params, sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN))
    assert response.status_code == 204
    sent_message.refresh_from_db()
    assert sent_message.status == Status.DELIVERED


def test_failure_callback_records_the_code(client, sent_message, settings):
    params = callback("undelivered", ErrorCode="30003", ErrorMessage="Unreachable destination handset")
    post(client, params, sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN))
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.error_code) == (Status.UNDELIVERED, "30003")


@pytest.mark.parametrize("forge", ["wrong token", "tampered body", "no header", "http url behind the proxy"])
def test_forged_callback_is_403_and_changes_nothing(client, sent_message, settings, forge):
    params = callback("delivered")
    signature = {
        "wrong token": sign(PUBLIC_URL, params, "not-the-token"),
        "tampered body": sign(PUBLIC_URL, callback("failed"), settings.TWILIO_AUTH_TOKEN),
        "no header": "",
        "http url behind the proxy": sign("http://testserver/webhooks/twilio/status/", params,
                                          settings.TWILIO_AUTH_TOKEN),
    }[forge]
    response = post(client, params, signature)
    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == Status.SENT
    assert not sent_message.events.filter(status=Status.DELIVERED).exists()


def test_callback_for_another_account_is_403(client, sent_message, settings):
    params = callback("delivered", AccountSid="AC" + "f" * 32)
    response = post(client, params, sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN))
    assert response.status_code == 403
    sent_message.refresh_from_db()
    assert sent_message.status == Status.SENT


def test_without_public_base_url_the_request_url_is_signed(client, sent_message, settings):
    settings.PUBLIC_BASE_URL = ""
    params = callback("delivered")
    response = post(client, params, sign("http://testserver/webhooks/twilio/status/", params,
                                         settings.TWILIO_AUTH_TOKEN))
    assert response.status_code == 204


def test_get_is_not_allowed(client):
    assert client.get(reverse("webhooks:twilio-status")).status_code == 405


def test_unknown_message_sid_is_acknowledged_without_change(client, sent_message, settings):
    # Acknowledged (204), so Twilio stops retrying a report about a message that is not ours;
    # our message, whose provider id differs, must not move.
    params = callback("delivered", MessageSid="SM" + "b" * 32, SmsSid="SM" + "b" * 32)
    response = post(client, params, sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN))
    assert response.status_code == 204
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.delivered_at) == (Status.SENT, None)
    assert not sent_message.events.filter(status=Status.DELIVERED).exists()
    assert Message.objects.count() == 1  # nothing created for the unknown id either


def test_signed_callback_without_message_sid_is_400_and_stores_nothing(client, sent_message, settings):
    params = callback("delivered")
    del params["MessageSid"], params["SmsSid"]
    response = post(client, params, sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN))
    assert response.status_code == 400
    sent_message.refresh_from_db()
    assert (sent_message.status, sent_message.delivered_at) == (Status.SENT, None)
    assert not sent_message.events.filter(status=Status.DELIVERED).exists()
    assert Message.objects.count() == 1


def test_a_callback_repeated_with_its_idempotency_token_is_recognised(client, sent_message, settings):
    params = callback("delivered")
    signature = sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN)
    assert post_with_token(client, params, signature, "tok-1").status_code == 204
    Message.objects.filter(pk=sent_message.pk).update(status=Status.SENT)  # so a second apply would show
    assert post_with_token(client, params, signature, "tok-1").status_code == 204
    assert Message.objects.get(pk=sent_message.pk).status == Status.SENT  # the repeat was not applied again
    assert post_with_token(client, params, signature, "tok-2").status_code == 204
    assert Message.objects.get(pk=sent_message.pk).status == Status.DELIVERED


def test_a_callback_that_failed_is_handled_when_twilio_retries_it(client, sent_message, settings):
    from unittest import mock

    params = callback("delivered")
    signature = sign(PUBLIC_URL, params, settings.TWILIO_AUTH_TOKEN)
    client.raise_request_exception = False
    with mock.patch("smsnotify.aftercare.report_apply", side_effect=RuntimeError("database away")):
        assert post_with_token(client, params, signature, "tok-3").status_code == 500
    assert post_with_token(client, params, signature, "tok-3").status_code == 204
    assert Message.objects.get(pk=sent_message.pk).status == Status.DELIVERED


def post_with_token(client, params, signature, token):
    return client.post(reverse("webhooks:twilio-status"), params, HTTP_X_TWILIO_SIGNATURE=signature,
                       HTTP_I_TWILIO_IDEMPOTENCY_TOKEN=token)
