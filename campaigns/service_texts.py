"""The service texts the store's events cause: order confirmation, order status (with the
merchant's delays), tracking code, ticket answered, and the alerts to the merchant about new
orders and tickets.

Each runs inside the store change's transaction (see receivers.py) and is idempotent by its
dedupe key: an event delivered twice, or a status the order comes back to, texts nobody twice.
A text is sent while its template is on; a template that renders empty, a number that is not
valid, or (for an alert) a shop without a merchant's number writes nothing.

The rule for delayed status texts: a status text leaves only while the order is still in the
status it announces. When the order's status changes before that text has left, the text is
cancelled (its history says why); if the order comes back to that status later, the text is
written again, with a fresh delay. The delivery policy ``OrderStatusStillCurrent`` checks the
same rule again at the moment of sending.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.utils import timezone, translation

from shop.models import Order, Shop, Ticket
from smsnotify.history import iso, reason_text
from smsnotify.models import EventType, Kind, Message, MessageEvent, Status
from smsnotify.outbox import NEVER_REACHED, message_schedule
from smsnotify.phones import InvalidPhoneNumber
from smsnotify.selectors import sms_settings_for
from smsnotify.transitions import messages_transition
from templates_sms.models import SmsTemplate
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import (
    ORDER_NEW,
    ORDER_TRACKING,
    TICKET_ANSWERED,
    TICKET_NEW,
    Audience,
    RenderContext,
    order_status_event,
)

from .selectors import order_status_dedupe_key, order_status_message, order_status_text

log = logging.getLogger(__name__)

STATUS_CHANGED = "status_changed"  # the reason a superseded status text is cancelled (see policies.py)


def _text_schedule(*, template: SmsTemplate | None, context: RenderContext, event: str, to, kind: str,
                   dedupe_key: str, send_at: dt.datetime | None = None, **links) -> Message | None:
    """Render ``template`` for ``context`` and write it; None when there is nothing to send."""
    if template is None or not to:
        return None
    # Stripped: a token at the end with no value ({tracking}) must not leave a space that costs a character.
    body = render(template.body, context, event=event).strip()
    if not body:  # a text made only of tokens this event has no data for
        log.warning("Template %s rendered empty for %s; no SMS scheduled.", template.pk, dedupe_key)
        return None
    try:
        return message_schedule(shop=context.shop, to=to, body=body, kind=kind, send_at=send_at,
                                dedupe_key=dedupe_key, **links)
    except InvalidPhoneNumber:
        # Phones are validated when orders are written; an old bad row must not block the store's change.
        log.warning("Invalid phone %r for %s; no SMS scheduled.", str(to), dedupe_key)
        return None


def _merchant_alert_schedule(*, shop: Shop, event: str, context: RenderContext, dedupe_key: str,
                             **links) -> Message | None:
    """An alert to the merchant's own number; none without one (the SMS settings page says so)."""
    number = sms_settings_for(shop).merchant_number
    template = active_template(shop=shop, event=event, audience=Audience.MERCHANT)
    return _text_schedule(template=template, context=context, event=event, to=number, kind=Kind.MERCHANT_ALERT,
                          dedupe_key=dedupe_key, **links)


def order_placed_texts_schedule(*, order: Order) -> list[Message]:
    """The customer's order confirmation and the merchant's new-order alert."""
    context = RenderContext.for_order(order)
    written = [
        _text_schedule(template=active_template(shop=order.shop, event=ORDER_NEW, audience=Audience.CUSTOMER),
                       context=context, event=ORDER_NEW, to=order.phone, kind=Kind.ORDER_PLACED,
                       dedupe_key=f"order:{order.pk}:new", order=order, customer=order.customer),
        # Linked to the order, not to the customer: it went to the merchant's phone, not theirs.
        _merchant_alert_schedule(shop=order.shop, event=ORDER_NEW, context=context,
                                 dedupe_key=f"order:{order.pk}:new:merchant", order=order),
    ]
    return [message for message in written if message is not None]


