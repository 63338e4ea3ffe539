"""The merchant's marketing settings, opt-out list, consent requests and the sandbox's simulated reply."""

import pytest
from django.urls import reverse

from campaigns.models import MarketingSettings, OptOut
from shop.models import MarketingConsent
from smsnotify.models import Direction, Kind, Message
from tests.factories import CustomerFactory, make_shop

pytestmark = pytest.mark.django_db


def _settings_url(shop):
    return reverse("admin:campaigns_marketingsettings_change", args=[MarketingSettings.objects.get(shop=shop).pk])


def _settings_data(**changes):
    data = {"send_from": "8", "send_until": "20", "cap_count": "1", "cap_hours": "24", "cap_action": "postpone",
            "help_reply": ""}
    data.update(changes)
    return data


def test_a_new_shop_has_marketing_settings_with_the_strict_defaults(db):
    rules = MarketingSettings.objects.get(shop=make_shop())
    assert (rules.send_from, rules.send_until, rules.no_sundays, rules.cap_count, rules.cap_hours) == (8, 20, False, 1, 24)


def test_the_merchant_narrows_the_hours(merchant, funded):
    response = merchant.post(_settings_url(funded), _settings_data(send_from="10", send_until="18", no_sundays="on"))
    assert response.status_code == 302
    rules = MarketingSettings.objects.get(shop=funded)
    assert (rules.send_from, rules.send_until, rules.no_sundays) == (10, 18, True)


@pytest.mark.parametrize("changes, field", [
    ({"send_from": "7"}, "send_from"),
    ({"send_until": "21"}, "send_until"),
    ({"send_from": "12", "send_until": "12"}, "send_until"),
    ({"cap_count": "0"}, "cap_count"),
    ({"cap_hours": "abc"}, "cap_hours"),
    ({"cap_action": "explode"}, "cap_action"),
])
def test_hours_wider_than_the_law_allows_or_a_broken_cap_are_form_errors(merchant, funded, changes, field):
    response = merchant.post(_settings_url(funded), _settings_data(**changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert MarketingSettings.objects.get(shop=funded).send_from == 8


def test_a_merchant_adds_an_opt_out_as_typed_and_only_once(merchant, funded):
    url = reverse("admin:campaigns_optout_add")
    assert merchant.post(url, {"phone": "(202) 555-0123"}).status_code == 302
    opt_out = OptOut.objects.get()
    assert (opt_out.shop, opt_out.phone, opt_out.source) == (funded, "+12025550123", OptOut.Source.ADMIN)
    again = merchant.post(url, {"phone": "+1 202 555 0123"})
    assert again.status_code == 200 and again.context["adminform"].form.errors
    bad = merchant.post(url, {"phone": "call me"})
    assert bad.status_code == 200 and "phone" in bad.context["adminform"].form.errors
    assert OptOut.objects.count() == 1


def test_a_merchant_cannot_delete_an_opt_out(merchant, funded):
    opt_out = OptOut.objects.create(shop=funded, phone="+12025550123")
    response = merchant.post(reverse("admin:campaigns_optout_delete", args=[opt_out.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert OptOut.objects.filter(pk=opt_out.pk).exists()


def test_asking_selected_customers_for_consent(merchant, funded):
    asked = CustomerFactory(shop=funded)
    agreed = CustomerFactory(shop=funded, marketing_consent=MarketingConsent.GRANTED)
    foreign = CustomerFactory(shop=make_shop())
    response = merchant.post(reverse("admin:shop_customer_changelist"), {
        "action": "request_consent_selected", "_selected_action": [asked.pk, agreed.pk, foreign.pk]}, follow=True)
    assert "1 customer asked for consent by text; 1 skipped" in response.content.decode()
    assert list(Message.objects.filter(kind=Kind.CONSENT_REQUEST).values_list("customer", flat=True)) == [asked.pk]


def test_the_sandbox_simulates_a_customers_reply(merchant, funded):
    url = reverse("admin:smsnotify_message_receive")
    assert url in merchant.get(reverse("admin:smsnotify_message_changelist")).content.decode()
    response = merchant.post(url, {"sender": "202-555-0123", "body": "STOP"})
    received = Message.objects.get(direction=Direction.INBOUND)
    assert response["Location"] == reverse("admin:smsnotify_message_change", args=[received.pk])
    assert (received.shop, received.recipient, received.body) == (funded, "+12025550123", "STOP")
    assert OptOut.objects.filter(shop=funded, phone="+12025550123").exists()
    bad = merchant.post(url, {"sender": "nope", "body": ""})
    assert bad.status_code == 200 and set(bad.context["form"].errors) == {"sender", "body"}


def test_no_simulation_with_a_real_gateway_or_for_the_operator(merchant, client, admin_user, settings):
    url = reverse("admin:smsnotify_message_receive")
    client.force_login(admin_user)
    assert client.get(url).status_code == 404  # the operator has no shop to receive for
    settings.SMS_GATEWAY = "smsnotify.gateways.twilio.TwilioGateway"
    assert merchant.post(url, {"sender": "+12025550123", "body": "STOP"}).status_code == 404
    assert url not in merchant.get(reverse("admin:smsnotify_message_changelist")).content.decode()
    assert not Message.objects.exists()


def test_the_simulation_lists_the_words_of_the_shops_language(client):
    """A Polish shop reacts to NIE, TAK, POMOC… too: the hint said only STOP, START, HELP or YES."""
    from tests.factories import make_merchant

    shop = make_shop(name="Sklep", country="PL", currency="PLN", language="pl")
    client.force_login(make_merchant(shop))
    hint = client.get(reverse("admin:smsnotify_message_receive")).context["form"].fields["body"].help_text
    assert hint == "Wypróbuj jedno z tych słów: STOP, START, HELP, YES, KONIEC, NIE, REZYGNUJE, REZYGNUJĘ, TAK, POMOC."
    english = make_shop(name="Acme")
    client.force_login(make_merchant(english))
    hint = client.get(reverse("admin:smsnotify_message_receive")).context["form"].fields["body"].help_text
    assert hint == "Try one of these words: STOP, START, HELP, YES."
