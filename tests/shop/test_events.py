"""The store's events: sent by shop services inside their transaction, the one door to SMS."""

from contextlib import contextmanager

import pytest
from django.db import transaction
from django.urls import reverse

from credits.models import CreditAccount
from shop import events, services
from shop.models import Order, OrderStatus, Shop
from smsnotify.models import SmsSettings
from templates_sms.models import SmsTemplate
from tests.admin_forms import change_form_data
from tests.factories import CustomerFactory, OrderFactory, make_merchant


@contextmanager
def caught(signal):
    """Record every send of ``signal`` (its keyword arguments)."""
    sent = []

    def record(sender, **kwargs):
        kwargs.pop("signal")
        sent.append((sender, kwargs))

    signal.connect(record, dispatch_uid="test-events-record")
    try:
        yield sent
    finally:
        signal.disconnect(dispatch_uid="test-events-record")


def test_a_new_shop_gets_its_rows_from_the_apps_that_keep_them(db):
    with caught(events.shop_created) as sent:
        shop = services.shop_create(name="New", slug="new-shop", country="PL", currency="PLN", language="pl")
    assert sent == [(Shop, {"shop": shop})]
    assert not SmsSettings.objects.get(shop=shop).active  # SMS starts switched off
    assert CreditAccount.objects.get(shop=shop).balance == 0
    assert SmsTemplate.objects.filter(shop=shop, is_standard=True).exists()


def test_placing_an_order_and_registering_a_customer_are_events(shop):
    with caught(events.customer_registered) as registered, caught(events.order_placed) as placed:
        customer = services.customer_create(shop=shop, first_name="Ann", phone="+12025550111")
        order = services.order_create(shop=shop, number="A-1", customer=customer)
    assert registered == [(Shop, {"customer": customer})]
    assert placed == [(Shop, {"order": order})]


def test_a_status_change_says_what_it_was_before(shop):
    order = OrderFactory(shop=shop)
    with caught(events.order_status_changed) as sent:
        services.order_change_status(order=order, status=OrderStatus.ACCEPTED)
        services.order_change_status(order=order, status=OrderStatus.ACCEPTED)  # no change: no event
    assert [(kwargs["order"].pk, kwargs["order"].status, kwargs["previous"]) for _sender, kwargs in sent] == [
        (order.pk, OrderStatus.ACCEPTED, OrderStatus.PLACED)]


def test_setting_or_changing_a_tracking_code_is_its_own_event(shop):
    order = OrderFactory(shop=shop)
    with caught(events.tracking_code_set) as sent:
        services.order_change_status(order=order, status=order.status, tracking_code="1Z1")
        services.order_change_status(order=order, status=order.status, tracking_code="1Z1")  # same code: nothing
        services.order_change_status(order=order, status=order.status, tracking_code="1Z2")
        services.order_change_status(order=order, status=order.status, tracking_code="")  # cleared: nothing to text
    assert [(kwargs["order"].tracking_code, kwargs["previous"]) for _sender, kwargs in sent] == [
        ("1Z1", ""), ("1Z2", "1Z1")]


def test_a_receivers_failure_rolls_the_store_change_back(shop):
    order = OrderFactory(shop=shop)

    def fail(sender, **kwargs):
        raise RuntimeError("the SMS side broke")

    events.order_status_changed.connect(fail, dispatch_uid="test-events-fail")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    finally:
        events.order_status_changed.disconnect(dispatch_uid="test-events-fail")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLACED


def test_the_order_page_changes_status_and_tracking_code_through_the_service(client, shop):
    client.force_login(make_merchant(shop))
    order = OrderFactory(shop=shop, customer=CustomerFactory(shop=shop))
    url = reverse("admin:shop_order_change", args=[order.pk])
    data = change_form_data(client.get(url), status=OrderStatus.SHIPPED, tracking_code="1Z9",
                            shipping_method="Courier")
    with caught(events.order_status_changed) as changed, caught(events.tracking_code_set) as tracked:
        response = client.post(url, data)
    assert response.status_code == 302
    assert [kwargs["previous"] for _sender, kwargs in changed] == [OrderStatus.PLACED]
    assert [kwargs["order"].tracking_code for _sender, kwargs in tracked] == ["1Z9"]
    order.refresh_from_db()
    assert (order.status, order.tracking_code, order.shipping_method) == (OrderStatus.SHIPPED, "1Z9", "Courier")

