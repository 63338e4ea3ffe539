"""A merchant cancels one text in the scheduled-sends list; the other keeps waiting."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from smsnotify.models import Kind, Message, Status
from tests.factories import MessageFactory, OrderFactory, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cancel_one_scheduled_message(page, live_server, admin_login):
    shop = make_shop(name="Lists Shop", time_zone="Europe/Warsaw")
    make_merchant(shop, username="lists-m", password="pw-lists-1")
    order = OrderFactory(shop=shop, number="L-7")
    tomorrow = timezone.now() + dt.timedelta(days=1)
    keep = MessageFactory(shop=shop, kind=Kind.ORDER_STATUS, order=order, recipient="+48600100200",
                          body="Your order L-7 has shipped", send_at=tomorrow)
    drop = MessageFactory(shop=shop, kind=Kind.BULK, recipient="+48600100300", body="Black Friday: -30% today",
                          send_at=tomorrow + dt.timedelta(hours=1))
    admin_login("lists-m", "pw-lists-1")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Scheduled messages").first.click()
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert rows.filter(has_text="Your order L-7 has shipped").get_by_role("link", name="Order status · order #L-7") \
        .count() == 1
    rows.filter(has_text="Black Friday").locator("input.action-select").check()
    page.select_option("select[name=action]", "cancel_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist .success")
    assert "1 message cancelled" in page.locator(".messagelist").inner_text()
    if os.environ.get("LISTS_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["LISTS_SHOTS"], "scheduled.png"), full_page=True)
    assert page.locator("#result_list tbody tr").count() == 1
    assert "Black Friday" not in page.locator("#result_list").inner_text()
    assert Message.objects.get(pk=drop.pk).status == Status.CANCELLED
    assert Message.objects.get(pk=keep.pk).status == Status.SCHEDULED
