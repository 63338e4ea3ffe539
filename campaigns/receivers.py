"""What the store's events (shop/events.py) and credits' signals make the system text.

Receivers of store events run inside the shop service's transaction, so a Message they
write commits or rolls back with the change that caused it.
"""

from __future__ import annotations

import logging

from django.dispatch import receiver

from credits.signals import low_balance
from shop.events import order_status_changed
from shop.models import Order, Shop
from smsnotify.models import Kind
from smsnotify.outbox import message_schedule
from smsnotify.phones import InvalidPhoneNumber
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext, order_status_event

from .alerts import low_balance_alert_send
from .selectors import order_status_dedupe_key

log = logging.getLogger(__name__)


@receiver(order_status_changed, dispatch_uid="campaigns.text_order_status")
def text_order_status(sender, *, order: Order, previous: str, **kwargs) -> None:
    """Text the customer the shop's template for the new status, if the merchant switched it on.

    Once per order and status (its dedupe key): an order that comes back to a status it had
    (Shipped → Placed → Shipped) is not texted again for it.
    """
    if not order.phone:
        return
    event = order_status_event(order.status)
    template = active_template(shop=order.shop, event=event, audience=Audience.CUSTOMER)
    if template is None:
        return
    # Stripped: a token at the end with no value ({tracking}) must not leave a space that costs a character.
    body = render(template.body, RenderContext.for_order(order), event=event).strip()
    if not body:  # a text made only of tokens this order has no data for
        log.warning("Template %s rendered empty for order %s; no SMS scheduled.", template.pk, order.pk)
        return
    try:
        message_schedule(
            shop=order.shop, to=order.phone, body=body, kind=Kind.ORDER_STATUS,
            dedupe_key=order_status_dedupe_key(order=order, status=order.status), customer=order.customer, order=order,
        )
    except InvalidPhoneNumber:
        # Phones are validated when orders are written; an old bad row must not block the status change.
        log.warning("Order %s has an invalid phone %r; no SMS scheduled.", order.pk, str(order.phone))


@receiver(low_balance, dispatch_uid="campaigns.alert_low_balance")
def alert_low_balance(sender, *, shop_id: int, balance: int, threshold: int, crossing: int, **kwargs) -> None:
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is not None:
        low_balance_alert_send(shop=shop, balance=balance, threshold=threshold, crossing=crossing)
