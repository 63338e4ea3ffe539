"""Writes of the store domain. Each state change sends its store event (shop/events.py) inside
its transaction; the store itself knows nothing of SMS."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import to_python

from . import events
from .models import (
    AccountSettings,
    BackInStockSubscription,
    ConsentSource,
    Coupon,
    Customer,
    MarketingConsent,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Shop,
    StaffMembership,
    StockStatus,
    SubscriptionStatus,
    Ticket,
    TicketStatus,
)


@transaction.atomic
def shop_create(*, name: str, slug: str, country: str = "US", currency: str = "USD",
                time_zone: str = "UTC", language: str = "en") -> Shop:
    """A new tenant; the apps that keep rows per shop (SMS settings, credits, templates) make
    them on ``shop_created``. SMS starts switched off until the merchant sets a sender."""
    shop = Shop(name=name, slug=slug, country=country, currency=currency.upper(), time_zone=time_zone, language=language)
    shop.full_clean()
    shop.save()
    AccountSettings.objects.create(shop=shop)
    events.shop_created.send(sender=Shop, shop=shop)
    return shop


def staff_add(*, shop: Shop, user) -> StaffMembership:
    """Make ``user`` a merchant of ``shop`` (a staff user of exactly one shop)."""
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    membership, _ = StaffMembership.objects.update_or_create(user=user, defaults={"shop": shop})
    return membership


def _phone_or_blank(raw, shop: Shop) -> str:
    """A number in E.164, read in the shop's country; "" for none. PhoneNumberField keeps
    invalid input as typed unless a form ran, so the service checks it."""
    if not raw:
        return ""
    number = to_python(str(raw), region=shop.country)
    if number is None or not number.is_valid():
        raise ValidationError({"phone": _("%(value)s is not a valid phone number.") % {"value": raw}}, code="invalid")
    return number.as_e164


@transaction.atomic
def customer_create(*, shop: Shop, first_name: str = "", last_name: str = "", email: str = "", phone: str = "",
                    birthday: dt.date | None = None, registered_at: dt.datetime | None = None,
                    marketing_consent: str = MarketingConsent.UNKNOWN, consent_source: str = "",
                    consent_ip: str | None = None, consent_text: str = "") -> Customer:
    """A customer; a consent given or refused is recorded with when and where (bulk texts need it)."""
    customer = Customer(
        shop=shop, first_name=first_name, last_name=last_name, email=email,
        phone=_phone_or_blank(phone, shop), birthday=birthday, registered_at=registered_at or timezone.now(),
        marketing_consent=marketing_consent,
        marketing_consent_at=None if marketing_consent == MarketingConsent.UNKNOWN else timezone.now(),
        marketing_consent_source=consent_source, marketing_consent_ip=consent_ip, marketing_consent_text=consent_text,
    )
    customer.full_clean()
    customer.save()
    events.customer_registered.send(sender=Shop, customer=customer)
    return customer


def customer_consent_stamp(*, customer: Customer, source: str) -> None:
    """Stamp a consent the merchant just changed (the new state is already on ``customer``)."""
    customer.marketing_consent_at = None if customer.marketing_consent == MarketingConsent.UNKNOWN else timezone.now()
    customer.marketing_consent_source = source
    customer.marketing_consent_ip, customer.marketing_consent_text = None, ""


def customer_consent_record(*, customer: Customer, granted: bool, source: str, ip: str | None = None,
                            text: str = "") -> Customer:
    """Record a consent given or revoked now, with where it came from and, for a form, the IP
    address and the exact wording the customer saw (the proof a carrier or a regulator asks for)."""
    customer.marketing_consent = MarketingConsent.GRANTED if granted else MarketingConsent.REVOKED
    customer.marketing_consent_at = timezone.now()
    customer.marketing_consent_source, customer.marketing_consent_ip, customer.marketing_consent_text = source, ip, text
    customer.save(update_fields=["marketing_consent", "marketing_consent_at", "marketing_consent_source",
                                 "marketing_consent_ip", "marketing_consent_text"])
    return customer


@transaction.atomic
def order_create(*, shop: Shop, number: str, customer: Customer | None = None, phone: str = "", email: str = "",
                 subtotal: int | None = None, shipping_cost: int = 0, shipping_method: str = "",
                 delivery: dict | None = None, placed_at: dt.datetime | None = None,
                 items: list[tuple[Product, int]] = (), coupon_code: str = "") -> Order:
    """An order with its lines (product, quantity) at the products' current prices; the
    subtotal is theirs unless given. ``order_placed`` goes out with the lines written.

    A ``coupon_code`` (a discount code a campaign texted) is honoured once: it must be this
    shop's, still valid, not used yet and the order's customer's; its discount comes off the
    goods and the order is recorded as its redemption. ValidationError otherwise."""
    if any(product.shop_id != shop.pk for product, _quantity in items):
        raise ValidationError(_("An order can only contain products of its own shop."), code="foreign_product")
    if any(quantity < 1 for _product, quantity in items):
        raise ValidationError(_("Each order line needs a quantity of at least 1."), code="quantity")
    if subtotal is None:
        subtotal = sum(product.price * quantity for product, quantity in items)
    coupon = _coupon_for_order(shop=shop, code=coupon_code, customer=customer) if coupon_code.strip() else None
    discount = coupon.discount_on(subtotal) if coupon is not None else 0
    order = Order(
        shop=shop, number=number, customer=customer,
        phone=_phone_or_blank(phone or (customer.phone if customer else ""), shop),
        email=email or (customer.email if customer else ""),
        subtotal=subtotal, shipping_cost=shipping_cost, discount=discount, total=subtotal - discount + shipping_cost,
        currency=shop.currency,
        shipping_method=shipping_method, placed_at=placed_at or timezone.now(),
        **{f"delivery_{key}": value for key, value in (delivery or {}).items()},
    )
    order.full_clean()
    order.save()
    OrderItem.objects.bulk_create([
        OrderItem(order=order, product=product, name=product.name, quantity=quantity, unit_price=product.price)
        for product, quantity in items
    ])
    if coupon is not None:
        # Conditional: of two orders racing for one code, only the first is its redemption.
        redeemed = Coupon.objects.filter(pk=coupon.pk, redeemed_order__isnull=True, redeemed_at__isnull=True).update(
            redeemed_order=order, redeemed_at=timezone.now())
        if not redeemed:
            raise _coupon_error()
    events.order_placed.send(sender=Shop, order=order)
    return order


def _coupon_error() -> ValidationError:
    # One message for every reason: a code must not tell a guesser that it exists.
    return ValidationError({"coupon_code": _("This discount code is not valid.")}, code="invalid_coupon")


def _coupon_for_order(*, shop: Shop, code: str, customer: Customer | None) -> Coupon:
    """The shop's unused, unexpired code made for ``customer``; ValidationError otherwise."""
    coupon = (Coupon.objects.select_for_update()
              .filter(shop=shop, code=code.strip().upper(), redeemed_order__isnull=True, redeemed_at__isnull=True,
                      valid_until__gte=timezone.now()).first())
    if coupon is None or (coupon.customer_id is not None and coupon.customer_id != getattr(customer, "pk", None)):
        raise _coupon_error()
    return coupon


