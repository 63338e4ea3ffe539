"""The merchant's date campaigns and abandoned-cart reminder pages: add, edit, switch off,
delete; bad input as form errors; only the shop's own texts as choices."""

import pytest
from django.urls import reverse

from campaigns.models import AbandonedCartSettings, DateCampaign
from shop.models import Coupon
from templates_sms import services as template_services
from templates_sms.models import SmsTemplate
from tests.admin_forms import change_form_data
from tests.factories import CustomerFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

ADD = reverse("admin:campaigns_datecampaign_add")
LIST = reverse("admin:campaigns_datecampaign_changelist")


def _template(shop, event="date:birthday", body=None, active=None):
    template = SmsTemplate.objects.get(shop=shop, event=event, is_standard=True)
    if body is not None or active is not None:
        template_services.template_update(template=template, body=body, active=active)
    return template


def _campaign(template, **fields):
    data = {"name": "Birthday", "trigger": "birthday", "delay_days": "0", "send_hour": "9", "active": "on",
            "template": template.pk if template else "", "discount_kind": "", "discount_value": "",
            "discount_valid_days": "14"}
    data.update({key: str(value) for key, value in fields.items()})
    return data


def test_a_merchant_adds_a_birthday_campaign_with_a_discount(merchant, funded):
    template = _template(funded, body="Happy birthday {firstname}! {coupon_value} off: {coupon_code}")
    response = merchant.post(ADD, _campaign(template, discount_kind="percent", discount_value=10,
                                            discount_valid_days=30))
    assert response.status_code == 302
    campaign = DateCampaign.objects.get()
    assert (campaign.shop, campaign.trigger, campaign.send_hour, campaign.discount_value) == (funded, "birthday", 9, 10)
    page = merchant.get(LIST).content.decode()
    assert "on the day" in page and "09:00" in page and "10%, valid 30 days" in page


