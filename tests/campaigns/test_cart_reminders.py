"""The abandoned-cart reminder (campaigns/cart_reminders.py) and its delivery policy
(campaigns/cart_policy.py), with time travel: one reminder after the idle hours and only within
48 h of the last activity; an order placed, the cart emptied, its items out of stock, or the
customer back before it leaves cancels it; every scan run twice writes nothing more."""

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from campaigns.cart_policy import CART_CONVERTED, CART_EMPTY, CART_OUT_OF_STOCK, CART_STALE, CART_TOUCHED
from campaigns.cart_reminders import abandoned_carts_run
from campaigns.models import AbandonedCartSettings
from shop.models import Cart, CartItem, MarketingConsent, StockStatus
from smsnotify import history
from smsnotify.models import EventType, Kind, Message, Status
from templates_sms import services as template_services
from templates_sms.models import SmsTemplate
from tests.delivery import deliver
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, make_shop

pytestmark = pytest.mark.django_db

LEFT = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def reminding(shop):
    """A shop with reminders on (4 hours, the default) and its cart text switched on."""
    AbandonedCartSettings.objects.create(shop=shop, active=True)
    template = SmsTemplate.objects.get(shop=shop, event="cart:abandoned", is_standard=True)
    template_services.template_update(template=template, active=True,
                                      body="{name}, {cart_items} items worth {cart_total} wait for you at {shop_name}.")
    return shop


def _cart(shop, *, consent=MarketingConsent.GRANTED, items=((1999, 2),), phone="+12025550123", stock=None, **fields):
    customer = CustomerFactory(shop=shop, first_name="Ada", marketing_consent=consent,
                               phone=fields.pop("customer_phone", "+12025550111"))
    cart = Cart.objects.create(shop=shop, customer=customer, phone=phone, last_activity_at=fields.pop("at", LEFT),
                               **fields)
    for price, quantity in items:
        product = ProductFactory(shop=shop, price=price, stock_status=stock or StockStatus.IN_STOCK)
        CartItem.objects.create(cart=cart, product=product, quantity=quantity, unit_price=price)
    return cart


def _run(moment):
    with time_machine.travel(moment, tick=False):
        return abandoned_carts_run()


def _reminders(**filters):
    return list(Message.objects.filter(kind=Kind.ABANDONED_CART, **filters).order_by("pk"))


def _deliver_at(moment, message):
    with time_machine.travel(moment, tick=False):
        deliver([message.pk])
    message.refresh_from_db()
    return message


def test_one_reminder_after_the_idle_hours(reminding):
    cart = _cart(reminding, items=((1999, 2), (500, 1)))
    assert _run(LEFT + dt.timedelta(hours=3, minutes=59)) == 0
    assert _run(LEFT + dt.timedelta(hours=4)) == 1
    (reminder,) = _reminders()
    assert reminder.body == f"Ada, 3 items worth $44.98 wait for you at {reminding.name}."
    assert (reminder.cart, reminder.customer, reminder.recipient) == (cart, cart.customer, "+12025550123")
    assert reminder.dedupe_key == f"cart:{cart.pk}:abandoned:{int(LEFT.timestamp())}"
    assert reminder.status == Status.SCHEDULED and reminder.send_at == LEFT + dt.timedelta(hours=4)
    # every run again, and later ones, write nothing more
    for hours in (4, 5, 30):
        assert _run(LEFT + dt.timedelta(hours=hours)) == 0
    assert len(_reminders()) == 1
    assert _deliver_at(LEFT + dt.timedelta(hours=4, minutes=1), reminder).status == Status.SENT


def test_the_merchants_idle_hours(reminding):
    AbandonedCartSettings.objects.filter(shop=reminding).update(idle_hours=10)
    _cart(reminding)
    assert _run(LEFT + dt.timedelta(hours=9, minutes=59)) == 0
    assert _run(LEFT + dt.timedelta(hours=10)) == 1


def test_never_48_hours_after_the_last_activity(reminding):
    _cart(reminding)
    assert _run(LEFT + dt.timedelta(hours=48)) == 0  # scans were down until then: too late
    assert not _reminders()


def test_the_phone_of_the_customer_when_the_cart_has_none(reminding):
    _cart(reminding, phone="", customer_phone="+12025550177")
    assert _run(LEFT + dt.timedelta(hours=5)) == 1
    assert _reminders()[0].recipient == "+12025550177"


@pytest.mark.parametrize("case", ["no_consent", "revoked", "no_phone", "empty", "out_of_stock", "converted",
                                  "no_customer"])
