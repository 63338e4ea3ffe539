"""A merchant ticks three customers, sends them a text in bulk and watches its progress reach 100 %."""

import pytest

from campaigns.models import BulkSend
from shop.models import MarketingConsent
from smsnotify.models import Kind, Message
from tests.factories import CustomerFactory, fund, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("daytime")
def test_tick_three_customers_send_and_watch_the_progress(page, live_server, admin_login, sms_outbox):
    shop = make_shop(name="Bulk Shop")
    fund(shop, 500)
    make_merchant(shop, username="bulk-m", password="pw-bulk-1")
    customers = [CustomerFactory(shop=shop, marketing_consent=MarketingConsent.GRANTED) for _ in range(4)]
    admin_login("bulk-m", "pw-bulk-1")
    page.goto(f"{live_server.url}/admin/shop/customer/")
    for customer in customers[:3]:
        page.check(f"input[name=_selected_action][value='{customer.pk}']")
    page.select_option("select[name=action]", "send_sms_selected")
    page.click("button[name=index]")
    assert "3 of 3 selected will be texted" in page.locator(".bulk-plan").inner_text()
    # the recipients' table does not touch the text box's label below it
    table, label = page.locator(".bulk-previews").bounding_box(), page.locator("label[for=id_body]").bounding_box()
    assert label["y"] - (table["y"] + table["height"]) >= 16
    page.fill("#id_body", "Hi [[firstname]], -20% today only")
    page.click("input[type=submit][name=confirm]")
    page.wait_for_selector("#bulk-progress")
    page.wait_for_function("document.querySelector('.bulk-percent').textContent.trim() === '100'", timeout=20_000)
    sent = BulkSend.objects.get()
    assert sent.recipients == 3
    assert Message.objects.filter(kind=Kind.BULK).count() == 3
    assert sorted(sms.to for sms in sms_outbox) == sorted(str(c.phone) for c in customers[:3])
