"""In a real browser: the merchant sends a test text from the SMS settings page and reads the
provider's answer, then downloads the SMS report from the message list."""

import datetime as dt

import pytest
from django.utils import timezone

from smsnotify.gateways import PermanentGatewayError, locmem
from smsnotify.models import Kind, Message, SmsSettings, Status
from tests.factories import MessageFactory, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_test_text_from_the_settings_page_shows_the_providers_answer(page, live_server, admin_login):
    shop = make_shop(name="Browser Test Text", credits=1000)
    make_merchant(shop, username="merchant-tt", password="pw-browser-tt")
    settings = SmsSettings.objects.get(shop=shop)

    admin_login("merchant-tt", "pw-browser-tt")
    page.goto(f"{live_server.url}/admin/smsnotify/smssettings/{settings.pk}/change/")
    page.click("a.test-text")
    assert page.input_value("#id_to") == "+12025550199"  # the merchant's own number, offered
    page.click("input[value='Send test text']")
    page.wait_for_selector(".messagelist .success")

    message = Message.objects.get(shop=shop, kind=Kind.GATEWAY_TEST)
    assert message.status == Status.SENT
    assert f"the provider accepted it as {message.provider_id}" in page.inner_text(".messagelist .success")

    locmem.errors.append(PermanentGatewayError("The 'To' number is not a valid phone number.", code="21211"))
    page.fill("#id_to", "+12025550123")
    page.click("input[value='Send test text']")
    page.wait_for_selector(".messagelist .error")
    assert "the number is not valid (21211)" in page.inner_text(".messagelist .error")
    page.click(".messagelist .error a")  # the message's own page: its history
    page.wait_for_selector("#content h1, #content h2")
    assert "/admin/smsnotify/message/" in page.url


def test_the_report_page_refuses_a_bad_range_and_downloads_a_good_one(page, live_server, admin_login):
    shop = make_shop(name="Browser Report", time_zone="UTC")
    make_merchant(shop, username="merchant-rp", password="pw-browser-rp")
    today = timezone.localdate(timezone.now(), shop.zone)
    MessageFactory(shop=shop, status=Status.DELIVERED, sent_at=timezone.now(), gateway="twilio", segments=2)

    admin_login("merchant-rp", "pw-browser-rp")
    page.goto(f"{live_server.url}/admin/smsnotify/message/")
    page.click("a.sms-report")
    page.fill("#id_start", (today + dt.timedelta(days=1)).isoformat())
    page.fill("#id_end", today.isoformat())
    page.click("input[value='Download']")
    page.wait_for_selector(".errorlist")
    assert "The last day cannot be before the first." in page.inner_text(".errorlist")

    page.fill("#id_start", today.isoformat())
    with page.expect_download() as download:
        page.click("input[value='Download']")
    lines = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert len(lines) == 2 and lines[1].startswith("+1,2025550123,")
