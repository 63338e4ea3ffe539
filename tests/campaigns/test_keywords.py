"""Incoming texts through the signed Twilio webhook: stored once, linked to the customer, and read
as STOP / START / HELP / YES in the shop's language; after STOP nothing more reaches the number."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from campaigns.keywords import consent_request_send, keyword_of
from campaigns.models import OptOut
from shop.models import ConsentSource, MarketingConsent
from smsnotify.models import Direction, Kind, Message, SmsSettings, Status
from smsnotify.outbox import message_schedule
from smsnotify.gateways.sandbox import SandboxGateway
from tests.delivery import deliver
from tests.factories import CustomerFactory, make_shop
from tests.fakes.twilio_server import sign

pytestmark = pytest.mark.django_db

URL = "https://sms.example.com/webhooks/twilio/inbound/"
SHOP_NUMBER = "+12025550100"
CUSTOMER = "+12025550123"
_sid = iter(range(10_000, 99_999))


@pytest.fixture
def texting_shop(db):
    """A shop that sends from its own Twilio number (so its customers' replies reach it)."""
    def make(language="en", country="US", number=SHOP_NUMBER):
        shop = make_shop(language=language, country=country, credits=10_000)
        SmsSettings.objects.filter(shop=shop).update(sender=number)
        return shop
    return make


def inbound(body, *, sender=CUSTOMER, to=SHOP_NUMBER, sid=None, **extra):
    from django.conf import settings

    return {"MessageSid": sid or f"SM{next(_sid):032d}", "AccountSid": settings.TWILIO_ACCOUNT_SID, "From": sender,
            "To": to, "Body": body, "NumMedia": "0", **extra}


def post(client, params, *, token=None):
    from django.conf import settings

    signature = sign(URL, params, token or settings.TWILIO_AUTH_TOKEN)
    return client.post(reverse("webhooks:twilio-inbound"), params, HTTP_X_TWILIO_SIGNATURE=signature)


def replies(shop):
    return list(Message.objects.filter(shop=shop, kind=Kind.KEYWORD_REPLY).order_by("pk").values_list("body", flat=True))


def test_a_text_is_stored_once_linked_to_its_customer_and_answered_with_twiml(client, texting_shop):
    shop = texting_shop()
    customer = CustomerFactory(shop=shop, phone=CUSTOMER)
    params = inbound("Is my order on its way?")
    for _ in range(2):  # Twilio retries a webhook it thinks failed
        response = post(client, params)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/xml")
        assert response.content.decode().endswith("<Response />")
    received = Message.objects.get(direction=Direction.INBOUND)
    assert (received.shop, received.customer, received.recipient, received.body, received.kind) == (
        shop, customer, CUSTOMER, "Is my order on its way?", Kind.INBOUND)
    assert received.provider_id == params["MessageSid"]
    assert not replies(shop)  # an ordinary text is not answered


@pytest.mark.parametrize("forge", ["wrong token", "tampered body", "no signature", "another account"])
def test_a_forged_inbound_webhook_is_403_and_stores_nothing(client, texting_shop, forge, settings):
    texting_shop()
    params = inbound("STOP")
    if forge == "wrong token":
        response = post(client, params, token="not-the-token")
    elif forge == "tampered body":
        signature = sign(URL, params, settings.TWILIO_AUTH_TOKEN)
        response = client.post(reverse("webhooks:twilio-inbound"), {**params, "Body": "START"},
                               HTTP_X_TWILIO_SIGNATURE=signature)
    elif forge == "no signature":
        response = client.post(reverse("webhooks:twilio-inbound"), params)
    else:
        response = post(client, {**params, "AccountSid": "AC" + "f" * 32})
    assert response.status_code == 403
    assert not Message.objects.filter(direction=Direction.INBOUND).exists()
    assert not OptOut.objects.exists()


def test_a_signed_webhook_without_a_sender_is_a_400(client, texting_shop):
    texting_shop()
    params = inbound("hi")
    del params["From"]
    assert post(client, params).status_code == 400
    assert not Message.objects.exists()


def test_a_text_to_a_number_no_shop_uses_is_dropped_without_error(client, texting_shop):
    texting_shop()
    response = post(client, inbound("STOP", sender="+12025550999", to="+12025550888"))
    assert response.status_code == 200
    assert not Message.objects.exists() and not OptOut.objects.exists()


def test_a_shared_number_routes_the_reply_to_the_shop_that_texted_the_customer_last(client, texting_shop):
    first, second, third = texting_shop(number=""), texting_shop(number=""), texting_shop(number="")
    now = timezone.now()
    for shop, body, sent_at in [(first, "old", now - dt.timedelta(hours=2)), (second, "newer", now - dt.timedelta(hours=1))]:
        sent = message_schedule(shop=shop, to=CUSTOMER, body=body, kind=Kind.MANUAL)
        Message.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=sent_at)
    message_schedule(shop=third, to=CUSTOMER, body="written last, never left", kind=Kind.MANUAL)
    post(client, inbound("STOP", to="+15005550006"))
    assert list(OptOut.objects.values_list("shop", flat=True)) == [second.pk]  # the last text the customer got


