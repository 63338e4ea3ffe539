"""A merchant ships an order in the browser and sees the SMS in the message list."""

import os

import pytest

from smsnotify.models import Message, Status
from tests.factories import OrderFactory, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def test_merchant_ships_an_order_and_sees_the_message(page, live_server, admin_login, sms_outbox):
    shop = make_shop(name="Browser Shop", credits=1000)
    other = make_shop(name="Other Shop")
    make_merchant(shop, username="merchant-b", password="pw-browser-1")
    order = OrderFactory(shop=shop, number="B-100")
    OrderFactory(shop=other, number="FOREIGN-1")

    admin_login("merchant-b", "pw-browser-1")
    page.goto(f"{live_server.url}/admin/shop/order/")
    assert page.locator("#result_list").get_by_text("FOREIGN-1").count() == 0
    page.get_by_role("link", name="B-100").click()
    page.select_option("#id_status", "shipped")
    page.fill("#id_tracking_code", "TRACK-42")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")

    message = Message.objects.get(order=order)
    assert message.status == Status.SENT
    assert [sms.to for sms in sms_outbox] == [str(order.phone)]

    page.goto(f"{live_server.url}/admin/smsnotify/message/")
    row = page.locator("#result_list tbody tr").first
    assert "Sent" in row.inner_text()
    assert str(order.phone) in row.inner_text()
    row.locator("a").first.click()
    assert "TRACK-42" in page.locator(".field-body").inner_text()
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "message-detail.png"), full_page=True)
