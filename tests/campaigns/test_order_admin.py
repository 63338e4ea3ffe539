"""The order's page: the texts the order has caused, and what saving a new status will text."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns import selectors
from credits.estimate import sms_estimate
from shop.models import OrderStatus
from smsnotify.models import Kind, Message
from templates_sms.models import SmsTemplate
from tests.admin_forms import change_form_data
from tests.factories import CustomerFactory, OrderFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db

BUY_URL = "/admin/credits/purchase/buy/"


def change_status(client, order, status):
    """Post the order's change form as the browser would, with only the status changed."""
    url = reverse("admin:shop_order_change", args=[order.pk])
    data = change_form_data(client.get(url), status=status)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def broke(client, db):
    shop = make_shop(name="Broke")  # no credits
    client.force_login(make_merchant(shop))
    return shop


def test_shipping_with_no_credits_warns_with_a_link_to_buy(client, broke):
    order = OrderFactory(shop=broke, customer=CustomerFactory(shop=broke, phone="+48601234567"))
    notices = change_status(client, order, OrderStatus.SHIPPED)
    estimate = selectors.order_status_estimate(order=order.__class__.objects.get(pk=order.pk))
    assert estimate.credits == 30 * estimate.segments  # the Polish number, priced as the ledger will
    warnings = [text for level, text in notices if level == "warning"]
    assert warnings == [
        f"The text for Shipped cannot be paid for: it costs {estimate.credits} credits and the balance is 0. "
        f'It fails unless you buy credits before it is sent. <a href="{BUY_URL}">Buy credits</a>']


def test_the_estimate_is_the_one_estimate_of_the_rendered_template(broke):
    order = OrderFactory(shop=broke, number="4242", status=OrderStatus.SHIPPED, phone="+12025550123")
    estimate = selectors.order_status_estimate(order=order)
    text = f"{broke.name}: your order 4242 has been shipped."
    assert estimate == sms_estimate(shop=broke, text=text, recipient="+12025550123")


def test_no_warning_when_the_balance_pays_or_nothing_is_texted(client, broke):
    fund(broke, 12)
    order = OrderFactory(shop=broke, phone="+12025550123")
    assert not [n for n in change_status(client, order, OrderStatus.SHIPPED) if n[0] == "warning"]
    other = OrderFactory(shop=broke)
    assert not change_status(client, other, OrderStatus.ACCEPTED)[1:]  # template off: only "changed successfully"


def test_the_order_page_lists_the_texts_it_caused(client, db):
    shop = make_shop(credits=1000)
    client.force_login(make_merchant(shop))
    order = OrderFactory(shop=shop, tracking_code="1Z5")
    change_status(client, order, OrderStatus.SHIPPED)
    message = Message.objects.get(order=order)
    foreign = OrderFactory(shop=make_shop(credits=1000))
    Message.objects.create(shop=foreign.shop, order=foreign, kind=Kind.MANUAL, recipient="+12025550100",
                           body="not yours")
    page = client.get(reverse("admin:shop_order_change", args=[order.pk]))
    assert [row["message"] for row in page.context["order_messages"]] == [message]
    content = page.content.decode()
    assert "Text messages about this order" in content
    assert reverse("admin:smsnotify_message_change", args=[message.pk]) in content
    assert "Tracking: 1Z5" in content and "Order status" in content
    assert "not yours" not in content
    customer_page = client.get(reverse("admin:shop_customer_change", args=[order.customer.pk])).content.decode()
    assert "Text messages about this order" not in customer_page


def test_reshipping_says_the_text_is_not_sent_again(client, db, sms_outbox, django_capture_on_commit_callbacks):
    shop = make_shop(credits=1000, time_zone="America/New_York")
    client.force_login(make_merchant(shop))
    order = OrderFactory(shop=shop)
    with time_machine.travel(dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert not [n for n in change_status(client, order, OrderStatus.SHIPPED) if n[0] == "info"]
    change_status(client, order, OrderStatus.PLACED)
    with django_capture_on_commit_callbacks(execute=True):
        notices = change_status(client, order, OrderStatus.SHIPPED)
    assert ("info", "A text for Shipped was already sent on March 14, 2026; it is not sent again.") in notices
    assert Message.objects.filter(order=order).count() == 1 and len(sms_outbox) == 1


def test_a_sent_text_wins_over_the_credits_warning(client, broke):
    order = OrderFactory(shop=broke)
    Message.objects.create(shop=broke, order=order, kind=Kind.ORDER_STATUS, recipient=str(order.phone), body="x",
                           dedupe_key=f"order:{order.pk}:status:shipped")
    notices = change_status(client, order, OrderStatus.SHIPPED)
    assert [level for level, _text in notices if level in ("info", "warning")] == ["info"]


def test_the_dedupe_key_is_the_one_the_status_text_carries(shop, on_commit):
    from shop import services

    order = OrderFactory(shop=shop)
    SmsTemplate.objects.filter(shop=shop, event="order_status:accepted").update(active=True)
    services.order_change_status(order=order, status=OrderStatus.ACCEPTED)
    assert selectors.order_status_message(order=order, status=OrderStatus.ACCEPTED) == Message.objects.get()
    assert selectors.order_status_message(order=order, status=OrderStatus.SHIPPED) is None


def test_shipping_with_sms_switched_off_says_the_text_was_not_sent(client, db):
    shop = make_shop(credits=1000, active=False)
    client.force_login(make_merchant(shop))
    notices = change_status(client, OrderFactory(shop=shop), OrderStatus.SHIPPED)
    assert ("warning", "The text for Shipped was not sent: SMS is switched off for this shop. "
                       "Switch it on in SMS settings.") in notices
    other = OrderFactory(shop=shop)
    assert not [n for n in change_status(client, other, OrderStatus.ACCEPTED) if n[0] == "warning"]  # no text
