"""The storefront's product page: a visitor leaves a number for a product that is out of stock."""

import datetime as dt
import re

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from shop import services
from shop.models import BackInStockSubscription, ConsentSource, Customer, MarketingConsent, StockStatus
from shop.storefront.forms import consent_wording
from tests.factories import CustomerFactory, ProductFactory, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()  # the sign-up counters live in the cache
    yield
    cache.clear()


@pytest.fixture
def product(shop):
    return ProductFactory(shop=shop, name="Trail tent", price=8990, stock_status=StockStatus.OUT_OF_STOCK)


def url(product) -> str:
    return reverse("storefront:product", args=[product.shop.slug, product.pk])


def sign_up(client, product, phone="202-555-0147", country=None, consent=True, **extra):
    data = {"country": country or product.shop.country, "phone": phone}
    if consent:
        data["consent"] = "on"
    return client.post(url(product), data, **extra)


def test_the_page_shows_the_product_and_the_sign_up(client, product):
    response = client.get(url(product))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Trail tent" in html and "$89.90" in html and "Out of stock" in html
    assert consent_wording(shop=product.shop) in html
    assert response.context["form"]["country"].value() == "US"  # the shop's country first
    assert 'name="csrfmiddlewaretoken"' in html


def test_a_sign_up_waits_for_the_product_and_records_the_consent_with_its_wording_and_ip(client, product):
    response = sign_up(client, product, phone="(202) 555-0147", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 302 and response["Location"] == url(product) + "?signed_up=1"
    subscription = BackInStockSubscription.objects.get()
    assert (subscription.shop, subscription.product, str(subscription.phone), subscription.status) == (
        product.shop, product, "+12025550147", "waiting")
    customer = subscription.customer
    assert (customer.shop, str(customer.phone)) == (product.shop, "+12025550147")
    assert customer.marketing_consent == MarketingConsent.GRANTED
    assert customer.marketing_consent_source == ConsentSource.STOREFRONT
    assert customer.marketing_consent_ip == "203.0.113.7"
    assert customer.marketing_consent_text == consent_wording(shop=product.shop)
    assert customer.marketing_consent_at is not None
    thanks = client.get(response["Location"])
    assert "We will send you one text message when this product is back in stock" in thanks.content.decode()


def test_an_existing_customer_with_the_number_is_used(client, product):
    customer = CustomerFactory(shop=product.shop, phone="+12025550147")
    other_shops = CustomerFactory(shop=make_shop(), phone="+12025550147")
    sign_up(client, product)
    assert BackInStockSubscription.objects.get().customer == customer
    customer.refresh_from_db()
    other_shops.refresh_from_db()
    assert customer.marketing_consent == MarketingConsent.GRANTED  # ticking the box is a consent
    assert other_shops.marketing_consent == MarketingConsent.UNKNOWN
    assert Customer.objects.filter(shop=product.shop).count() == 1


def test_a_form_never_undoes_a_customers_refusal(client, product):
    """Anyone may type a number: only the customer's own YES to a text gives consent back."""
    refused = CustomerFactory(shop=product.shop, phone="+12025550147", marketing_consent=MarketingConsent.REVOKED)
    sign_up(client, product)
    refused.refresh_from_db()
    assert refused.marketing_consent == MarketingConsent.REVOKED
    assert BackInStockSubscription.objects.get().customer == refused


def test_the_number_is_read_in_the_chosen_country(client, product):
    sign_up(client, product, phone="601 234 567", country="PL")
    assert str(BackInStockSubscription.objects.get().phone) == "+48601234567"


def test_a_number_with_its_country_code_is_read_as_written(client, product):
    sign_up(client, product, phone="+44 7911 123456", country="US")
    assert str(BackInStockSubscription.objects.get().phone) == "+447911123456"


@pytest.mark.parametrize("phone,error", [
    ("12345", "is not a valid phone number"),
    ("not a number", "is not a valid phone number"),
    ("", "This field is required"),
    ("22 123 45 67", "cannot receive text messages"),  # a Warsaw landline
])
def test_a_bad_number_is_a_form_error(client, product, phone, error):
    response = sign_up(client, product, phone=phone, country="PL")
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not BackInStockSubscription.objects.exists() and not Customer.objects.exists()


def test_an_unknown_country_is_a_form_error(client, product):
    response = sign_up(client, product, country="XX")
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not BackInStockSubscription.objects.exists()


def test_without_the_consent_box_nothing_is_recorded(client, product):
    response = sign_up(client, product, consent=False)
    assert response.status_code == 200
    assert "Tick the box to agree to the text message." in response.content.decode()
    assert not BackInStockSubscription.objects.exists() and not Customer.objects.exists()


def test_the_form_needs_its_csrf_token(product):
    browser = Client(enforce_csrf_checks=True)
    assert sign_up(browser, product).status_code == 403
    assert not BackInStockSubscription.objects.exists()
    page = browser.get(url(product))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = browser.post(url(product), {"country": "US", "phone": "2025550147", "consent": "on",
                                           "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert BackInStockSubscription.objects.count() == 1


def test_signing_up_again_is_the_same_success_and_one_subscription(client, product):
    first, again = sign_up(client, product), sign_up(client, product, phone="+1 202 555 0147")
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    assert BackInStockSubscription.objects.count() == 1


def test_too_many_sign_ups_from_one_address_is_a_429(client, shop, settings):
    settings.STOREFRONT_SIGNUPS_PER_IP_PER_HOUR = 2
    products = [ProductFactory(shop=shop, stock_status=StockStatus.OUT_OF_STOCK) for _ in range(3)]
    with time_machine.travel(dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc), tick=False) as clock:
        assert sign_up(client, products[0], phone="2025550101").status_code == 302
        assert sign_up(client, products[1], phone="2025550102", consent=False).status_code == 200  # counts too
        refused = sign_up(client, products[2], phone="2025550103")
        assert refused.status_code == 429
        assert "Too many sign-ups from here. Please try again later." in refused.content.decode()
        assert sign_up(client, products[2], phone="2025550103", REMOTE_ADDR="198.51.100.9").status_code == 302
        clock.shift(dt.timedelta(hours=1, seconds=1))
        assert sign_up(client, products[0], phone="2025550104").status_code == 302
    assert BackInStockSubscription.objects.count() == 3


def test_too_many_sign_ups_for_one_number_is_a_429_whether_or_not_it_waits_already(client, shop, settings):
    settings.STOREFRONT_SIGNUPS_PER_NUMBER_PER_DAY = 2
    first, second, third = (ProductFactory(shop=shop, stock_status=StockStatus.OUT_OF_STOCK) for _ in range(3))
    assert sign_up(client, first, REMOTE_ADDR="198.51.100.1").status_code == 302
    assert sign_up(client, second, REMOTE_ADDR="198.51.100.2").status_code == 302
    for product in (third, first):  # a new product and one it already waits for: the same answer
        refused = sign_up(client, product, REMOTE_ADDR="198.51.100.3")
        assert refused.status_code == 429
        assert "Too many sign-ups for this number. Please try again tomorrow." in refused.content.decode()
    assert sign_up(client, third, phone="2025550199").status_code == 302  # another number is fine
    # the same number in another shop is counted apart
    elsewhere = ProductFactory(shop=make_shop(), stock_status=StockStatus.OUT_OF_STOCK)
    assert sign_up(client, elsewhere).status_code == 302
    assert BackInStockSubscription.objects.filter(product=third).count() == 1


def test_another_shops_product_an_unknown_product_or_shop_is_a_404(client, product):
    other = ProductFactory(shop=make_shop(), stock_status=StockStatus.OUT_OF_STOCK)
    for address in (
        reverse("storefront:product", args=[product.shop.slug, other.pk]),
        reverse("storefront:product", args=[product.shop.slug, 999_999]),
        reverse("storefront:product", args=["no-such-shop", product.pk]),
    ):
        assert client.get(address).status_code == 404
        assert client.post(address, {"country": "US", "phone": "2025550147", "consent": "on"}).status_code == 404
    assert not BackInStockSubscription.objects.exists()


def test_other_methods_are_refused(client, product):
    assert client.put(url(product)).status_code == 405
    assert client.head(url(product)).status_code == 200
    assert not BackInStockSubscription.objects.exists()


def test_an_available_product_has_no_sign_up(client, shop):
    product = ProductFactory(shop=shop, name="Stove", stock_status=StockStatus.IN_STOCK)
    page = client.get(url(product))
    assert page.status_code == 200 and page.context["form"] is None and "In stock" in page.content.decode()
    response = sign_up(client, product)
    assert response.status_code == 200
    assert "This product is available now: you can order it." in response.content.decode()
    assert not BackInStockSubscription.objects.exists() and not Customer.objects.exists()


def test_a_product_back_on_order_counts_as_available(client, shop):
    product = ProductFactory(shop=shop, stock_status=StockStatus.BACKORDER)
    assert client.get(url(product)).context["form"] is None


def test_the_product_name_is_escaped(client, shop):
    product = ProductFactory(shop=shop, name="<script>alert(1)</script>", stock_status=StockStatus.OUT_OF_STOCK)
    html = client.get(url(product)).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_a_polish_shops_page_is_in_polish_whatever_the_visitor_speaks(client):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep Bałtyk")
    product = ProductFactory(shop=shop, name="Namiot", price=5890, stock_status=StockStatus.OUT_OF_STOCK)
    response = client.get(url(product), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response["Content-Language"] == "pl" and '<html lang="pl">' in html
    assert "58,90 zł" in html and "Niedostępny" in html and "Powiadom mnie" in html
    sign_up(client, product, phone="601 234 567", HTTP_ACCEPT_LANGUAGE="en")
    wording = Customer.objects.get().marketing_consent_text
    assert wording.startswith("Zgadzam się") and "Sklep Bałtyk" in wording
    assert "Niepoprawny" not in wording
    bad = sign_up(client, product, phone="12345")
    assert "nie jest poprawnym numerem" in bad.content.decode()


def test_the_service_refuses_an_available_product_and_an_empty_number(shop):
    from django.core.exceptions import ValidationError

    available = ProductFactory(shop=shop, stock_status=StockStatus.IN_STOCK)
    with pytest.raises(ValidationError):
        services.back_in_stock_subscribe(product=available, phone="+12025550147", consent_text="ok")
    waiting = ProductFactory(shop=shop, stock_status=StockStatus.OUT_OF_STOCK)
    with pytest.raises(ValidationError):
        services.back_in_stock_subscribe(product=waiting, phone="", consent_text="ok")
    assert not BackInStockSubscription.objects.exists() and not Customer.objects.exists()


def test_behind_a_trusted_proxy_the_address_it_appended_is_the_visitors(client, product, settings):
    settings.STOREFRONT_SIGNUPS_PER_IP_PER_HOUR = 1
    settings.TRUST_PROXY_FORWARDED_FOR = True
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # the visitor wrote the first entry themselves; the proxy appended the real one
    sign_up(client, product, phone="2025550101", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", **proxy)
    assert Customer.objects.get().marketing_consent_ip == "203.0.113.7"
    assert sign_up(client, product, phone="2025550102", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.7",
                   **proxy).status_code == 429  # forging the first entry does not escape the limit
    assert sign_up(client, product, phone="2025550102", HTTP_X_FORWARDED_FOR="198.51.100.4",
                   **proxy).status_code == 302  # another visitor behind the same proxy


def test_without_a_trusted_proxy_the_header_is_ignored(client, product):
    sign_up(client, product, HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="203.0.113.9")
    assert Customer.objects.get().marketing_consent_ip == "203.0.113.9"


def test_an_unreadable_address_is_kept_as_none_not_a_crash(client, product, settings):
    settings.TRUST_PROXY_FORWARDED_FOR = True
    assert sign_up(client, product, HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="garbage").status_code == 302
    assert Customer.objects.get().marketing_consent_ip is None
