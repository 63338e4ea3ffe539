"""A product back in stock texts each number waiting for it once, and marks the sign-up sent."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns import back_in_stock as stock_texts
from shop import events, services
from shop.models import BackInStockSubscription, StockStatus, SubscriptionStatus
from smsnotify.models import Kind, Message, SmsSettings, Status
from templates_sms.models import SmsTemplate
from templates_sms.tokens import EVENTS, PRODUCT_BACK_IN_STOCK
from tests.admin_forms import change_form_data
from tests.factories import (
    BackInStockSubscriptionFactory,
    CustomerFactory,
    ProductFactory,
    make_merchant,
    make_shop,
)

pytestmark = pytest.mark.django_db

WAITING, SENT, CANCELLED = SubscriptionStatus.WAITING, SubscriptionStatus.SENT, SubscriptionStatus.CANCELLED


def back_in_stock(product, status=StockStatus.IN_STOCK, quantity=None):
    return services.product_stock_set(product=product, stock_status=status, stock_quantity=quantity)


@pytest.fixture
def tent(shop):
    return ProductFactory(shop=shop, name="Trail tent", price=8990, stock_status=StockStatus.OUT_OF_STOCK)


@pytest.mark.usefixtures("daytime")  # marketing texts: within the allowed hours
def test_each_waiting_number_gets_one_text_and_is_marked_sent(shop, tent, sms_outbox, on_commit):
    waiting = [BackInStockSubscriptionFactory(shop=shop, product=tent) for _ in range(3)]
    done = BackInStockSubscriptionFactory(shop=shop, product=tent, status=SENT)
    stopped = BackInStockSubscriptionFactory(shop=shop, product=tent, status=CANCELLED)
    other_product = BackInStockSubscriptionFactory(shop=shop)
    with on_commit():
        back_in_stock(tent)
    messages = Message.objects.order_by("pk")
    assert [m.recipient for m in messages] == [str(s.phone) for s in waiting]
    for message, subscription in zip(messages, waiting):
        assert message.body == f"{shop.name}: good news! Trail tent is back in stock for $89.90."
        assert (message.kind, message.product, message.customer) == (Kind.BACK_IN_STOCK, tent, subscription.customer)
        assert message.dedupe_key == f"stock:subscription:{subscription.pk}"
        subscription.refresh_from_db()
        assert subscription.status == SENT and subscription.notified_at is not None
    assert sorted(sms.to for sms in sms_outbox) == sorted(str(s.phone) for s in waiting)
    for untouched, status in ((done, SENT), (stopped, CANCELLED), (other_product, WAITING)):
        untouched.refresh_from_db()
        assert untouched.status == status and untouched.notified_at is None


def test_back_in_stock_twice_texts_nobody_twice_and_a_new_sign_up_gets_the_next_one(shop, tent):
    first = BackInStockSubscriptionFactory(shop=shop, product=tent, phone="+12025550101")
    back_in_stock(tent)
    back_in_stock(tent, quantity=5)  # already available: no event
    back_in_stock(tent, StockStatus.OUT_OF_STOCK)
    again = services.back_in_stock_subscribe(product=tent, phone="+12025550101", consent_text="yes")
    assert again.pk != first.pk and again.status == WAITING  # the same number may wait again after its text
    back_in_stock(tent)
    assert Message.objects.filter(recipient="+12025550101").count() == 2
    assert set(Message.objects.values_list("dedupe_key", flat=True)) == {
        f"stock:subscription:{first.pk}", f"stock:subscription:{again.pk}"}


def test_the_event_delivered_twice_writes_no_second_text(shop, tent):
    subscription = BackInStockSubscriptionFactory(shop=shop, product=tent)
    back_in_stock(tent)
    BackInStockSubscription.objects.filter(pk=subscription.pk).update(status=WAITING)  # as if not yet marked
    events.product_back_in_stock.send(sender=type(shop), product=tent)
    assert Message.objects.count() == 1


def test_another_shop_is_untouched(shop, tent):
    other = make_shop()
    theirs = BackInStockSubscriptionFactory(shop=other, phone="+12025550177")
    back_in_stock(tent)
    theirs.refresh_from_db()
    assert theirs.status == WAITING and not Message.objects.filter(shop=other).exists()


def test_only_becoming_available_sends_the_event(shop):
    seen = []

    def spy(sender, *, product, **kwargs):
        seen.append((product.pk, product.stock_status))

    events.product_back_in_stock.connect(spy, dispatch_uid="test-spy")
    try:
        product = ProductFactory(shop=shop, stock_status=StockStatus.IN_STOCK)
        back_in_stock(product, quantity=3)  # in stock → in stock
        back_in_stock(product, StockStatus.OUT_OF_STOCK)
        back_in_stock(product, StockStatus.OUT_OF_STOCK, quantity=0)
        back_in_stock(product, StockStatus.BACKORDER)  # can be ordered again
        back_in_stock(product, StockStatus.IN_STOCK)
    finally:
        events.product_back_in_stock.disconnect(dispatch_uid="test-spy")
    assert seen == [(product.pk, StockStatus.BACKORDER)]
    product.refresh_from_db()
    assert (product.stock_status, product.stock_quantity) == (StockStatus.IN_STOCK, 0)
    with pytest.raises(ValueError):
        back_in_stock(product, "sold")


def test_with_sms_off_or_the_template_off_they_keep_waiting_for_the_next_time(shop, tent):
    subscription = BackInStockSubscriptionFactory(shop=shop, product=tent)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    back_in_stock(tent)
    subscription.refresh_from_db()
    assert subscription.status == WAITING
    assert not Message.objects.exists()  # nothing written while SMS is off
    SmsSettings.objects.filter(shop=shop).update(active=True)
    SmsTemplate.objects.filter(shop=shop, event=PRODUCT_BACK_IN_STOCK).update(active=False)
    back_in_stock(tent, StockStatus.OUT_OF_STOCK)
    back_in_stock(tent)
    subscription.refresh_from_db()
    assert subscription.status == WAITING and not Message.objects.exists()
    SmsTemplate.objects.filter(shop=shop, event=PRODUCT_BACK_IN_STOCK).update(active=True)
    back_in_stock(tent, StockStatus.OUT_OF_STOCK)
    back_in_stock(tent)
    subscription.refresh_from_db()
    assert subscription.status == SENT
    assert Message.objects.get(dedupe_key=f"stock:subscription:{subscription.pk}").status == Status.SCHEDULED


def test_the_customers_name_and_a_polish_shop(db):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep Bałtyk")
    product = ProductFactory(shop=shop, name="Namiot", price=5890, stock_status=StockStatus.OUT_OF_STOCK)
    customer = CustomerFactory(shop=shop, first_name="Ola", phone="+48601234567")
    BackInStockSubscriptionFactory(shop=shop, product=product, customer=customer, phone="+48601234567")
    template = SmsTemplate.objects.get(shop=shop, event=PRODUCT_BACK_IN_STOCK)
    default_body = template.body
    back_in_stock(product)
    assert Message.objects.get().body == default_body.replace("{shop_name}", "Sklep Bałtyk").replace(
        "{product_name}", "Namiot").replace("{price}", "58,90 zł")
    SmsTemplate.objects.filter(pk=template.pk).update(body="{firstname}, {product_name} znów jest!")
    BackInStockSubscriptionFactory(shop=shop, product=product, customer=customer, phone="+48601234567")
    back_in_stock(product, StockStatus.OUT_OF_STOCK)
    back_in_stock(product)
    assert Message.objects.order_by("-pk").first().body == "Ola, Namiot znów jest!"


def test_thousands_waiting_are_written_in_chunks_with_one_update_each(shop, tent, monkeypatch):
    monkeypatch.setattr(stock_texts, "CHUNK", 4)
    waiting = BackInStockSubscriptionFactory.create_batch(10, shop=shop, product=tent)
    with CaptureQueriesContext(connection) as queries:
        back_in_stock(tent)
    assert Message.objects.count() == 10
    assert not BackInStockSubscription.objects.filter(pk__in=[s.pk for s in waiting], status=WAITING).exists()
    def count(verb, table):
        return sum(1 for q in queries if re.match(rf'{verb} (OR IGNORE )?(INTO )?"?{table}"?\s', q["sql"]))

    # per chunk (4 + 4 + 2): one INSERT of texts, one of their history, one UPDATE of the sign-ups
    assert count("INSERT", "smsnotify_message") == count("INSERT", "smsnotify_messageevent") == 3
    assert count("UPDATE", "shop_backinstocksubscription") == 3
    assert len(queries) < 40  # not one query per subscriber


@pytest.mark.usefixtures("daytime")
def test_the_product_admin_saves_the_stock_through_the_service(client, shop, tent, sms_outbox,
                                                                 django_capture_on_commit_callbacks):
    subscription = BackInStockSubscriptionFactory(shop=shop, product=tent)
    client.force_login(make_merchant(shop))
    url = reverse("admin:shop_product_change", args=[tent.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, change_form_data(client.get(url), name="Trail tent 2",
                                                     stock_status=StockStatus.IN_STOCK, stock_quantity=4))
    assert response.status_code == 302
    tent.refresh_from_db()
    assert (tent.name, tent.stock_status, tent.stock_quantity) == ("Trail tent 2", StockStatus.IN_STOCK, 4)
    subscription.refresh_from_db()
    assert subscription.status == SENT
    assert [sms.body for sms in sms_outbox] == [f"{shop.name}: good news! Trail tent 2 is back in stock for $89.90."]


def test_the_back_in_stock_text_is_marked_as_sent_by_the_system():
    assert EVENTS[PRODUCT_BACK_IN_STOCK].sent
