"""The abandoned-cart reminder's periodic scan.

A cart is reminded once per time it is left: when it has a phone (the cart's, else its
customer's), items that can still be bought, a customer who granted marketing consent, no order
made from it, and nobody touched it for the shop's ``idle_hours`` (4 by default) — and only
while it is less than 48 hours since it was last touched, the carriers' rule for cart
recovery texts. "Once per time it is left": a reminder is written when none was written since
the cart's last activity; a customer who comes back to the cart and leaves it again may get one
more, after the same idle time. Its dedupe key names the cart and that last activity
(``cart:17:abandoned:1764412800``), so a repeated or concurrent run writes nothing twice.

One query per shop with reminders on selects the carts (NOT EXISTS a reminder since the last
activity), and one INSERT per chunk writes them. Before the text leaves, the delivery policy
in cart_policy.py cancels it if the cart became an order, was emptied, its items ran out of
stock, the customer came back, or the 48 hours passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Prefetch, Q, Value
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from shop.models import Cart, CartItem, MarketingConsent, Order, StockStatus
from smsnotify.models import Kind, Message
from smsnotify.outbox import PreparedMessage, messages_schedule_many
from templates_sms.models import SmsTemplate
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import CART_ABANDONED, Audience, RenderContext

from .models import AbandonedCartSettings

# Carriers (CTIA's guidance, and the US carriers' codes of conduct) allow a cart reminder only
# within 48 hours of the customer's last activity.
CART_RECOVERY_WINDOW = dt.timedelta(hours=48)
CHUNK = 2000


def cart_dedupe_key(cart: Cart) -> str:
    return f"cart:{cart.pk}:abandoned:{int(cart.last_activity_at.timestamp())}"


def activity_of_dedupe_key(key: str | None) -> int | None:
    """The last activity (epoch seconds) a reminder was written for, read back from its key."""
    try:
        return int(key.rsplit(":abandoned:", 1)[1]) if key and ":abandoned:" in key else None
    except ValueError:
        return None


def buyable_items():
    """A cart's items that can still be bought (a back-order counts: it can be ordered)."""
    return CartItem.objects.filter(cart_id=OuterRef("pk")).exclude(product__stock_status=StockStatus.OUT_OF_STOCK)


def carts_due(*, settings: AbandonedCartSettings, now: dt.datetime):
    """The shop's carts due for a reminder now (one query, plus one for their items per chunk)."""
    reminded = Message.objects.filter(cart_id=OuterRef("pk"), kind=Kind.ABANDONED_CART,
                                      created_at__gte=OuterRef("last_activity_at"))
    # A store that does not link the order to its cart: the customer ordered since, so not abandoned.
    ordered_since = Order.objects.filter(customer_id=OuterRef("customer_id"), placed_at__gte=OuterRef("last_activity_at"))
    return (Cart.objects.filter(shop_id=settings.shop_id, converted_order__isnull=True,
                                last_activity_at__gt=now - CART_RECOVERY_WINDOW,
                                last_activity_at__lte=now - dt.timedelta(hours=settings.idle_hours),
                                customer__marketing_consent=MarketingConsent.GRANTED)
            .filter(Q(phone__gt="") | Q(customer__phone__gt=""))
            .filter(Exists(buyable_items()), ~Exists(reminded), ~Exists(ordered_since))
            .select_related("customer")
            # the number as stored text (a PhoneNumberField would parse each one it loads)
            .annotate(to=Coalesce(NullIf(Cast("phone", CharField()), Value("")), Cast("customer__phone", CharField())))
            .defer("phone", "customer__phone")
            .prefetch_related(Prefetch("items", queryset=CartItem.objects.order_by("pk")))
            .order_by("pk"))


def _write_chunk(settings: AbandonedCartSettings, template: SmsTemplate, carts: Iterable[Cart],
                 now: dt.datetime) -> int:
    shop = settings.shop
    rows = []
    for cart in carts:
        cart.shop = shop
        body = render(template.body, RenderContext(shop=shop, cart=cart, customer=cart.customer),
                      event=CART_ABANDONED).strip()
        if body:
            rows.append(PreparedMessage(to=cart.to, body=body,
                                        dedupe_key=cart_dedupe_key(cart), send_at=now,
                                        customer_id=cart.customer_id, cart_id=cart.pk))
    with transaction.atomic():
        return len(messages_schedule_many(shop=shop, kind=Kind.ABANDONED_CART, rows=rows))


def abandoned_carts_run(*, now: dt.datetime | None = None) -> int:
    """The periodic job: a reminder for every cart due one, in every shop with reminders on."""
    now = now or timezone.now()
    written = 0
    for settings in AbandonedCartSettings.objects.filter(active=True, shop__sms_settings__active=True).select_related("shop").order_by("pk"):
        template = active_template(shop=settings.shop, event=CART_ABANDONED, audience=Audience.CUSTOMER)
        if template is None:
            continue
        chunk = []
        for cart in carts_due(settings=settings, now=now).iterator(chunk_size=CHUNK):
            chunk.append(cart)
            if len(chunk) == CHUNK:
                written += _write_chunk(settings, template, chunk, now)
                chunk = []
        if chunk:
            written += _write_chunk(settings, template, chunk, now)
    return written
