"""The SMS settings page's test text (smsnotify/gateway_check.py): sent at once through the
configured gateway, the provider's answer in plain words, charged and in the history, limited."""

import pytest
from django.urls import reverse

from credits.selectors import credit_balance
from campaigns.models import OptOut
from smsnotify.gateways import AmbiguousGatewayError, PermanentGatewayError, TransientGatewayError
from smsnotify.models import EventType, Kind, Message, SmsSettings, Status
from tests.factories import make_merchant, make_shop
from tests.fakes.twilio_server import Reply
from tests.smsnotify import policies

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    return make_shop(name="Acme", credits=1000)


@pytest.fixture
def merchant(client, shop):
    client.force_login(make_merchant(shop, "anna"))
    return client


def page(shop) -> str:
    return reverse("admin:smsnotify_smssettings_test_text", args=[SmsSettings.objects.get(shop=shop).pk])


def send(client, shop, to="+12025550123"):
    """POST the form and follow to the page that shows the answer."""
    return client.post(page(shop), {"to": to}, follow=True)


def shown(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_settings_page_links_to_the_test_text(merchant, shop):
    settings_page = reverse("admin:smsnotify_smssettings_change", args=[SmsSettings.objects.get(shop=shop).pk])
    assert page(shop) in merchant.get(settings_page).content.decode()
    form = merchant.get(page(shop)).context["form"]
    assert str(form["to"].value()) == "+12025550199"  # the merchant's own number, offered


def test_an_accepted_text_shows_the_providers_id_and_is_charged_and_in_the_history(merchant, shop, sms_outbox):
    response = send(merchant, shop)

    message = Message.objects.get(shop=shop)
    assert (message.kind, message.status, message.recipient) == (Kind.GATEWAY_TEST, Status.SENT, "+12025550123")
    assert message.provider_id.startswith("LM")
    (answer,) = shown(response)
    assert f"Sent to +12025550123: the provider accepted it as {message.provider_id}." in answer
    assert reverse("admin:smsnotify_message_change", args=[message.pk]) in answer
    assert [sms.body for sms in sms_outbox] == ["Test text from Acme: your SMS settings work."]
    assert sms_outbox[0].sender == "TestShop"
    assert message.credits_charged == 12 and credit_balance(shop) == 1000 - 12
    assert message.events.filter(type=EventType.SCHEDULED, user__username="anna").exists()


def test_an_invalid_number_refused_by_the_provider_reads_in_plain_words(merchant, shop, gateway_errors):
    gateway_errors.append(PermanentGatewayError("The 'To' number is not a valid phone number.", code="21211"))

    response = send(merchant, shop)

    (answer,) = shown(response)
    assert "The provider refused the test text: the number is not valid (21211)." in answer
    message = Message.objects.get(shop=shop)
    assert (message.status, message.error_code, message.credits_charged) == (Status.FAILED, "21211", 0)
    assert credit_balance(shop) == 1000  # refunded: the provider did not bill it


def test_through_twilio_a_21211_reads_in_plain_words(merchant, shop, settings, twilio_server):
    settings.SMS_GATEWAY = "smsnotify.gateways.twilio.TwilioGateway"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = twilio_server.account_sid, twilio_server.auth_token
    settings.TWILIO_API_BASE_URL, settings.TWILIO_FROM_NUMBER = twilio_server.base_url, "+15005550006"
    settings.TWILIO_MESSAGING_SERVICE_SID, settings.TWILIO_TIMEOUT = "", 0.5
    twilio_server.script(Reply(status=400, code=21211))

    refused = shown(send(merchant, shop))
    accepted = shown(send(merchant, shop))

    assert "the number is not valid (21211)" in refused[0]
    sid = Message.objects.get(shop=shop, status=Status.SENT).provider_id
    assert sid.startswith("SM") and f"accepted it as {sid}" in accepted[0]
    assert [post.form["To"] for post in twilio_server.posts] == ["+12025550123", "+12025550123"]


def test_a_temporary_failure_is_not_retried_and_says_so(merchant, shop, gateway_errors):
    gateway_errors.append(TransientGatewayError("Could not connect to Twilio: refused", code="connect"))

    response = send(merchant, shop)

    (answer,) = shown(response)
    assert answer.startswith("Not sent: the SMS provider could not be reached (connect). This is temporary; "
                             "try again in a few minutes.")
    message = Message.objects.get(shop=shop)
    assert (message.status, message.error_code) == (Status.FAILED, "connect")  # not left to a retry an hour later
    assert message.events.order_by("pk").last().parameters["reason"] == "test_not_retried"
    assert credit_balance(shop) == 1000


def test_an_ambiguous_answer_says_it_may_have_been_sent(merchant, shop, gateway_errors):
    gateway_errors.append(AmbiguousGatewayError("No answer from Twilio in time", code="timeout"))

    (answer,) = shown(send(merchant, shop))

    assert "No clear answer from the provider (no answer from the SMS provider in time (timeout))" in answer
    assert Message.objects.get(shop=shop).status == Status.UNKNOWN


def test_a_gateway_that_raises_anything_is_no_500(merchant, shop, gateway_errors):
    gateway_errors.append(RuntimeError("boom"))  # a bug in a backend, not a GatewayError

    response = send(merchant, shop)

    assert response.status_code == 200
    assert "No clear answer from the provider" in shown(response)[0]


def test_a_crash_before_the_gateway_is_no_500_and_no_later_send(merchant, shop, settings, sms_outbox):
    settings.SMS_DELIVERY_POLICIES = [policies.path(policies.Broken), *settings.SMS_DELIVERY_POLICIES]

    response = send(merchant, shop)

    assert response.status_code == 200
    assert shown(response)[0].startswith("Not sent: an internal error stopped the test text.")
    message = Message.objects.get(shop=shop)
    assert message.status == Status.FAILED  # the run gave it back for later; dispatch will not send it
    assert sms_outbox == []


def test_a_gateway_without_its_settings_is_a_clear_error_and_writes_nothing(merchant, shop, settings):
    settings.SMS_GATEWAY = "smsnotify.gateways.twilio.TwilioGateway"
    settings.TWILIO_ACCOUNT_SID = ""

    response = send(merchant, shop)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The SMS gateway is not configured yet: ask the platform&#x27;s operator." in page
    assert "TWILIO_ACCOUNT_SID" not in page  # the platform's settings are the operator's, in the log
    assert not Message.objects.exists()


def test_sms_switched_off_is_refused_and_writes_nothing(merchant, shop):
    SmsSettings.objects.filter(shop=shop).update(active=False)

    response = send(merchant, shop)

    assert "SMS is switched off for this shop" in str(response.context["form"].non_field_errors())
    assert not Message.objects.exists()


def test_a_number_that_is_not_one_is_a_form_error(merchant, shop):
    response = send(merchant, shop, to="12")

    assert response.context["form"].errors["to"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("to", ["+48221234567", "+18005550123"])  # a Warsaw landline, a US toll-free number
def test_a_number_that_cannot_receive_texts_is_refused_before_anything_is_sent(merchant, shop, sms_outbox, to):
    response = send(merchant, shop, to=to)

    assert response.context["form"].errors["to"] == [
        "This number cannot receive text messages: enter a mobile number."]
    assert not Message.objects.exists() and sms_outbox == []
    assert credit_balance(shop) == 1000


def test_a_polish_merchant_is_told_in_polish_that_a_landline_cannot_get_a_text(client, sms_outbox):
    polish = make_shop(language="pl", country="PL", time_zone="Europe/Warsaw", credits=1000)
    client.force_login(make_merchant(polish))

    response = send(client, polish, to="22 123 45 67")  # national form, read in the shop's country

    assert response.context["form"].errors["to"].as_data()[0].code == "not_mobile"
    assert "Ten numer nie odbiera SMS-ów: podaj numer komórkowy." in response.content.decode()
    assert not Message.objects.exists()
    send(client, polish, to="601 234 567")  # a mobile number goes
    assert [sms.to for sms in sms_outbox] == ["+48601234567"]


def test_without_credits_it_is_not_sent_and_says_why(client, sms_outbox):
    poor = make_shop(credits=0)
    client.force_login(make_merchant(poor))

    (answer,) = shown(send(client, poor))

    assert answer.startswith("Not sent: the credit balance could not pay for it.")
    assert sms_outbox == []


def test_a_number_that_replied_stop_is_not_texted(merchant, shop, sms_outbox):
    OptOut.objects.create(shop=shop, phone="+12025550123")

    (answer,) = shown(send(merchant, shop))

    assert answer.startswith("Not sent: this number opted out (it replied STOP).")
    assert sms_outbox == []


def test_a_few_a_minute_then_wait(merchant, shop, settings, sms_outbox):
    settings.SMS_TEST_TEXTS_PER_MINUTE = 3

    answers = [send(merchant, shop, to=f"+1202555012{n}") for n in range(4)]

    assert len(sms_outbox) == 3 and Message.objects.filter(shop=shop).count() == 3
    errors = answers[3].context["form"].non_field_errors()
    assert "Too many test texts: try again in" in str(errors)


def test_the_limit_is_per_shop(merchant, shop, settings, client, sms_outbox):
    settings.SMS_TEST_TEXTS_PER_MINUTE = 1
    other = make_shop(credits=1000)
    send(merchant, shop)
    merchant.force_login(make_merchant(other))

    send(merchant, other)

    assert len(sms_outbox) == 2


def test_another_shops_settings_are_a_404(merchant, sms_outbox):
    other = make_shop(credits=1000)

    assert merchant.get(page(other)).status_code == 404
    assert merchant.post(page(other), {"to": "+12025550123"}).status_code == 404
    assert sms_outbox == [] and not Message.objects.exists()
