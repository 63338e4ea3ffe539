"""The merchant's order-status rules page: adding a delay, per-product rules, and bad input as form errors."""

import pytest
from django.urls import reverse

from campaigns.models import OrderStatusRule
from templates_sms.models import SmsTemplate
from tests.factories import ProductFactory, make_shop

pytestmark = pytest.mark.django_db

ADD = reverse("admin:campaigns_orderstatusrule_add")


def _rule(**fields):
    data = {"status": "shipped", "product": "", "active": "on", "template": "", "delay_days": "0",
            "delay_hours": "0", "delay_minutes": "0"}
    data.update({key: str(value) for key, value in fields.items()})
    return data


def test_a_merchant_adds_a_delay_and_the_list_says_what_it_does(merchant, funded):
    response = merchant.post(ADD, _rule(delay_days=2, delay_hours=1))
    assert response.status_code == 302
    rule = OrderStatusRule.objects.get()
    assert (rule.shop, rule.delay_days, rule.delay_hours) == (funded, 2, 1)
    page = merchant.get(reverse("admin:campaigns_orderstatusrule_changelist")).content.decode()
    assert "after 2 days 1 hour" in page and "Every order" in page
    assert "A delayed text leaves only while the order is still in the status it announces" in page


def test_a_product_rule_with_its_own_template(merchant, funded):
    tent = ProductFactory(shop=funded, name="Tent")
    own = SmsTemplate.objects.create(shop=funded, event="order_status:shipped", audience="customer",
                                     name="Tent shipped", body="Tent {order_id} shipped.")
    assert merchant.post(ADD, _rule(product=tent.pk, template=own.pk, delay_minutes=30)).status_code == 302
    page = merchant.get(reverse("admin:campaigns_orderstatusrule_changelist")).content.decode()
    assert "Tent shipped" in page and "after 30 minutes" in page


@pytest.mark.parametrize("bad, field", [
    ({"delay_hours": 24}, "delay_hours"),
    ({"delay_minutes": 60}, "delay_minutes"),
    ({"delay_days": 366}, "delay_days"),
    ({"delay_days": -1}, "delay_days"),
    ({"status": "teleported"}, "status"),
])
def test_an_impossible_delay_or_status_is_a_form_error(merchant, bad, field):
    response = merchant.post(ADD, _rule(**bad))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not OrderStatusRule.objects.exists()


def test_a_template_of_another_status_is_a_form_error(merchant, funded):
    cancelled = SmsTemplate.objects.get(shop=funded, event="order_status:cancelled")
    response = merchant.post(ADD, _rule(template=cancelled.pk))
    assert response.status_code == 200
    assert "Choose a template written for this status" in str(response.context["adminform"].form.errors["template"])


def test_another_shops_template_or_product_is_not_a_choice(merchant):
    other = make_shop()
    foreign_template = SmsTemplate.objects.get(shop=other, event="order_status:shipped")
    for field, value in (("template", foreign_template.pk), ("product", ProductFactory(shop=other).pk)):
        response = merchant.post(ADD, _rule(**{field: value}))
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
    assert not OrderStatusRule.objects.exists()


def test_a_second_rule_for_the_same_status_and_product_is_a_form_error(merchant, funded):
    tent = ProductFactory(shop=funded)
    assert merchant.post(ADD, _rule()).status_code == 302
    assert merchant.post(ADD, _rule(product=tent.pk)).status_code == 302
    for again in (_rule(delay_days=1), _rule(product=tent.pk, delay_days=1)):
        response = merchant.post(ADD, again)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["__all__"]
    assert OrderStatusRule.objects.count() == 2


def test_the_template_choices_are_the_shops_status_texts_only(merchant, funded):
    form = merchant.get(ADD).context["adminform"].form
    events = set(form.fields["template"].queryset.values_list("event", flat=True))
    assert events and all(event.startswith("order_status:") for event in events)
    assert set(form.fields["template"].queryset.values_list("shop", flat=True)) == {funded.pk}