@transaction.atomic
def order_change_status(*, order: Order, status: str, tracking_code: str | None = None) -> Order:
    """Move an order to ``status`` (and set its tracking code); the events go out in the same
    transaction, so whatever a receiver writes commits with the change."""
    if status not in OrderStatus.values:
        raise ValueError(f"Unknown order status {status!r}")
    locked = Order.objects.select_for_update().get(pk=order.pk)
    previous, previous_code = locked.status, locked.tracking_code
    fields = []
    if tracking_code is not None and tracking_code != locked.tracking_code:
        locked.tracking_code = tracking_code
        fields.append("tracking_code")
    if status != previous:
        locked.status = status
        locked.status_changed_at = timezone.now()
        fields += ["status", "status_changed_at"]
    if fields:
        locked.save(update_fields=fields)
    if status != previous:
        events.order_status_changed.send(sender=Shop, order=locked, previous=previous)
    if "tracking_code" in fields and locked.tracking_code:
        events.tracking_code_set.send(sender=Shop, order=locked, previous=previous_code)
    order.refresh_from_db()
    return order


@transaction.atomic
def ticket_open(*, shop: Shop, subject: str, body: str = "", customer: Customer | None = None,
                order: Order | None = None) -> Ticket:
    """A customer's question; ``ticket_opened`` tells whoever alerts the merchant."""
    ticket = Ticket(shop=shop, subject=subject, body=body, customer=customer, order=order)
    ticket.full_clean()
    for related in (customer, order):
        if related is not None and related.shop_id != shop.pk:
            raise ValidationError(_("A ticket can only refer to its own shop's customers and orders."),
                                  code="foreign_object")
    ticket.save()
    events.ticket_opened.send(sender=Shop, ticket=ticket)
    return ticket


