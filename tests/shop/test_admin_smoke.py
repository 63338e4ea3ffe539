"""Every admin list a merchant or the operator can open renders, in Polish and in English."""

import pytest
from django.contrib import admin
from django.urls import reverse

from credits import purchases
from credits.models import CreditPack
from smsnotify import outbox
from smsnotify.models import Kind
from tests.factories import OrderFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db


def _fill(shop):
    fund(shop, 5000)
    OrderFactory(shop=shop, phone="+48601234567" if shop.language == "pl" else "+12025550100")
    outbox.message_schedule(shop=shop, to="+12025550123", body="hi", kind=Kind.MANUAL)
    purchases.purchase_create(shop=shop, method="bank_transfer", pack=CreditPack.objects.first())


@pytest.mark.parametrize("operator", [False, True])
def test_every_admin_list_renders(client, admin_user, operator):
    polish = make_shop(name="Bałtyk", country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")
    english = make_shop(name="Acme", time_zone="America/New_York")
    for shop in (polish, english):
        _fill(shop)
    client.force_login(admin_user if operator else make_merchant(polish))
    opened = 0
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("shop", "smsnotify", "credits", "templates_sms"):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url, follow=True)
        assert response.status_code in (200, 403), url
        opened += response.status_code == 200
    assert opened >= 6
