"""Every shop starts with the standard set, in its language; seeding twice never duplicates."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from shop import services as shop_services
from shop.models import OrderStatus, Shop
from templates_sms import rendering, services
from templates_sms.defaults import STANDARD_TEMPLATES
from templates_sms.models import SmsTemplate
from templates_sms.tokens import EVENTS
from tests.factories import make_shop

pytestmark = pytest.mark.django_db

EXPECTED_ACTIVE = {
    ("order:new", "merchant"), ("ticket:new", "merchant"), ("order:new", "customer"),
    ("order_status:shipped", "customer"), ("ticket:answered", "customer"),
    ("custom", "customer"), ("product:back_in_stock", "customer"), ("signup:code", "customer"),
    ("credits:low_balance", "merchant"),
}


def _keys(shop):
    return set(SmsTemplate.objects.filter(shop=shop).values_list("event", "audience"))


def test_a_new_shop_gets_the_full_standard_set():
    shop = shop_services.shop_create(name="New", slug="new")
    templates = SmsTemplate.objects.filter(shop=shop)
    assert templates.count() == len(STANDARD_TEMPLATES) == 27  # 12 statuses + 15 other events
    assert all(t.is_standard and t.body.strip() and t.name for t in templates)
    assert {f"order_status:{status}" for status in OrderStatus.values} <= {t.event for t in templates}
    assert {
        "order:new", "ticket:new", "ticket:answered", "custom", "product:back_in_stock", "cart:abandoned",
        "date:birthday", "date:after_shipped", "date:after_first_order", "date:after_last_order",
        "date:after_registration", "signup:code", "credits:low_balance",
    } <= {t.event for t in templates}


def test_the_seoshop_set_and_the_requested_answers_start_active_the_rest_off():
    shop = make_shop()
    active = set(SmsTemplate.objects.filter(shop=shop, active=True).values_list("event", "audience"))
    assert active == EXPECTED_ACTIVE
    assert not SmsTemplate.objects.get(shop=shop, event="cart:abandoned").active
    assert not SmsTemplate.objects.get(shop=shop, event="date:birthday").active


def test_seeding_twice_changes_nothing():
    shop = make_shop()
    before = list(SmsTemplate.objects.filter(shop=shop).values_list("pk", "body", "active"))
    assert services.templates_seed_standard(shop=shop) == 0
    assert services.templates_seed_standard(shop=shop) == 0
    assert list(SmsTemplate.objects.filter(shop=shop).values_list("pk", "body", "active")) == before


def test_seeding_fills_only_what_is_missing_and_keeps_edits():
    shop = make_shop()
    shipped = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    services.template_update(template=shipped, body="Shipped! {order_id}")
    SmsTemplate.objects.filter(shop=shop, event="date:birthday").delete()
    assert services.templates_seed_standard(shop=shop) == 1
    assert SmsTemplate.objects.get(pk=shipped.pk).body == "Shipped! {order_id}"
    assert SmsTemplate.objects.filter(shop=shop).count() == len(STANDARD_TEMPLATES)


def test_custom_templates_do_not_count_as_standard_ones():
    shop = make_shop()
    services.template_create(shop=shop, name="Promo", body="Hi {firstname}!")
    assert services.templates_seed_standard(shop=shop) == 0
    assert SmsTemplate.objects.filter(shop=shop, event="custom").count() == 2


def test_the_database_refuses_a_second_standard_template_for_one_event():
    shop = make_shop()
    with pytest.raises(IntegrityError), transaction.atomic():
        SmsTemplate.objects.create(shop=shop, event="order_status:shipped", audience="customer", name="dup",
                                   body="x", is_standard=True)


def test_a_polish_shop_gets_polish_defaults():
    shop = make_shop(country="PL", currency="PLN", language="pl")
    shipped = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    assert shipped.body == "{shop_name}: Twoje zamówienie {order_id} zostało wysłane. {tracking}"
    assert shipped.name == "Status zamówienia: Wysłane"
    # the customer's name in the nominative: "od {fullname}" wanted a genitive no token gives ("od Anna Nowak")
    assert SmsTemplate.objects.get(shop=shop, event="order:new", audience="merchant").body == (
        "Nowe zamówienie {order_id} ({fullname}): {total_cost}, {shipping_name}.")
    assert SmsTemplate.objects.get(shop=shop, event="ticket:new", audience="merchant").body == (
        "Nowe zgłoszenie #{ticket_id} ({fullname}): {ticket_subject}")


def test_a_portuguese_shop_gets_portuguese_defaults():
    shop = make_shop(country="PT", currency="EUR", language="pt")
    shipped = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    assert "a sua encomenda {order_id} foi enviada" in shipped.body


@pytest.mark.parametrize("language", ["en", "pl", "pt"])
def test_every_default_is_valid_and_fits_the_default_limit_in_every_language(language):
    shop = make_shop(language=language, currency={"en": "USD", "pl": "PLN", "pt": "EUR"}[language],
                     name="Sklep Bałtyk Online")
    for template in SmsTemplate.objects.filter(shop=shop):
        assert template.event in EVENTS
        # validate() includes the longest-plausible check against the shop's limit (3 parts)
        rendering.validate(template.body, event=template.event, audience=template.audience, shop=shop)
        assert template.body == template.body.strip()
        assert "{" not in template.name


def test_reset_puts_the_default_text_back_in_the_shops_language():
    shop = make_shop(language="pl", currency="PLN", country="PL")
    shipped = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    original = shipped.body
    services.template_update(template=shipped, body="Wysłane {order_id}", active=False)
    services.template_reset(template=shipped)
    shipped.refresh_from_db()
    assert shipped.body == original
    assert shipped.active is False  # the merchant's on/off choice stays


def test_seed_demo_gives_existing_shops_the_standard_set():
    bare = Shop.objects.create(name="Made before templates", slug="old-shop")  # bypasses the service
    assert not SmsTemplate.objects.filter(shop=bare).exists()
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    for shop in Shop.objects.all():
        assert SmsTemplate.objects.filter(shop=shop).count() == len(STANDARD_TEMPLATES), shop
    baltyk = Shop.objects.get(slug="sklep-baltyk")
    assert "Twoje zamówienie" in SmsTemplate.objects.get(shop=baltyk, event="order_status:shipped").body


def test_the_data_migration_seeds_shops_that_existed_before_templates():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("templates_sms.migrations.0002_seed_existing_shops")
    old = Shop.objects.create(name="Stary sklep", slug="stary", language="pl", currency="PLN", country="PL")
    seeded = make_shop()
    migration.seed_existing_shops(apps, None)
    migration.seed_existing_shops(apps, None)
    assert SmsTemplate.objects.filter(shop=old).count() == len(STANDARD_TEMPLATES)
    assert SmsTemplate.objects.filter(shop=seeded).count() == len(STANDARD_TEMPLATES)
    assert SmsTemplate.objects.get(shop=old, event="order_status:shipped", active=True).body.startswith(
        "{shop_name}: Twoje zamówienie")