@transaction.atomic
def ticket_answer(*, ticket: Ticket, answer: str) -> Ticket:
    """The merchant's answer: the ticket is answered (again) and ``ticket_answered`` goes out.
    Each answer is its own event (``answered_at`` tells them apart)."""
    if not answer.strip():
        raise ValidationError({"answer": _("Write an answer.")}, code="empty_answer")
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    locked.answer, locked.status, locked.answered_at = answer, TicketStatus.ANSWERED, timezone.now()
    locked.save(update_fields=["answer", "status", "answered_at"])
    events.ticket_answered.send(sender=Shop, ticket=locked)
    ticket.refresh_from_db()
    return ticket


@transaction.atomic
def product_stock_set(*, product: Product, stock_status: str, stock_quantity: int | None = None) -> Product:
    """Set a product's stock. When it becomes available again, ``product_back_in_stock`` goes
    out in this transaction, so the texts to those waiting commit with the change (or neither does)."""
    if stock_status not in StockStatus.values:
        raise ValueError(f"Unknown stock status {stock_status!r}")
    locked = Product.objects.select_for_update().get(pk=product.pk)
    was_available = locked.available
    fields = []
    if stock_status != locked.stock_status:
        locked.stock_status = stock_status
        fields.append("stock_status")
    if stock_quantity is not None and stock_quantity != locked.stock_quantity:
        locked.stock_quantity = stock_quantity
        fields.append("stock_quantity")
    if fields:
        locked.save(update_fields=fields)
    if locked.available and not was_available:
        events.product_back_in_stock.send(sender=Shop, product=locked)
    product.refresh_from_db()
    return product


@transaction.atomic
def back_in_stock_subscribe(*, product: Product, phone: str, consent_text: str,
                            ip: str | None = None) -> BackInStockSubscription:
    """A visitor asks to be texted once when ``product`` can be ordered again.

    The consent they ticked is recorded, with the wording they read and their IP address, on
    the shop's customer with that number (one is made if there is none) — unless that customer
    had refused it: anyone may type a number into a form, so a refusal is only ever undone by
    the customer's own YES to a text (double opt-in). Idempotent: a number already waiting for
    the product gets that same subscription back."""
    number = _phone_or_blank(phone, product.shop)
    if not number:
        raise ValidationError({"phone": _("Enter your phone number.")}, code="required")
    # Locked, so a sign-up cannot slip in while product_stock_set texts those waiting.
    locked = Product.objects.select_for_update().select_related("shop").get(pk=product.pk)
    if locked.available:
        raise ValidationError(_("This product is available now: you can order it."), code="available")
    shop = locked.shop
    customer = Customer.objects.filter(shop=shop, phone=number).order_by("pk").first()
    if customer is None:
        # A number left on a product page is not an account: no customer_registered (no welcome text).
        customer = Customer.objects.create(shop=shop, phone=number)
    if customer.marketing_consent != MarketingConsent.REVOKED:
        customer_consent_record(customer=customer, granted=True, source=ConsentSource.STOREFRONT, ip=ip,
                                text=consent_text)
    subscription, _created = BackInStockSubscription.objects.get_or_create(
        shop=shop, product=locked, phone=number, status=SubscriptionStatus.WAITING,
        defaults={"customer": customer},
    )
    return subscription


def back_in_stock_subscriptions_mark_sent(*, subscription_ids: list[int]) -> int:
    """Those waiting who were just texted are done: one UPDATE, however many they are."""
    return (BackInStockSubscription.objects.filter(pk__in=subscription_ids, status=SubscriptionStatus.WAITING)
            .update(status=SubscriptionStatus.SENT, notified_at=timezone.now()))


def back_in_stock_subscriptions_cancel(*, subscriptions) -> int:
    """The merchant stops sign-ups that have not been texted; they stay in the list as cancelled."""
    return subscriptions.filter(status=SubscriptionStatus.WAITING).update(status=SubscriptionStatus.CANCELLED)
