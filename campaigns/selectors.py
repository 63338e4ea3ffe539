"""Reads about what the campaigns text: an order's status texts, and what the next one costs."""

from __future__ import annotations

from django.db.models import QuerySet

from credits.estimate import SmsEstimate, sms_estimate
from shop.models import Order
from smsnotify.models import Message
from smsnotify.outbox import NEVER_REACHED
from smsnotify.phones import InvalidPhoneNumber, to_e164
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext, order_status_event


def order_status_dedupe_key(*, order: Order, status: str) -> str:
    """The key of an order's automatic text for ``status``: it is texted once per order and status."""
    return f"order:{order.pk}:status:{status}"


def order_messages(*, order: Order) -> QuerySet[Message]:
    """Every text the order has caused, newest first."""
    return Message.objects.filter(shop_id=order.shop_id, order=order).order_by("-created_at", "-pk")


def order_status_message(*, order: Order, status: str) -> Message | None:
    """The automatic text already written for ``order`` reaching ``status``, if any: another
    change to that status is not texted again (one that never reached anyone is, see
    ``outbox.message_schedule``)."""
    return (Message.objects.filter(shop_id=order.shop_id, dedupe_key=order_status_dedupe_key(order=order, status=status))
            .exclude(status__in=NEVER_REACHED).first())


def order_status_estimate(*, order: Order) -> SmsEstimate | None:
    """What the text for the order's current status costs, as it will be sent to the order's
    phone; None when no such text goes out (template off, nothing to text, no valid phone)."""
    if not order.phone:
        return None
    event = order_status_event(order.status)
    template = active_template(shop=order.shop, event=event, audience=Audience.CUSTOMER)
    if template is None:
        return None
    text = render(template.body, RenderContext.for_order(order), event=event).strip()
    if not text:
        return None
    try:
        number = to_e164(order.phone, region=order.shop.country)
    except InvalidPhoneNumber:
        return None
    return sms_estimate(shop=order.shop, text=text, recipient=number)
