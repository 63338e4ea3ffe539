"""A merchant reads what a bulk send earned on the Campaign revenue page and changes the period."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from campaigns.models import BulkSend
from shop import services as shop_services
from smsnotify.models import Kind, Message, Status
from smsnotify.outbox import PreparedMessage, messages_schedule_many
from tests.factories import CustomerFactory, make_merchant, make_shop
from tests.smsnotify.helpers import visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_bulk_sends_revenue_over_a_period(page, live_server, admin_login):
    shop = make_shop(name="Revenue Shop", time_zone="America/New_York")
    make_merchant(shop, username="revenue-m", password="pw-revenue-1")
    customer = CustomerFactory(shop=shop)
    bulk = BulkSend.objects.create(shop=shop, body="Sale https://acme.example/sale", send_key=uuid.uuid4(),
                                   status="finished", recipients=1)
    written = messages_schedule_many(shop=shop, kind=Kind.BULK, batch_ref=bulk.batch_ref, rows=[PreparedMessage(
        to=str(customer.phone), body=bulk.body, dedupe_key=f"{bulk.batch_ref}:customer:{customer.pk}",
        customer_id=customer.pk)])
    Message.objects.filter(pk__in=written.values()).update(status=Status.DELIVERED, credits_charged=12)
    assert visit(f"/{Message.objects.get().links.get().code}")[0] == "302 Found"
    shop_services.order_create(shop=shop, number="RV-1", customer=customer, subtotal=12_345)

    admin_login("revenue-m", "pw-revenue-1")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Campaign revenue").first.click()
    table = page.locator("#campaign-revenue-table")
    row = table.locator(f'tr[data-campaign="{bulk.batch_ref}"]')
    assert row.locator("td").all_inner_texts() == [row.locator("td").first.inner_text(), "1", "12", "1", "1",
                                                   "$123.45"]
    assert row.locator("td").first.inner_text().startswith(f"Bulk send #{bulk.pk} of ")
    assert "Bulk sends" in table.inner_text()
    # the total row is as large as the others (Django's base.css sets tfoot cells small, like headers)
    sizes = table.evaluate("t => [t.querySelector('tbody td'), t.querySelector('tr.revenue-total td')]"
                           ".map(cell => getComputedStyle(cell).fontSize)")
    assert sizes[0] == sizes[1], sizes

    today = timezone.localdate(timezone=shop.zone)
    page.fill("#id_first", (today + dt.timedelta(days=1)).isoformat())
    page.fill("#id_last", (today + dt.timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector(".revenue-empty")
    assert page.locator("#campaign-revenue-table").count() == 0

    page.fill("#id_first", (today + dt.timedelta(days=2)).isoformat())
    page.fill("#id_last", today.isoformat())
    page.get_by_role("button", name="Show").click()
    assert "The first day must not be after the last." in page.locator(".errornote").inner_text()
