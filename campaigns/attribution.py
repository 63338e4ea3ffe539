"""Which text an order is credited to, and what sent that text (its campaign).

The rule, as SMS marketing tools state it to merchants: an order is the revenue of the text
whose discount code it used (the code was made for that text and that customer: the surest
sign there is); else of the last text the customer clicked within the 7 days before the order
(last click wins); else of no text.

Decided once, when the order is placed (the receiver of the store's ``order_placed``, inside
the order's transaction: two indexed reads and one row), and kept as an ``OrderAttribution``.
Not recomputed at query time: the report then groups attributions by campaign in one query
instead of searching every order's clicks, the merchant's figures for a past month do not
move, and what happens after the order (a later click) cannot change whom it is credited to.

A campaign's name is read from its text: a bulk send's ``batch_ref`` ("bulk:12"); a date
campaign's id from its dedupe key ("date:3:birthday:…" → "date:3"); an order-status text's
status ("order:42:status:shipped" → "status:shipped"); any other text by its kind
("abandoned_cart", "back_in_stock", "manual"…). ``campaign_of`` is that rule as an SQL
expression, so costs and clicks are grouped by the very same names in the database.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Case, CharField, F, Value, When
from django.db.models.functions import Concat, StrIndex, Substr

from shop.models import Coupon, Order
from smsnotify.models import Kind, LinkClick, Message

from .models import AttributionSource, OrderAttribution

ATTRIBUTION_WINDOW = dt.timedelta(days=7)
_STATUS = ":status:"


def campaign_of(prefix: str = "") -> Case:
    """The campaign of a message, as an expression over its fields (``prefix`` reaches them
    from another model, e.g. "link__message__")."""
    key = F(f"{prefix}dedupe_key")
    return Case(
        When(**{f"{prefix}kind__in": [Kind.BULK, Kind.BULK_SERVICE], f"{prefix}batch_ref__isnull": False},
             then=F(f"{prefix}batch_ref")),
        # "date:" and the id: up to the key's second colon
        When(**{f"{prefix}kind": Kind.DATE_CAMPAIGN, f"{prefix}dedupe_key__startswith": "date:"},
             then=Substr(key, 1, StrIndex(Substr(key, 6), Value(":")) + 4)),
        When(**{f"{prefix}kind": Kind.ORDER_STATUS, f"{prefix}dedupe_key__contains": _STATUS},
             then=Concat(Value("status:"), Substr(key, StrIndex(key, Value(_STATUS)) + len(_STATUS)))),
        default=F(f"{prefix}kind"), output_field=CharField())


def order_attribute(*, order: Order) -> OrderAttribution | None:
    """Credit ``order`` to its text, if any (see the module's rule); None when none earned it."""
    found = None
    coupon_key = (Coupon.objects.filter(redeemed_order=order).exclude(source_key="")
                  .values_list("source_key", flat=True).first())
    if coupon_key:
        found = (Message.objects.filter(shop_id=order.shop_id, dedupe_key=coupon_key)
                 .annotate(campaign=campaign_of()).values_list("pk", "campaign").first())
        source = AttributionSource.COUPON
    if found is None and order.customer_id is not None:
        found = (LinkClick.objects.filter(customer_id=order.customer_id, clicked_at__lte=order.placed_at,
                                          clicked_at__gt=order.placed_at - ATTRIBUTION_WINDOW)
                 .order_by("-clicked_at", "-pk").annotate(campaign=campaign_of("link__message__"))
                 .values_list("link__message_id", "campaign").first())
        source = AttributionSource.CLICK
    if found is None:
        return None
    message_id, campaign = found
    return OrderAttribution.objects.create(shop_id=order.shop_id, order=order, message_id=message_id,
                                           campaign=campaign, source=source)
