"""What the store's events make the system text. Called explicitly by shop services."""

import logging

from shop.models import Order
from smsnotify import outbox
from smsnotify.models import Kind
from smsnotify.phones import InvalidPhoneNumber
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext, order_status_event

log = logging.getLogger(__name__)


def order_status_changed(*, order: Order, previous: str) -> None:
    """Text the customer the shop's template for the new status, if the merchant switched it on."""
    if not order.phone:
        return
    event = order_status_event(order.status)
    template = active_template(shop=order.shop, event=event, audience=Audience.CUSTOMER)
    if template is None:
        return
    # Stripped: a token at the end with no value ({tracking}) must not leave a space that costs a character.
    body = render(template.body, RenderContext(shop=order.shop, order=order, customer=order.customer), event=event).strip()
    if not body:  # a text made only of tokens this order has no data for
        log.warning("Template %s rendered empty for order %s; no SMS scheduled.", template.pk, order.pk)
        return
    try:
        outbox.schedule(
            shop=order.shop, to=order.phone, body=body, kind=Kind.ORDER_STATUS,
            dedupe_key=f"order:{order.pk}:status:{order.status}", customer=order.customer, order=order,
        )
    except InvalidPhoneNumber:
        # Phones are validated when orders are written; an old bad row must not block the status change.
        log.warning("Order %s has an invalid phone %r; no SMS scheduled.", order.pk, str(order.phone))