@pytest.mark.parametrize("language, stop, start, help_word", [
    ("en", "stop", "start", "help"),
    ("en", "Unsubscribe.", "UNSTOP", "INFO"),
    ("pl", "NIE", "start", "pomoc"),
    ("pt", "parar", "iniciar", "AJUDA"),
    ("pt", "Cancelar!", "START", "help"),
])
def test_stop_start_and_help_in_the_shops_language(client, texting_shop, language, stop, start, help_word):
    shop = texting_shop(language=language, country={"en": "US", "pl": "PL", "pt": "PT"}[language])
    customer = CustomerFactory(shop=shop, phone=CUSTOMER, marketing_consent=MarketingConsent.GRANTED)
    post(client, inbound(stop))
    assert OptOut.objects.filter(shop=shop, phone=CUSTOMER, source=OptOut.Source.KEYWORD).exists()
    customer.refresh_from_db()
    assert (customer.marketing_consent, customer.marketing_consent_source) == (MarketingConsent.REVOKED,
                                                                               ConsentSource.SMS)
    post(client, inbound(start))
    assert not OptOut.objects.exists()
    customer.refresh_from_db()
    assert customer.marketing_consent == MarketingConsent.REVOKED  # START lets texts through; it is not consent
    post(client, inbound(help_word))
    stopped, started, helped = replies(shop)
    expected = {
        "en": ("no more texts from us", "our texts again", "Reply STOP to stop them"),
        "pl": ("nie otrzymasz już od nas", "znów będziesz", "Odpowiedz STOP"),
        "pt": ("não receberá mais", "voltará a receber", "Responda STOP"),
    }[language]
    assert expected[0] in stopped and expected[1] in started and expected[2] in helped


def test_after_stop_the_confirmation_leaves_and_then_nothing_at_all(client, texting_shop, sms_outbox, on_commit):
    shop = texting_shop()
    CustomerFactory(shop=shop, phone=CUSTOMER)
    waiting = message_schedule(shop=shop, to=CUSTOMER, body="Your order shipped", kind=Kind.ORDER_STATUS,
                               send_at=timezone.now() + dt.timedelta(hours=1))  # written before the STOP
    with on_commit():
        post(client, inbound("STOP"))
    assert [sms.body for sms in sms_outbox] == replies(shop)  # the confirmation went out
    later = message_schedule(shop=shop, to=CUSTOMER, body="A text by hand", kind=Kind.MANUAL)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        deliver([waiting.pk, later.pk])
    for message in (waiting, later):
        message.refresh_from_db()
        assert (message.status, message.error_code, message.credits_charged) == (Status.SUPPRESSED, "opted_out", 0)
    assert len(sms_outbox) == 1
    with on_commit():
        post(client, inbound("START"))
    again = message_schedule(shop=shop, to=CUSTOMER, body="Back", kind=Kind.MANUAL)
    deliver([again.pk])
    again.refresh_from_db()
    assert again.status == Status.SENT


