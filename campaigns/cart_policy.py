"""The abandoned-cart reminder's delivery policy: at the moment it would leave, the cart must
still be abandoned (see cart_reminders.py)."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import Cart, Order, StockStatus
from smsnotify.models import Kind, Status
from smsnotify.policies import DeliveryPolicy, Refuse

from .cart_reminders import CART_RECOVERY_WINDOW, activity_of_dedupe_key

CART_CONVERTED, CART_EMPTY, CART_OUT_OF_STOCK, CART_TOUCHED, CART_STALE = (
    "cart_converted", "cart_empty", "cart_out_of_stock", "cart_touched", "cart_stale")


class AbandonedCartStillAbandoned(DeliveryPolicy):
    """An abandoned-cart reminder leaves only while its cart is still abandoned: no order made
    from it, items in it that can be bought, not touched since the reminder was written, and
    less than 48 hours since it was last touched. Otherwise it is cancelled, with the reason."""

    reasons = {
        CART_CONVERTED: _("Not sent: the customer placed the order."),
        CART_EMPTY: _("Not sent: the cart was emptied."),
        CART_OUT_OF_STOCK: _("Not sent: nothing in the cart is in stock any more."),
        CART_TOUCHED: _("Not sent: the customer came back to the cart (a new reminder follows if they leave it "
                        "again)."),
        CART_STALE: _("Not sent: more than 48 hours have passed since the cart was last touched."),
    }

    def before_send(self, batch):
        texts = [m for m in batch.messages if m.kind == Kind.ABANDONED_CART]
        if not texts:
            return {}
        ordered_since = Order.objects.filter(customer_id=OuterRef("customer_id"),
                                             placed_at__gte=OuterRef("last_activity_at"))
        carts = {cart.pk: cart for cart in Cart.objects.filter(pk__in={m.cart_id for m in texts if m.cart_id})
                 .annotate(item_count=Count("items"), ordered=Exists(ordered_since),
                           buyable=Count("items", filter=~Q(items__product__stock_status=StockStatus.OUT_OF_STOCK)))}
        now = timezone.now()
        verdicts = {}
        for message in texts:
            code = self._reason(carts.get(message.cart_id), message, now)
            if code:
                verdicts[message.pk] = Refuse(status=Status.CANCELLED, code=code)
        return verdicts

    @staticmethod
    def _reason(cart: Cart | None, message, now) -> str | None:
        if cart is None or not cart.item_count:  # a deleted cart has nothing to come back to either
            return CART_EMPTY
        if cart.converted_order_id is not None or cart.ordered:  # linked to its order, or the customer ordered since
            return CART_CONVERTED
        if not cart.buyable:
            return CART_OUT_OF_STOCK
        written_for = activity_of_dedupe_key(message.dedupe_key)
        if written_for is not None and int(cart.last_activity_at.timestamp()) != written_for:
            return CART_TOUCHED
        if now - cart.last_activity_at >= CART_RECOVERY_WINDOW:
            return CART_STALE
        return None
