"""A visitor signs up on the storefront for a product that is out of stock, and is texted when it is back."""

import pytest
from django.core.cache import cache

from shop import services
from shop.models import BackInStockSubscription, Customer, StockStatus, SubscriptionStatus
from smsnotify.models import Kind, Message
from tests.factories import ProductFactory, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("daytime")  # the text is a marketing one: it leaves within the allowed hours
def test_sign_up_for_back_in_stock_on_the_storefront(page, live_server, sms_outbox):
    cache.clear()
    shop = make_shop(name="Sklep Bałtyk", country="PL", currency="PLN", language="pl", credits=1000)
    product = ProductFactory(shop=shop, name="Namiot", price=5890, stock_status=StockStatus.OUT_OF_STOCK)
    page.goto(f"{live_server.url}/store/{shop.slug}/products/{product.pk}/")
    assert page.locator("h1").inner_text() == "Namiot"
    assert page.locator(".price").inner_text() == "58,90 zł"
    assert page.locator(".availability").inner_text() == "Niedostępny"
    assert page.locator("select[name=country]").input_value() == "PL"  # the shop's country first

    page.fill("input[name=phone]", "601 234 567")
    page.get_by_role("button", name="Powiadom mnie").click()
    # the browser's own check: the consent box is required
    assert page.locator("input[name=consent]").evaluate("box => !box.validity.valid")
    assert not BackInStockSubscription.objects.exists()

    wording = page.locator("label[for=id_consent]").inner_text()
    page.check("input[name=consent]")
    page.get_by_role("button", name="Powiadom mnie").click()
    page.wait_for_selector(".notice")
    assert "Dziękujemy" in page.locator(".notice").inner_text()

    subscription = BackInStockSubscription.objects.get()
    assert str(subscription.phone) == "+48601234567" and subscription.status == SubscriptionStatus.WAITING
    customer = Customer.objects.get()
    assert customer.marketing_consent_text == wording and customer.marketing_consent_ip == "127.0.0.1"

    services.product_stock_set(product=product, stock_status=StockStatus.IN_STOCK, stock_quantity=3)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.SENT
    assert Message.objects.get(kind=Kind.BACK_IN_STOCK).recipient == "+48601234567"
    assert [sms.to for sms in sms_outbox] == ["+48601234567"]

    page.reload()
    assert page.locator("form#back-in-stock").count() == 0
    assert page.locator(".availability").inner_text() == "Dostępny"
