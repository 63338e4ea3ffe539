"""An automatic text end to end on PostgreSQL + Redis + a real Celery worker: a shipped order's text
with the merchant's 2-day delay waits in the database, then leaves; one whose order moved on never does."""

import datetime as dt
import time

import pytest
import time_machine
from django.utils import timezone

from campaigns.models import OrderStatusRule
from shop import services
from shop.models import OrderStatus
from smsnotify.models import Kind, Message, Status
from smsnotify.tasks import dispatch_due
from tests.factories import OrderFactory, make_shop
from tests.integration.test_delivery import status_of, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_shipped_text_delayed_two_days_leaves_after_two_days(celery_worker, sms_outbox):
    shop = make_shop(credits=10_000)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=2)
    order = OrderFactory(shop=shop, tracking_code="1Z42")
    services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    text = Message.objects.get(order=order, kind=Kind.ORDER_STATUS)
    dispatch_due.delay()
    time.sleep(1.0)
    assert status_of(text.pk) == Status.SCHEDULED and sms_outbox == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, minutes=1), tick=True):
        dispatch_due.delay()
        assert wait_for(lambda: status_of(text.pk) == Status.SENT)
    assert [sms.body for sms in sms_outbox] == [f"{shop.name}: your order {order.number} has been shipped. Tracking: 1Z42"]


def test_a_delayed_text_whose_order_was_cancelled_meanwhile_never_leaves(celery_worker, sms_outbox):
    shop = make_shop(credits=10_000)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=2)
    order = OrderFactory(shop=shop)
    services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    services.order_change_status(order=order, status=OrderStatus.CANCELLED)  # its template is off: no text
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, minutes=1), tick=True):
        dispatch_due.delay()
        time.sleep(1.0)
    text = Message.objects.get(order=order, kind=Kind.ORDER_STATUS)
    assert (text.status, text.error_code) == (Status.CANCELLED, "status_changed")
    assert sms_outbox == []
