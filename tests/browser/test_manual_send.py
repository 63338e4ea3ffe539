"""A merchant texts a customer by hand from an order page; with no credits the button is gone."""

import pytest

from smsnotify.models import Kind, Message
from tests.factories import OrderFactory, fund, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_send_from_the_order_page_with_a_live_counter(page, live_server, admin_login, sms_outbox):
    shop = make_shop(name="Manual Shop")
    fund(shop, 500)
    make_merchant(shop, username="manual-m", password="pw-manual-1")
    order = OrderFactory(shop=shop, number="M-1")
    admin_login("manual-m", "pw-manual-1")
    page.goto(f"{live_server.url}/admin/shop/order/{order.pk}/change/")
    page.get_by_role("link", name="Send text message").click()
    body = page.locator("#id_body")
    body.fill("Hi [[firstname]], your parcel leaves today.")
    page.wait_for_function("document.getElementById('sms-counter').textContent.includes('1 SMS')")
    body.fill("Hi [[firstname]], your parcel leaves today " + "and more " * 20)
    page.wait_for_function("document.getElementById('sms-counter').textContent.includes('2 SMS')")
    body.fill("Order [[order_id]] is packed.")  # from an order's page the order's tokens work
    page.wait_for_function("document.getElementById('sms-preview-text').textContent === 'Order M-1 is packed.'")
    assert page.locator("#sms-errors").is_hidden()
    body.fill("Hi [[firstname]], your parcel leaves today.")
    page.click("input[type=submit][value='Send now']")
    page.wait_for_selector(".messagelist .success")
    message = Message.objects.get(kind=Kind.MANUAL)
    assert message.body == f"Hi {order.customer.first_name}, your parcel leaves today."
    assert [sms.to for sms in sms_outbox] == [str(order.phone)]


def test_send_buttons_vanish_at_zero_balance(page, live_server, admin_login):
    shop = make_shop(name="Broke Shop")  # no credits
    make_merchant(shop, username="broke-m", password="pw-broke-1")
    order = OrderFactory(shop=shop, number="Z-1")
    admin_login("broke-m", "pw-broke-1")
    page.goto(f"{live_server.url}/admin/shop/order/{order.pk}/change/")
    assert page.get_by_role("link", name="Send text message").count() == 0
    assert "Not enough credits" in page.locator(".sms-blocked").inner_text()
    page.goto(f"{live_server.url}/admin/shop/customer/")
    options = page.locator("select[name=action] option").all_inner_texts()
    assert not any("Send text message" in option for option in options)
    assert page.locator(".sms-blocked").count() == 1