def order_status_texts_cancel_superseded(*, order: Order) -> list[int]:
    """Cancel the order's status texts that have not left and announce another status than its
    current one; returns their ids."""
    current = order_status_dedupe_key(order=order, status=order.status)
    pending = (Message.objects.filter(shop_id=order.shop_id, order=order, kind=Kind.ORDER_STATUS,
                                      status__in=[Status.SCHEDULED, Status.QUEUED])
               .exclude(dedupe_key=current).values_list("pk", flat=True))
    with translation.override("en"):  # the stored text is for exports and the operator; merchants read the event
        text = reason_text(STATUS_CHANGED)
    return messages_transition(list(pending), from_statuses=[Status.SCHEDULED, Status.QUEUED],
                               status=Status.CANCELLED, event=EventType.STOPPED,
                               params={"reason": STATUS_CHANGED, "status": order.status},
                               error_code=STATUS_CHANGED, error_text=text)


def order_status_text_schedule(*, order: Order) -> Message | None:
    """Text the customer about the order's new status, as the merchant's rules say: at once or
    after the rule's delay, with the rule's template or the status's own. Once per order and
    status: a status the order comes back to, already texted, is noted on that text instead."""
    order_status_texts_cancel_superseded(order=order)
    earlier = order_status_message(order=order, status=order.status)
    if earlier is not None:
        MessageEvent.objects.create(message=earlier, type=EventType.REPEATED, status=earlier.status,
                                    parameters={"at": iso(timezone.now())})
        return None
    planned = order_status_text(order=order, status=order.status)
    if planned is None:
        return None
    send_at = timezone.now() + planned.delay if planned.delay else None
    return _text_schedule(template=planned.template, context=RenderContext.for_order(order),
                          event=order_status_event(order.status), to=order.phone, kind=Kind.ORDER_STATUS,
                          dedupe_key=order_status_dedupe_key(order=order, status=order.status), send_at=send_at,
                          order=order, customer=order.customer)


def order_tracking_text_schedule(*, order: Order) -> Message | None:
    """Text the order's new tracking code at once, unless the text for its current status
    already carries that code (shipping with a code texts once, not twice)."""
    code = order.tracking_code.strip()
    if not code:
        return None
    status_text = (Message.objects.filter(shop_id=order.shop_id, order=order, kind=Kind.ORDER_STATUS,
                                          dedupe_key=order_status_dedupe_key(order=order, status=order.status))
                   .exclude(status__in=NEVER_REACHED).first())
    # Carried only by a text that will surely leave (one delayed may yet be cancelled), and as a
    # whole word: code 123 is not in "order #1234".
    if status_text is not None and status_text.send_at <= timezone.now() and re.search(
            rf"(?<![0-9A-Za-z]){re.escape(code)}(?![0-9A-Za-z])", status_text.body):
        return None
    template = active_template(shop=order.shop, event=ORDER_TRACKING, audience=Audience.CUSTOMER)
    return _text_schedule(template=template, context=RenderContext.for_order(order), event=ORDER_TRACKING,
                          to=order.phone, kind=Kind.TRACKING, dedupe_key=f"order:{order.pk}:tracking:{code}"[:120],
                          order=order, customer=order.customer)


def _ticket_context(ticket: Ticket) -> RenderContext:
    return RenderContext(shop=ticket.shop, ticket=ticket, customer=ticket.customer, order=ticket.order)


def ticket_opened_alert_schedule(*, ticket: Ticket) -> Message | None:
    """Tell the merchant a customer opened a ticket."""
    return _merchant_alert_schedule(shop=ticket.shop, event=TICKET_NEW, context=_ticket_context(ticket),
                                    dedupe_key=f"ticket:{ticket.pk}:new", order=ticket.order)


def ticket_answered_text_schedule(*, ticket: Ticket) -> Message | None:
    """Tell the customer their ticket was answered: once per answer."""
    customer, order = ticket.customer, ticket.order
    phone = (customer.phone if customer is not None else "") or (order.phone if order is not None else "")
    template = active_template(shop=ticket.shop, event=TICKET_ANSWERED, audience=Audience.CUSTOMER)
    answered = ticket.answered_at or timezone.now()
    return _text_schedule(template=template, context=_ticket_context(ticket), event=TICKET_ANSWERED, to=phone,
                          kind=Kind.TICKET_ANSWERED, dedupe_key=f"ticket:{ticket.pk}:answered:{answered:%Y%m%d%H%M%S%f}",
                          customer=customer, order=order)
