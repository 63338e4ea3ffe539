"""A visitor signs up on a shop's storefront with a mobile number, enters the texted code, and
later logs in with that number."""

import re

import pytest

from shop.models import Customer, MarketingConsent
from smsnotify.models import Kind, Lane, Message
from tests.factories import make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_by_mobile_with_the_texted_code_then_log_in(page, live_server, sms_outbox):
    shop = make_shop(name="Acme Outdoor", credits=1000)
    store = f"{live_server.url}/store/{shop.slug}/account"
    page.goto(f"{store}/signup/")
    assert page.locator("select[name=country]").input_value() == "US"  # the shop's country first
    page.select_option("select[name=country]", "US")
    page.fill("input[name=phone]", "202 555 0147")
    page.fill("input[name=first_name]", "Jane")
    page.fill("input[name=last_name]", "Roe")
    page.fill("input[name=password]", "correct horse battery")
    page.check("input[name=consent]")
    wording = page.locator("label[for=id_consent]").inner_text()
    page.get_by_role("button", name="Send me check code").click()

    page.wait_for_selector("h1:has-text('Enter your code')")
    assert "+1 202-555-0147" in page.locator(".intro").inner_text()
    assert [sms.to for sms in sms_outbox] == ["+12025550147"]  # the test gateway's outbox
    code = re.search(r"\b\d{6}\b", sms_outbox[0].body).group()
    assert Message.objects.get(kind=Kind.VERIFICATION_CODE).lane == Lane.CODES
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="Verify").click()

    page.wait_for_selector("h1:has-text('My account')")
    assert "Your number is verified" in page.locator(".notice").inner_text()
    assert page.locator("#mobile .verified").inner_text() == "Verified"
    customer = Customer.objects.get()
    assert customer.mobile_verified and customer.marketing_consent == MarketingConsent.GRANTED
    assert customer.marketing_consent_text == wording and customer.marketing_consent_ip == "127.0.0.1"

    page.get_by_role("button", name="Log out").click()
    page.wait_for_selector("h1:has-text('Log in')")
    page.fill("input[name=login]", "(202) 555-0147")
    page.fill("input[name=password]", "correct horse battery")
    page.locator("#main-form").get_by_role("button", name="Log in").click()
    page.wait_for_selector("h1:has-text('My account')")
    assert "202-555-0147" in page.locator("#mobile").inner_text()