def test_twilios_opt_out_type_is_trusted_first_and_twilio_answers_it(client, texting_shop):
    shop = texting_shop()
    post(client, inbound("Please no more", OptOutType="STOP"))  # Twilio's reading wins over ours (not a keyword)
    assert OptOut.objects.get(shop=shop).source == OptOut.Source.PROVIDER
    post(client, inbound("STOP", OptOutType="START"))  # a custom Twilio keyword list said START
    assert not OptOut.objects.exists()
    post(client, inbound("HELP", OptOutType="HELP"))
    assert not replies(shop)  # Twilio has answered each of them itself


@pytest.mark.usefixtures("daytime")
def test_yes_to_a_consent_request_grants_marketing_consent_with_its_proof(client, texting_shop, on_commit):
    shop = texting_shop(language="pl", country="PL", number="+48601000100")
    number = "+48601234567"
    customer = CustomerFactory(shop=shop, phone=number)
    with on_commit():
        request = consent_request_send(customer=customer)
    request.refresh_from_db()
    assert request.status == Status.SENT and "Odpowiedz TAK" in request.body  # the local YES
    post(client, inbound("tak", sender=number, to="+48601000100"))
    customer.refresh_from_db()
    assert (customer.marketing_consent, customer.marketing_consent_source) == (MarketingConsent.GRANTED,
                                                                               ConsentSource.SMS)
    assert customer.marketing_consent_text == f"{request.body}\n> tak"
    assert "dziękujemy" in replies(shop)[0].lower()


def test_yes_to_a_request_that_never_left_grants_nothing(client, texting_shop):
    shop = texting_shop()
    customer = CustomerFactory(shop=shop, phone=CUSTOMER)
    request = consent_request_send(customer=customer)  # still waiting (never rung here)
    post(client, inbound("YES"))
    customer.refresh_from_db()
    assert customer.marketing_consent == MarketingConsent.UNKNOWN
    Message.objects.filter(pk=request.pk).update(status=Status.CANCELLED)  # the merchant cancelled it
    post(client, inbound("YES"))
    customer.refresh_from_db()
    assert customer.marketing_consent == MarketingConsent.UNKNOWN


def test_yes_without_a_recent_request_is_only_a_start(client, texting_shop):
    shop = texting_shop()
    customer = CustomerFactory(shop=shop, phone=CUSTOMER)
    with time_machine.travel(timezone.now() - dt.timedelta(days=31)):
        old = consent_request_send(customer=customer)
    Message.objects.filter(pk=old.pk).update(status=Status.DELIVERED)
    post(client, inbound("YES"))
    customer.refresh_from_db()
    assert customer.marketing_consent == MarketingConsent.UNKNOWN


def test_a_consent_request_is_not_sent_to_who_agreed_refused_opted_out_or_has_no_number(texting_shop):
    shop = texting_shop()
    agreed = CustomerFactory(shop=shop, marketing_consent=MarketingConsent.GRANTED)
    refused = CustomerFactory(shop=shop, marketing_consent=MarketingConsent.REVOKED)
    stopped = CustomerFactory(shop=shop, phone="+12025550177")
    OptOut.objects.create(shop=shop, phone="+12025550177")
    no_number = CustomerFactory(shop=shop, phone="")
    assert [consent_request_send(customer=c) for c in (agreed, refused, stopped, no_number)] == [None] * 4
    asked = CustomerFactory(shop=shop)
    first = consent_request_send(customer=asked)
    assert consent_request_send(customer=asked) == first  # once a month, whoever clicks twice


def test_the_merchants_help_reply(client, texting_shop):
    shop = texting_shop()
    shop.marketing_settings.help_reply = "Call us on 202-555-0100."
    shop.marketing_settings.save()
    post(client, inbound("HELP"))
    assert replies(shop) == ["Call us on 202-555-0100."]


