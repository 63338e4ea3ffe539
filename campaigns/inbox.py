"""The two-way inbox: one conversation per number a customer texted from, its thread and its state.

A conversation is opened (or reopened) by every text that comes in (``inbound_record``, called by
``keywords.inbound_handle`` after the words were read), counts as unread until the merchant opens
it, and is answered from the thread page (``sending.sms_reply_send``). Outside the opening hours
of ``InboxSettings`` an ordinary text (never STOP, START, HELP or a satisfaction rating) gets the
shop's automatic answer, through the outbox like any text: charged and in the history, at most
once in 12 hours per number.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import F, QuerySet, Sum

from shop.models import Customer, Order, Shop
from smsnotify.models import Kind, Message
from smsnotify.outbox import message_schedule
from smsnotify.phones import InvalidPhoneNumber

from .models import Conversation, ConversationStatus, InboxSettings, OptOut

AUTO_REPLY_EVERY = dt.timedelta(hours=12)
_PREVIEW = 160


def _preview(body: str) -> str:
    return body if len(body) <= _PREVIEW else body[:_PREVIEW - 1] + "…"


def inbox_settings_for(shop: Shop) -> InboxSettings:
    """The shop's row, or the defaults (auto-reply off) where it has none."""
    return InboxSettings.objects.filter(shop=shop).first() or InboxSettings(shop=shop)


def inbound_record(*, message: Message, keyword: bool) -> Conversation:
    """File an incoming text in its number's conversation: created or reopened, one more
    unread; the customer linked when the number is theirs. ``keyword``: the text was STOP,
    START, HELP or a YES to a consent request, which is answered by its own reply, or a
    satisfaction rating, which wants no answer: neither gets the automatic one."""
    shop, now = message.shop, message.created_at
    conversation, _created = Conversation.objects.get_or_create(
        shop=shop, phone=message.recipient, defaults={"last_message_at": now})
    # An UPDATE with F(): two texts arriving together both count.
    changes = {"unread": F("unread") + 1, "status": ConversationStatus.OPEN, "last_message_at": now,
               "last_inbound_at": now, "last_text": _preview(message.body)}
    if message.customer_id:
        changes["customer"] = message.customer_id
    Conversation.objects.filter(pk=conversation.pk).update(**changes)
    conversation.refresh_from_db()
    if not keyword:
        auto_reply_maybe_send(conversation=conversation, message=message)
    return conversation


def auto_reply_maybe_send(*, conversation: Conversation, message: Message) -> Message | None:
    """The shop's answer outside opening hours, or None: switched off, open now, already answered
    within AUTO_REPLY_EVERY, or the number opted out."""
    shop, now = conversation.shop, message.created_at
    settings = inbox_settings_for(shop)
    text = settings.auto_reply_text.strip()
    if not settings.auto_reply_active or not text or settings.is_open(now):
        return None
    if conversation.auto_replied_at is not None and now - conversation.auto_replied_at < AUTO_REPLY_EVERY:
        return None
    if OptOut.objects.filter(shop=shop, phone=conversation.phone).exists():
        return None
    # Claimed with a conditional UPDATE: of two texts arriving together, one is answered.
    claimed = Conversation.objects.filter(pk=conversation.pk, auto_replied_at=conversation.auto_replied_at).update(
        auto_replied_at=now)
    if not claimed:
        return None
    conversation.auto_replied_at = now
    try:
        return message_schedule(shop=shop, to=conversation.phone, body=text, kind=Kind.AUTO_REPLY,
                                customer=conversation.customer, dedupe_key=f"autoreply:{message.pk}")
    except InvalidPhoneNumber:
        return None  # a short code or an alphanumeric sender cannot be answered


def reply_record(*, conversation: Conversation, message: Message) -> None:
    """The merchant answered: the thread is read, and its latest activity is the reply."""
    Conversation.objects.filter(pk=conversation.pk).update(
        unread=0, last_message_at=message.created_at, last_text=_preview(message.body))
    conversation.refresh_from_db()


def conversation_customer_link(*, conversation: Conversation) -> Customer | None:
    """The conversation's customer; one the number was given to after it texted is linked now
    (so the panel, the filters and replies know them)."""
    if conversation.customer_id:
        return conversation.customer
    customer = Customer.objects.filter(shop=conversation.shop, phone=conversation.phone).order_by("pk").first()
    if customer is not None:
        Conversation.objects.filter(pk=conversation.pk, customer__isnull=True).update(customer=customer)
        conversation.customer = customer
    return customer


def conversation_mark_read(*, conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(unread=0)
    conversation.unread = 0


def conversation_mark_unread(*, conversation: Conversation) -> None:
    """Back in the list as unread (at least one), for the merchant to come back to."""
    Conversation.objects.filter(pk=conversation.pk, unread=0).update(unread=1)
    conversation.refresh_from_db()


def conversation_close(*, conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.CLOSED)
    conversation.status = ConversationStatus.CLOSED


def conversation_reopen(*, conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.OPEN)
    conversation.status = ConversationStatus.OPEN


# --- reads -----------------------------------------------------------------------------------------


def conversation_thread(*, conversation: Conversation) -> QuerySet[Message]:
    """Every text between the shop and the number, both ways, automatic ones included, oldest first."""
    return (Message.objects.filter(shop=conversation.shop, recipient=conversation.phone)
            .order_by("created_at", "pk"))


def conversation_opted_out(*, conversation: Conversation) -> OptOut | None:
    return OptOut.objects.filter(shop=conversation.shop, phone=conversation.phone).first()


def conversation_orders(*, conversation: Conversation, limit: int = 5) -> list[Order]:
    """The customer's latest orders (by the number when no customer is linked)."""
    orders = Order.objects.filter(shop=conversation.shop)
    if conversation.customer_id:
        orders = orders.filter(customer=conversation.customer)
    else:
        orders = orders.filter(phone=conversation.phone)
    return list(orders.order_by("-placed_at", "-pk")[:limit])


def unread_total(shop: Shop) -> int:
    return Conversation.objects.filter(shop=shop).aggregate(total=Sum("unread"))["total"] or 0
