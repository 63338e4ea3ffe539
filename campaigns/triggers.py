"""What the store's events make the system text. Called explicitly by shop services."""

import logging

from django.utils import translation
from django.utils.translation import gettext as _

from shop.models import Order, OrderStatus
from smsnotify import outbox
from smsnotify.models import Kind
from smsnotify.phones import InvalidPhoneNumber

log = logging.getLogger(__name__)


def order_status_changed(*, order: Order, previous: str) -> None:
    """Text the customer when the order ships.

    The fixed text is the walking skeleton; templates per status (and delays) replace it.
    """
    if order.status != OrderStatus.SHIPPED or not order.phone:
        return
    with translation.override(order.shop.language):
        body = _("%(shop)s: your order %(number)s has been shipped.") % {"shop": order.shop.name, "number": order.number}
        if order.tracking_code:
            body += " " + _("Tracking: %(code)s") % {"code": order.tracking_code}
    try:
        outbox.schedule(
            shop=order.shop, to=order.phone, body=body, kind=Kind.ORDER_STATUS,
            dedupe_key=f"order:{order.pk}:status:{order.status}", customer=order.customer, order=order,
        )
    except InvalidPhoneNumber:
        # Phones are validated when orders are written; an old bad row must not block the status change.
        log.warning("Order %s has an invalid phone %r; no SMS scheduled.", order.pk, str(order.phone))