@pytest.mark.parametrize("body", ["stop it please", "STOP STOP", "", "stopp", "YESS"])
def test_only_a_keyword_alone_is_a_keyword(body):
    assert keyword_of(body, language="en") is None


def test_local_words_count_only_in_their_language():
    assert keyword_of("NIE", language="pl") == "stop"
    assert keyword_of("NIE", language="en") is None
    assert keyword_of("sair", language="pt") == "stop"


def test_a_provider_refusal_because_the_number_opted_out_joins_the_shops_list(texting_shop, sms_outbox):
    shop = texting_shop()
    customer = CustomerFactory(shop=shop, phone="+15005550004", marketing_consent=MarketingConsent.GRANTED)
    refused = message_schedule(shop=shop, to="+15005550004", body="hi", kind=Kind.MANUAL)
    deliver([refused.pk], gateway=SandboxGateway())
    refused.refresh_from_db()
    assert (refused.status, refused.error_code) == (Status.FAILED, "21610")
    assert OptOut.objects.get(shop=shop).source == OptOut.Source.PROVIDER
    customer.refresh_from_db()
    assert customer.marketing_consent == MarketingConsent.REVOKED
    later = message_schedule(shop=shop, to="+15005550004", body="again", kind=Kind.MANUAL)
    deliver([later.pk], gateway=SandboxGateway())
    later.refresh_from_db()
    assert (later.status, later.error_code) == (Status.SUPPRESSED, "opted_out")  # not tried, not paid


def test_an_inbound_webhook_repeated_with_its_idempotency_token_is_handled_once(client, texting_shop):
    shop = texting_shop()
    for sid in ("SM" + "1" * 32, "SM" + "2" * 32):  # a different MessageSid: only the token says "seen"
        params = inbound("HELP", sid=sid)
        response = client.post(reverse("webhooks:twilio-inbound"), params,
                               HTTP_X_TWILIO_SIGNATURE=sign(URL, params, "test-auth-token"),
                               HTTP_I_TWILIO_IDEMPOTENCY_TOKEN="in-tok-1")
        assert response.status_code == 200 and response.content.decode().endswith("<Response />")
    assert len(replies(shop)) == 1
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


def test_a_number_sender_is_one_shops_and_a_reply_is_never_given_to_another(client, texting_shop):
    from django.core.exceptions import ValidationError

    owner = texting_shop()
    other = texting_shop(number="")
    settings_row = SmsSettings.objects.get(shop=other)
    settings_row.sender = "+1 202 555 0100"  # the owner's number, typed with spaces
    with pytest.raises(ValidationError) as refused:
        settings_row.full_clean()
    assert "another shop" in str(refused.value)
    SmsSettings.objects.filter(shop=other).update(sender=SHOP_NUMBER)  # a legacy duplicate, written around it
    sent = message_schedule(shop=owner, to=CUSTOMER, body="yours", kind=Kind.MANUAL)
    Message.objects.filter(pk=sent.pk).update(status=Status.SENT, sent_at=timezone.now())
    post(client, inbound("STOP"))
    assert list(OptOut.objects.values_list("shop", flat=True)) == [owner.pk]  # the one that texted them


def test_a_webhook_is_handled_when_the_cache_is_down(client, texting_shop):
    from unittest import mock

    shop = texting_shop()
    with mock.patch("smsnotify.webhooks.cache.get", side_effect=ConnectionError("redis away")), \
            mock.patch("smsnotify.webhooks.cache.set", side_effect=ConnectionError("redis away")):
        params = inbound("HELP")
        response = client.post(reverse("webhooks:twilio-inbound"), params,
                               HTTP_X_TWILIO_SIGNATURE=sign(URL, params, "test-auth-token"),
                               HTTP_I_TWILIO_IDEMPOTENCY_TOKEN="tok")
    assert response.status_code == 200 and len(replies(shop)) == 1
