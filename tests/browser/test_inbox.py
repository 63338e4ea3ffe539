"""A customer's reply, simulated on the sandbox page, lands in the inbox; the merchant opens the
conversation and answers it."""

import pytest

from campaigns.models import Conversation
from smsnotify.models import Kind, Message
from tests.factories import CustomerFactory, fund, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_open_the_inbox_and_reply_to_a_simulated_inbound_text(page, live_server, admin_login, sms_outbox):
    shop = make_shop(name="Inbox Shop")
    fund(shop, 500)
    make_merchant(shop, username="inbox-m", password="pw-inbox-1")
    CustomerFactory(shop=shop, phone="+12025550142", first_name="Rita", last_name="Moreno")
    admin_login("inbox-m", "pw-inbox-1")
    page.goto(f"{live_server.url}/admin/campaigns/conversation/")
    page.get_by_role("link", name="Simulate a text from a customer").click()
    page.fill("#id_sender", "+12025550142")
    page.fill("#id_body", "Hi, can I still change my delivery address?")
    page.click("input[type=submit][value='Receive']")
    page.wait_for_selector(".messagelist .success")
    assert page.url.endswith("/admin/campaigns/conversation/")  # back in the inbox
    assert page.locator("#inbox-badge").get_attribute("data-unread") == "1"
    row = page.locator("strong.inbox-unread")
    assert row.inner_text() == "Rita Moreno (1)"
    page.get_by_role("link", name="Rita Moreno (1)").click()
    page.wait_for_selector("#thread")
    assert "change my delivery address" in page.locator(".bubble.in").inner_text()
    assert page.locator("#inbox-badge").get_attribute("data-unread") == "0"  # opening it read it
    page.fill("#reply-form #id_body", "Yes, reply with the new address. " * 6)
    page.wait_for_function("document.getElementById('reply-estimate').textContent.includes('2 SMS')")
    page.fill("#reply-form #id_body", "Yes, reply with the new address.")
    page.wait_for_function("document.getElementById('reply-estimate').textContent.includes('1 SMS')")
    page.click("input[type=submit][value='Send reply']")
    page.wait_for_selector(".messagelist .success")
    assert "Yes, reply with the new address." in page.locator(".bubble.out").last.inner_text()
    reply = Message.objects.get(kind=Kind.REPLY)
    assert reply.recipient == "+12025550142"
    assert [sms.body for sms in sms_outbox] == ["Yes, reply with the new address."]
    assert Conversation.objects.get(shop=shop).unread == 0
