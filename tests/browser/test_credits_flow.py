"""A merchant spends their last credits, sees "Send text message" and the bulk action vanish
with the reason, buys a pack in three steps, and gets them back."""

import os

import pytest

from credits.models import CreditAccount, CreditPack
from shop.models import MarketingConsent
from smsnotify.models import Kind, Message, Status
from tests.factories import CustomerFactory, OrderFactory, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def bulk_action_offered(page, url):
    page.goto(f"{url}/admin/shop/customer/")
    return page.locator("select[name=action] option[value=send_sms_selected]").count() == 1


def test_send_buttons_vanish_at_zero_balance_and_return_after_buying(page, live_server, admin_login, sms_outbox):
    # the migration's default pack; a transactional test before this one may have flushed it
    CreditPack.objects.get_or_create(credits=1000, defaults={"name": "1,000 credits", "prices": {"USD": 1000}})
    shop = make_shop(name="Last Credits", credits=12)  # exactly one domestic SMS
    CreditAccount.objects.filter(shop=shop).update(low_balance_threshold=0)
    make_merchant(shop, username="merchant-c", password="pw-browser-2")
    order = OrderFactory(shop=shop, number="C-1")
    CustomerFactory(shop=shop, marketing_consent=MarketingConsent.GRANTED)
    admin_login("merchant-c", "pw-browser-2")
    order_url = f"{live_server.url}/admin/shop/order/{order.pk}/change/"

    page.goto(order_url)
    assert page.locator("#credits-badge").get_attribute("data-balance") == "12"
    assert bulk_action_offered(page, live_server.url)
    page.goto(order_url)
    page.get_by_role("link", name="Send text message").click()
    page.fill("textarea[name=body]", "Your parcel leaves today.")
    page.click("input[type=submit][value='Send now']")
    page.wait_for_url("**/admin/smsnotify/message/**")

    message = Message.objects.get(shop=shop, kind=Kind.MANUAL)
    assert (message.status, message.credits_charged) == (Status.SENT, 12)
    assert [sms.body for sms in sms_outbox] == ["Your parcel leaves today."]

    page.goto(order_url)
    assert page.locator("#credits-badge").get_attribute("data-balance") == "0"
    assert page.locator(".send-sms-link").count() == 0
    assert "Not enough credits: balance 0, one SMS costs 12." in page.locator(".sms-blocked").inner_text()
    assert page.locator(".sms-blocked a.buy-credits-link").count() == 1  # "Buy credits" is a link
    assert not bulk_action_offered(page, live_server.url)
    assert "Not enough credits" in page.locator(".sms-blocked").inner_text()
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "credits-blocked.png"), full_page=True)

    page.goto(order_url)
    page.locator(".sms-blocked").get_by_role("link", name="Buy credits").click()
    page.get_by_label("1,000 credits — $10.00").check()
    page.click("input[type=submit]")
    page.get_by_label("Card (sandbox)", exact=False).check()
    page.click("input[type=submit]")
    assert "$10.00" in page.locator("#buy-summary").inner_text()
    page.click("#confirm-purchase")
    page.wait_for_selector(".messagelist .success")
    assert CreditAccount.objects.get(shop=shop).balance == 1000

    page.goto(order_url)
    assert page.locator("#credits-badge").get_attribute("data-balance") == "1000"
    assert page.locator(".send-sms-link").count() == 1
    assert bulk_action_offered(page, live_server.url)
