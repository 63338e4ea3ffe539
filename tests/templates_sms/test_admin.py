"""The template editor in the admin: saving validates tokens and the shop's limit of parts, the
eye switches templates on and off, the preview is computed by the server, tenancy holds."""

import pytest
from django.test import Client
from django.urls import reverse

from credits.estimate import sms_estimate
from smsnotify.models import SmsSettings
from templates_sms import selectors
from templates_sms.models import SmsTemplate
from templates_sms.tokens import CUSTOM
from tests.factories import make_merchant, make_shop

pytestmark = pytest.mark.django_db


def _template(shop, event="order_status:shipped", audience="customer"):
    return SmsTemplate.objects.get(shop=shop, event=event, audience=audience, is_standard=True)


def _change_url(template):
    return reverse("admin:templates_sms_smstemplate_change", args=[template.pk])


def _toggle_url(template):
    return reverse("admin:templates_sms_smstemplate_toggle", args=[template.pk])


PREVIEW_URL = "/admin/templates_sms/smstemplate/preview/"


# --- list and editor -----------------------------------------------------------------------------

def test_the_list_shows_the_shops_templates_with_an_eye(merchant_client):
    own = _template(merchant_client.shop)
    foreign = _template(merchant_client.other_shop)
    response = merchant_client.get(reverse("admin:templates_sms_smstemplate_changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert own.pk in shown and foreign.pk not in shown
    assert len(shown) == SmsTemplate.objects.filter(shop=merchant_client.shop).count()
    html = response.content.decode()
    assert f'formaction="{_toggle_url(own)}"' in html
    assert "Active: click to switch off" in html and "Off: click to switch on" in html


def test_the_change_form_shows_tokens_preview_counter_and_cost(merchant_client):
    response = merchant_client.get(_change_url(_template(merchant_client.shop)))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-token="{tracking_code}"' in html and 'data-token="{firstname}"' in html
    assert 'data-token="{code}"' not in html  # only the event's own tokens
    assert 'id="sms-counter"' in html and "1 SMS," in html
    assert "Cost: 12 credits per message" in html
    assert "templates_sms/editor.js" in html


def test_saving_an_unknown_token_is_a_form_error_naming_it(merchant_client):
    template = _template(merchant_client.shop)
    response = merchant_client.post(_change_url(template), {
        "name": template.name, "body": "Shipped {order_id}, tracking {trackingcode}", "active": "on"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["body"]
    assert "Unknown token {trackingcode}. Did you mean {tracking_code}?" in errors
    assert SmsTemplate.objects.get(pk=template.pk).body == template.body


def test_saving_valid_text_goes_through(merchant_client):
    template = _template(merchant_client.shop)
    response = merchant_client.post(_change_url(template), {
        "name": "Shipped!", "body": "[[firstname]], {order_id} is on its way", "active": "on"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.body, template.active) == ("Shipped!", "[[firstname]], {order_id} is on its way",
                                                               True)


def test_the_max_segments_limit_is_a_form_error(merchant_client):
    SmsSettings.objects.filter(shop=merchant_client.shop).update(max_segments=1)
    template = _template(merchant_client.shop)
    # 120 characters of GSM-7 text plus a street (35) and a city (20) at their longest plausible length: 2 parts.
    body = "x" * 120 + " {delivery_street} {delivery_city}"
    response = merchant_client.post(_change_url(template), {"name": template.name, "body": body, "active": "on"})
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["body"]
    assert error == ("With long values (names, addresses, amounts) this text can take up to 2 SMS; your shop allows "
                     "1 part. Shorten the text or raise the limit in your SMS settings.")
    short = "x" * 100 + " {delivery_city}"
    assert merchant_client.post(_change_url(template), {"name": template.name, "body": short}).status_code == 302


def test_the_limit_counts_the_text_as_sent_when_special_characters_are_replaced(merchant_client):
    SmsSettings.objects.filter(shop=merchant_client.shop).update(max_segments=1, replace_special_characters=True)
    template = _template(merchant_client.shop)
    body = "ą" * 100  # 2 UCS-2 parts as written, 1 GSM-7 part as sent
    assert merchant_client.post(_change_url(template), {"name": template.name, "body": body}).status_code == 302


def test_merchants_add_custom_templates_for_customers(merchant_client):
    response = merchant_client.post(reverse("admin:templates_sms_smstemplate_add"), {
        "name": "Spring sale", "body": "{firstname}, 20% off at {shop_name} this week!", "active": "on"})
    assert response.status_code == 302
    created = SmsTemplate.objects.get(name="Spring sale")
    assert (created.shop, created.event, created.audience, created.is_standard) == (
        merchant_client.shop, "custom", "customer", False)


def test_a_custom_template_cannot_use_order_tokens(merchant_client):
    response = merchant_client.post(reverse("admin:templates_sms_smstemplate_add"), {
        "name": "Bad", "body": "Your order {order_id}", "active": "on"})
    assert response.status_code == 200
    assert "not available for this event" in response.context["adminform"].form.errors["body"][0]


def test_standard_templates_cannot_be_deleted_custom_ones_can(merchant_client):
    standard = _template(merchant_client.shop)
    delete = "admin:templates_sms_smstemplate_delete"
    assert merchant_client.get(reverse(delete, args=[standard.pk])).status_code == 403
    custom = SmsTemplate.objects.create(shop=merchant_client.shop, name="Mine", body="Hi")
    assert merchant_client.post(reverse(delete, args=[custom.pk]), {"post": "yes"}).status_code == 302
    assert not SmsTemplate.objects.filter(pk=custom.pk).exists()


# --- the eye -------------------------------------------------------------------------------------

def test_the_eye_switches_a_template_on_and_off(merchant_client):
    template = _template(merchant_client.shop, "order_status:accepted")
    assert template.active is False
    changelist = reverse("admin:templates_sms_smstemplate_changelist") + "?audience=customer"
    response = merchant_client.post(_toggle_url(template), {"next": changelist})
    assert response.status_code == 302 and response["Location"] == changelist
    template.refresh_from_db()
    assert template.active is True
    response = merchant_client.post(_toggle_url(template), HTTP_ACCEPT="application/json")
    assert response.json() == {"active": False, "title": "Off: click to switch on"}
    template.refresh_from_db()
    assert template.active is False


def test_the_eye_never_redirects_off_site(merchant_client):
    template = _template(merchant_client.shop)
    response = merchant_client.post(_toggle_url(template), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("admin:templates_sms_smstemplate_changelist")


def test_the_eye_needs_a_post_with_a_csrf_token(merchant_client):
    template = _template(merchant_client.shop)
    assert merchant_client.get(_toggle_url(template)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_merchant(merchant_client.shop))
    assert strict.post(_toggle_url(template)).status_code == 403
    template.refresh_from_db()
    assert template.active is True


def test_an_eye_toggled_template_stops_order_texts(merchant_client):
    from shop import services
    from smsnotify.models import Message
    from tests.factories import OrderFactory

    merchant_client.post(_toggle_url(_template(merchant_client.shop)))
    services.order_change_status(order=OrderFactory(shop=merchant_client.shop), status="shipped")
    assert Message.objects.count() == 0


# --- reset ---------------------------------------------------------------------------------------

def test_reset_to_default_from_the_change_form_and_the_action(merchant_client):
    template = _template(merchant_client.shop)
    default = template.body
    SmsTemplate.objects.filter(pk=template.pk).update(body="Changed {order_id}")
    url = reverse("admin:templates_sms_smstemplate_reset", args=[template.pk])
    assert merchant_client.post(url).status_code == 302
    template.refresh_from_db()
    assert template.body == default
    SmsTemplate.objects.filter(pk=template.pk).update(body="Changed again")
    merchant_client.post(reverse("admin:templates_sms_smstemplate_changelist"),
                         {"action": "reset_to_default", "_selected_action": [template.pk]})
    template.refresh_from_db()
    assert template.body == default


# --- the preview endpoint ------------------------------------------------------------------------

def test_the_preview_counts_what_the_server_renders(merchant_client):
    template = _template(merchant_client.shop)
    short = merchant_client.post(PREVIEW_URL, {"template": template.pk, "body": "Hi {firstname}"}).json()
    assert short["text"] == "Hi Jane"
    assert short["counter"] == "1 SMS, 153 characters left in this part"
    assert (short["segments"], short["encoding"], short["warning"], short["errors"]) == (1, "GSM-7", "", [])
    long = merchant_client.post(PREVIEW_URL, {"template": template.pk, "body": "x" * 161}).json()
    assert long["counter"].startswith("2 SMS,")
    special = merchant_client.post(PREVIEW_URL, {"template": template.pk, "body": "Zażółć gęślą"}).json()
    assert special["warning"] == ("Message contains special characters: ż, ó, ł, ć, ę, ś, ą — each part holds 70 "
                                  "characters instead of 160")
    assert special["encoding"] == "UCS-2"
    bad = merchant_client.post(PREVIEW_URL, {"template": template.pk, "body": "{frstname}"}).json()
    assert bad["errors"] == ["Unknown token {frstname}. Did you mean {firstname}?"]


def test_the_preview_of_a_new_custom_template_uses_the_custom_event(merchant_client):
    data = merchant_client.post(PREVIEW_URL, {"body": "Hi {firstname} from {shop_name} {order_id}"}).json()
    assert data["text"] == "Hi Jane from Shop A {order_id}"
    assert data["errors"] == ["The token {order_id} is not available for this event."]


def test_the_cost_comes_from_the_one_estimate(merchant_client):
    shop = merchant_client.shop
    preview = selectors.template_preview(shop=shop, event=CUSTOM, body="x" * 200)  # 2 parts
    assert preview.cost == sms_estimate(shop=shop, text="x" * 200, recipient="+12015550123").credits == 24


# --- tenancy -------------------------------------------------------------------------------------

def test_another_shops_template_is_404_everywhere(merchant_client):
    foreign = _template(merchant_client.other_shop)
    assert merchant_client.get(_change_url(foreign)).status_code == 404
    assert merchant_client.post(_change_url(foreign), {"name": "x", "body": "pwned"}).status_code == 404
    assert merchant_client.post(_toggle_url(foreign)).status_code == 404
    assert merchant_client.post(reverse("admin:templates_sms_smstemplate_reset", args=[foreign.pk])).status_code == 404
    assert merchant_client.post(PREVIEW_URL, {"template": foreign.pk, "body": "{shop_name}"}).status_code == 404
    assert merchant_client.get(reverse("admin:templates_sms_smstemplate_history", args=[foreign.pk])).status_code == 404
    foreign.refresh_from_db()
    assert foreign.active is True and "pwned" not in foreign.body


def test_the_preview_renders_with_the_requesters_own_shop(merchant_client):
    # A merchant cannot pick another shop for a new template's preview: "shop" is for the operator.
    data = merchant_client.post(PREVIEW_URL, {"body": "{shop_name}", "shop": merchant_client.other_shop.pk}).json()
    assert data["text"] == "Shop A"


def test_forged_action_ids_of_another_shop_are_ignored(merchant_client):
    foreign = _template(merchant_client.other_shop)
    SmsTemplate.objects.filter(pk=foreign.pk).update(body="Theirs {order_id}")
    merchant_client.post(reverse("admin:templates_sms_smstemplate_changelist"),
                         {"action": "reset_to_default", "_selected_action": [foreign.pk]})
    foreign.refresh_from_db()
    assert foreign.body == "Theirs {order_id}"


def test_the_operator_sees_and_toggles_every_shop(client, django_user_model):
    shop = make_shop()
    operator = django_user_model.objects.create_superuser("op", "op@example.com", "pw")
    client.force_login(operator)
    template = _template(shop)
    assert client.get(_change_url(template)).status_code == 200
    client.post(_toggle_url(template))
    template.refresh_from_db()
    assert template.active is False
    assert client.post(PREVIEW_URL, {"body": "{shop_name}", "shop": shop.pk}).json()["text"] == shop.name


def test_anonymous_users_are_sent_to_login(client):
    template = _template(make_shop())
    response = client.post(_toggle_url(template))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_text_nothing_sends_yet_says_so_in_the_list_and_the_editor(merchant_client, monkeypatch):
    import dataclasses

    from templates_sms.tokens import EVENTS

    assert all(event.sent for event in EVENTS.values())  # every text is sent now (codes since issue 10)
    # A feature still to come: its text says so.
    monkeypatch.setitem(EVENTS, "signup:code", dataclasses.replace(EVENTS["signup:code"], sent=False))
    shop = merchant_client.shop
    waiting = SmsTemplate.objects.get(shop=shop, event="signup:code")
    shipped = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    rows = {row.pk: row for row in merchant_client.get(
        reverse("admin:templates_sms_smstemplate_changelist")).context["cl"].result_list}
    assert waiting.pk in rows and shipped.pk in rows
    from templates_sms.admin import SmsTemplateAdmin

    label = SmsTemplateAdmin(SmsTemplate, None).event_label
    assert "Not sent yet" in label(waiting) and "Not sent yet" not in label(shipped)
    editor = merchant_client.get(reverse("admin:templates_sms_smstemplate_change", args=[waiting.pk])).content.decode()
    assert "Not sent yet: the feature that sends this text is coming." in editor
    editor = merchant_client.get(reverse("admin:templates_sms_smstemplate_change", args=[shipped.pk])).content.decode()
    assert "Not sent yet" not in editor