def test_edit_switch_off_and_delete(merchant, funded):
    merchant.post(ADD, _campaign(None, trigger="after_shipped", delay_days=3))
    campaign = DateCampaign.objects.get()
    change = reverse("admin:campaigns_datecampaign_change", args=[campaign.pk])
    # the standard "after shipped" text is off: the campaign says it sends nothing yet
    page = merchant.get(LIST).content.decode()
    assert "3 days after" in page and 'alt="False"' in page
    response = merchant.post(change, change_form_data(merchant.get(change), delay_days="7", send_hour="18"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.delay_days, campaign.send_hour) == (7, 18)

    response = merchant.post(LIST, {"action": "switch_off", "_selected_action": [campaign.pk]})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert not campaign.active
    before = campaign.scanned_until
    merchant.post(LIST, {"action": "switch_on", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.active and campaign.scanned_until > before

    response = merchant.post(reverse("admin:campaigns_datecampaign_delete", args=[campaign.pk]), {"post": "yes"})
    assert response.status_code == 302 and not DateCampaign.objects.exists()


@pytest.mark.parametrize("bad, field", [
    ({"send_hour": 24}, "send_hour"),
    ({"send_hour": -1}, "send_hour"),
    ({"delay_days": 731}, "delay_days"),
    ({"delay_days": "soon"}, "delay_days"),
    ({"trigger": "anniversary"}, "trigger"),
    ({"name": ""}, "name"),
    ({"discount_kind": "percent", "discount_value": ""}, "discount_value"),
    ({"discount_kind": "percent", "discount_value": 150}, "discount_value"),
    ({"discount_kind": "", "discount_value": 10}, "discount_kind"),
    ({"discount_kind": "amount", "discount_value": 500, "discount_valid_days": 0}, "discount_valid_days"),
    ({"discount_kind": "voucher", "discount_value": 5}, "discount_kind"),
    ({"discount_kind": "percent", "discount_value": "12.5"}, "discount_value"),
    ({"discount_kind": "amount", "discount_value": "10.005"}, "discount_value"),
    ({"discount_kind": "amount", "discount_value": "-1"}, "discount_value"),
    ({"discount_kind": "amount", "discount_value": "ten"}, "discount_value"),
])
def test_bad_input_is_a_form_error(merchant, funded, bad, field):
    template = _template(funded, body="{firstname}: {coupon_code}" if bad.get("discount_kind") else None)
    response = merchant.post(ADD, _campaign(template, **bad))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not DateCampaign.objects.exists()


def test_a_text_of_another_date_is_a_form_error(merchant, funded):
    response = merchant.post(ADD, _campaign(_template(funded, "date:after_registration")))
    assert response.status_code == 200
    assert "Choose a template written for this kind of date" in str(response.context["adminform"].form.errors)


def test_a_code_without_a_discount_or_a_discount_without_its_code_is_a_form_error(merchant, funded):
    with_code = _template(funded, body="Happy birthday! Your code: {coupon_code}")
    response = merchant.post(ADD, _campaign(with_code))
    assert "choose a discount" in str(response.context["adminform"].form.errors["discount_kind"])
    without = _template(funded, "date:after_registration")
    response = merchant.post(ADD, _campaign(without, trigger="after_registration", discount_kind="percent",
                                            discount_value=5))
    assert "does not show the discount code" in str(response.context["adminform"].form.errors["template"])
    assert not DateCampaign.objects.exists()


def test_the_choices_are_the_shops_date_texts_only(merchant, funded):
    other = make_shop()
    form = merchant.get(ADD).context["adminform"].form
    templates = form.fields["template"].queryset
    assert templates.exists() and all(t.event.startswith("date:") and t.shop == funded for t in templates)
    response = merchant.post(ADD, _campaign(_template(other)))
    assert "template" in response.context["adminform"].form.errors
    assert "shop" not in form.fields


def test_another_shops_campaign_is_not_found(merchant):
    other = make_shop()
    foreign = DateCampaign.objects.create(shop=other, name="Theirs", trigger="birthday")
    for name in ("change", "delete", "history"):
        assert merchant.get(reverse(f"admin:campaigns_datecampaign_{name}", args=[foreign.pk])).status_code == 404
    assert "Theirs" not in merchant.get(LIST).content.decode()
    merchant.post(LIST, {"action": "switch_off", "_selected_action": [foreign.pk]})
    foreign.refresh_from_db()
    assert foreign.active


# --- the abandoned-cart reminder ---------------------------------------------------------------

CART_ADD = reverse("admin:campaigns_abandonedcartsettings_add")


def test_a_merchant_switches_reminders_on_once(merchant, funded):
    response = merchant.post(CART_ADD, {"active": "on", "idle_hours": "6"}, follow=True)
    settings = AbandonedCartSettings.objects.get()
    assert (settings.shop, settings.active, settings.idle_hours) == (funded, True, 6)
    # the standard text is off: the merchant is told
    assert "template is switched off" in response.content.decode()
    assert merchant.get(CART_ADD).status_code == 403  # one per shop: edit it instead
    change = reverse("admin:campaigns_abandonedcartsettings_change", args=[settings.pk])
    response = merchant.post(change, {"idle_hours": "4"})
    settings.refresh_from_db()
    assert response.status_code == 302 and (settings.active, settings.idle_hours) == (False, 4)
    assert merchant.post(reverse("admin:campaigns_abandonedcartsettings_delete", args=[settings.pk]),
                         {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("hours", ["0", "48", "-3", "four"])
def test_idle_hours_outside_the_carriers_window_are_a_form_error(merchant, hours):
    response = merchant.post(CART_ADD, {"active": "on", "idle_hours": hours})
    assert response.status_code == 200 and "idle_hours" in response.context["adminform"].form.errors
    assert not AbandonedCartSettings.objects.exists()


# --- discount codes, read only ---------------------------------------------------------------------


def test_the_discount_codes_list_is_read_only_and_the_shops_own(merchant, funded):
    import datetime as dt

    from django.utils import timezone

    mine = Coupon.objects.create(shop=funded, code="MINE123456", kind="percent", value=10,
                                 valid_until=timezone.now() + dt.timedelta(days=3), customer=CustomerFactory(shop=funded))
    other = make_shop()
    Coupon.objects.create(shop=other, code="THEIRS1234", kind="amount", value=500, valid_until=timezone.now())
    page = merchant.get(reverse("admin:shop_coupon_changelist")).content.decode()
    assert "MINE123456" in page and "THEIRS1234" not in page and "10%" in page
    change = reverse("admin:shop_coupon_change", args=[mine.pk])
    assert merchant.get(change).status_code == 200
    merchant.post(change, {"code": "CHANGED"})
    mine.refresh_from_db()
    assert mine.code == "MINE123456"
    assert merchant.get(reverse("admin:shop_coupon_add")).status_code == 403


def test_a_merchant_of_another_shop_cannot_open_the_reminder(client):
    shop, other = make_shop(), make_shop()
    settings = AbandonedCartSettings.objects.create(shop=other)
    client.force_login(make_merchant(shop))
    assert client.get(reverse("admin:campaigns_abandonedcartsettings_change", args=[settings.pk])).status_code == 404


def test_an_orders_page_shows_the_discount_its_code_took_off(merchant, funded):
    import datetime as dt

    from django.utils import timezone

    from shop import services as shop_services

    customer = CustomerFactory(shop=funded)
    Coupon.objects.create(shop=funded, code="SAVE123456", kind="amount", value=250, customer=customer,
                          valid_until=timezone.now() + dt.timedelta(days=1))
    order = shop_services.order_create(shop=funded, number="D-1", customer=customer, subtotal=1000,
                                       coupon_code="save123456")
    page = merchant.get(reverse("admin:shop_order_change", args=[order.pk])).content.decode()
    assert "$2.50 (SAVE123456)" in page
    # saving the order's page keeps the discount (it is not a field anyone types)
    change = reverse("admin:shop_order_change", args=[order.pk])
    assert merchant.post(change, change_form_data(merchant.get(change), email="a@example.com")).status_code == 302
    order.refresh_from_db()
    assert (order.discount, order.total, order.email) == (250, 750, "a@example.com")


def test_an_amount_off_is_typed_in_the_shops_currency(merchant, funded):
    template = _template(funded, body="{coupon_value} off with {coupon_code}")
    assert merchant.post(ADD, _campaign(template, discount_kind="amount", discount_value="12.50")).status_code == 302
    campaign = DateCampaign.objects.get()
    assert (campaign.discount_kind, campaign.discount_value) == ("amount", 1250)  # stored in cents
    assert "$12.50, valid 14 days" in merchant.get(LIST).content.decode()
    change = reverse("admin:campaigns_datecampaign_change", args=[campaign.pk])
    form = merchant.get(change).context["adminform"].form
    assert str(form["discount_value"].value()) == "12.50"  # shown as typed, not as 1250
    assert merchant.post(change, change_form_data(merchant.get(change), name="Renamed")).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.discount_value) == ("Renamed", 1250)
