"""A merchant edits an SMS template in the browser: the counter and the special-characters
warning follow the text as it is typed (computed by the server, shown by editor.js)."""

import os

import pytest
from playwright.sync_api import expect

from templates_sms.models import SmsTemplate
from tests.factories import make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def test_typing_updates_the_counter_and_the_special_characters_warning(page, live_server, admin_login):
    shop = make_shop(name="Browser Shop")
    make_merchant(shop, username="merchant-editor", password="pw-editor-1")
    template = SmsTemplate.objects.get(shop=shop, event="custom")

    admin_login("merchant-editor", "pw-editor-1")
    page.goto(f"{live_server.url}/admin/templates_sms/smstemplate/{template.pk}/change/")
    body, counter, warning = page.locator("#id_body"), page.locator("#sms-counter"), page.locator("#sms-warning")

    body.fill("")
    body.press_sequentially("Hello {firstname}, ")
    expect(page.locator("#sms-preview-text")).to_have_text("Hello Jane,")
    expect(counter).to_contain_text("1 SMS")
    expect(warning).to_be_hidden()

    body.press_sequentially("x" * 150)  # 169 characters with the sample name: a second part
    expect(counter).to_contain_text("2 SMS")

    body.fill("Hello ")
    body.press_sequentially("ą")
    expect(counter).to_contain_text("1 SMS")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Message contains special characters: ą")
    expect(warning).to_contain_text("70 characters instead of 160")

    page.get_by_role("button", name="{shop_name}").click()  # a token goes in at the cursor
    expect(body).to_have_value("Hello ą{shop_name}")
    expect(page.locator("#sms-preview-text")).to_have_text("Hello ąBrowser Shop")
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, "template-editor.png"), full_page=True)


def test_the_eye_switches_a_template_off_from_the_list(page, live_server, admin_login):
    shop = make_shop(name="Eye Shop")
    make_merchant(shop, username="merchant-eye", password="pw-eye-1")
    shipped = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")

    admin_login("merchant-eye", "pw-eye-1")
    page.goto(f"{live_server.url}/admin/templates_sms/smstemplate/")
    row = page.locator("#result_list tr", has=page.get_by_role("link", name=shipped.name, exact=True))
    row.get_by_role("button", name="Active: click to switch off").click()
    page.wait_for_selector(".messagelist .success")
    shipped.refresh_from_db()
    assert shipped.active is False
    row = page.locator("#result_list tr", has=page.get_by_role("link", name=shipped.name, exact=True))
    expect(row.get_by_role("button", name="Off: click to switch on")).to_be_visible()
