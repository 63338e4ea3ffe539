"""Money and counts in the admin read as people write them, never in minor units."""

import pytest
from django.urls import reverse

from shop.models import Order, Product
from tests.admin_forms import change_form_data
from tests.factories import OrderFactory, ProductFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    return make_shop(name="Acme")


@pytest.fixture
def merchant(client, shop):
    client.force_login(make_merchant(shop))
    return client


def test_order_list_shows_the_total_in_the_currency(merchant, shop):
    OrderFactory(shop=shop, number="1001", total=5890)
    page = merchant.get(reverse("admin:shop_order_changelist")).content.decode()
    assert "$58.90" in page
    assert "5890" not in page


def test_order_page_takes_amounts_as_written_and_stores_minor_units(merchant, shop):
    order = OrderFactory(shop=shop, subtotal=5000, shipping_cost=890, total=5890)
    url = reverse("admin:shop_order_change", args=[order.pk])
    page = merchant.get(url)
    form = page.context["adminform"].form
    assert form["total"].value() == form.fields["total"].to_python("58.90")
    data = change_form_data(page, total="61.40", shipping_cost="11.40")
    response = merchant.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    order.refresh_from_db()
    assert (order.subtotal, order.shipping_cost, order.total) == (5000, 1140, 6140)


def test_an_amount_finer_than_a_cent_is_a_form_error(merchant, shop):
    response = merchant.post(reverse("admin:shop_order_add"), {
        "number": "X1", "phone": "+12025550111", "status": "placed", "subtotal": "1.005", "shipping_cost": "0",
        "total": "1.005", "currency": "USD", "placed_at_0": "2026-11-20", "placed_at_1": "10:00:00",
    })
    assert response.status_code == 200
    assert "total" in response.context["adminform"].form.errors
    assert not Order.objects.filter(number="X1").exists()


def test_product_price_is_typed_and_listed_in_the_currency(merchant, shop):
    response = merchant.post(reverse("admin:shop_product_add"), {
        "name": "Tent", "sku": "T1", "price": "89.00", "stock_status": "in_stock", "stock_quantity": "3",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Product.objects.get(name="Tent").price == 8900
    ProductFactory(shop=shop, name="Lamp", price=1999)
    page = merchant.get(reverse("admin:shop_product_changelist")).content.decode()
    assert "$89.00" in page and "$19.99" in page


def test_the_balance_in_the_header_has_thousands_separators(merchant, shop):
    fund(shop, 1_000_000_004_534)
    page = merchant.get(reverse("admin:index")).content.decode()
    assert "Credits: <strong>1,000,000,004,534</strong>" in page