def test_carts_that_get_no_reminder(reminding, case):
    kwargs = {
        "no_consent": {"consent": MarketingConsent.UNKNOWN}, "revoked": {"consent": MarketingConsent.REVOKED},
        "no_phone": {"phone": "", "customer_phone": ""}, "empty": {"items": ()},
        "out_of_stock": {"stock": StockStatus.OUT_OF_STOCK},
    }.get(case, {})
    cart = _cart(reminding, **kwargs)
    if case == "converted":
        Cart.objects.filter(pk=cart.pk).update(converted_order=OrderFactory(shop=reminding))
    if case == "no_customer":
        Cart.objects.filter(pk=cart.pk).update(customer=None)
    assert _run(LEFT + dt.timedelta(hours=5)) == 0


def test_a_back_order_item_still_gets_its_reminder(reminding):
    _cart(reminding, stock=StockStatus.BACKORDER)
    assert _run(LEFT + dt.timedelta(hours=5)) == 1


def test_reminders_off_or_their_text_off_send_nothing(reminding):
    _cart(reminding)
    AbandonedCartSettings.objects.filter(shop=reminding).update(active=False)
    assert _run(LEFT + dt.timedelta(hours=5)) == 0
    AbandonedCartSettings.objects.filter(shop=reminding).update(active=True)
    SmsTemplate.objects.filter(shop=reminding, event="cart:abandoned").update(active=False)
    assert _run(LEFT + dt.timedelta(hours=5)) == 0
    assert not _reminders()


def test_a_customer_who_comes_back_and_leaves_again_gets_one_more(reminding):
    cart = _cart(reminding)
    assert _run(LEFT + dt.timedelta(hours=4)) == 1
    again = LEFT + dt.timedelta(hours=20)
    Cart.objects.filter(pk=cart.pk).update(last_activity_at=again)
    assert _run(again + dt.timedelta(hours=3)) == 0
    assert _run(again + dt.timedelta(hours=4)) == 1
    first, second = _reminders()
    assert second.dedupe_key == f"cart:{cart.pk}:abandoned:{int(again.timestamp())}" != first.dedupe_key


def test_another_shops_carts_are_not_its_business(reminding):
    other = make_shop()
    _cart(other)  # reminders are off there
    assert _run(LEFT + dt.timedelta(hours=5)) == 0


# --- cancelled before it leaves (the delivery policy) ----------------------------------------------


def _written(shop, **cart_fields):
    cart = _cart(shop, **cart_fields)
    _run(LEFT + dt.timedelta(hours=4))
    return cart, _reminders(cart=cart)[0]


@pytest.mark.parametrize("change, code", [
    (lambda cart: Cart.objects.filter(pk=cart.pk).update(converted_order=OrderFactory(shop=cart.shop)),
     CART_CONVERTED),
    (lambda cart: CartItem.objects.filter(cart=cart).delete(), CART_EMPTY),
    (lambda cart: cart.delete(), CART_EMPTY),
    (lambda cart: [item.product.__class__.objects.filter(pk=item.product_id).update(
        stock_status=StockStatus.OUT_OF_STOCK) for item in cart.items.all()], CART_OUT_OF_STOCK),
    (lambda cart: Cart.objects.filter(pk=cart.pk).update(last_activity_at=LEFT + dt.timedelta(hours=4)),
     CART_TOUCHED),
])
def test_a_reminder_is_cancelled_when_the_cart_is_no_longer_abandoned(reminding, change, code):
    cart, reminder = _written(reminding)
    change(cart)
    reminder = _deliver_at(LEFT + dt.timedelta(hours=4, minutes=1), reminder)
    assert (reminder.status, reminder.error_code) == (Status.CANCELLED, code)
    event = reminder.events.order_by("pk").last()
    assert event.type == EventType.STOPPED and event.parameters["reason"] == code
    with translation.override("en"):
        assert history.event_text(event).startswith("Not sent:")


def test_a_reminder_held_past_48_hours_is_cancelled(reminding):
    _cart, reminder = _written(reminding)
    # held (quiet hours, say) until after the carriers' window
    reminder = _deliver_at(LEFT + dt.timedelta(hours=48, seconds=1), reminder)
    assert (reminder.status, reminder.error_code) == (Status.CANCELLED, CART_STALE)


def test_one_item_out_of_stock_among_others_still_sends(reminding):
    cart, reminder = _written(reminding, items=((1999, 1), (500, 2)))
    first = cart.items.order_by("pk").first()
    first.product.__class__.objects.filter(pk=first.product_id).update(stock_status=StockStatus.OUT_OF_STOCK)
    assert _deliver_at(LEFT + dt.timedelta(hours=4, minutes=1), reminder).status == Status.SENT


def test_the_policy_leaves_other_texts_alone(reminding):
    order = OrderFactory(shop=reminding)
    from smsnotify.outbox import message_schedule

    with time_machine.travel(LEFT, tick=False):
        other = message_schedule(shop=reminding, to="+12025550123", body="Hi", kind=Kind.MANUAL, order=order)
    assert _deliver_at(LEFT, other).status == Status.SENT
