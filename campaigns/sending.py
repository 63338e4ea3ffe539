"""Texts a merchant sends by hand to one customer (from an order or customer page); bulk sends are
in campaigns/bulk.py.

Both go through the outbox like every other SMS. The text may carry tokens, rendered for each
recipient: a customer's tokens ({firstname}, [[fullname]]…), and from an order's page the
order's too ({order_id}, {total_cost}…). Every number shown or checked (text as sent, parts,
credits) is ``credits.estimate.sms_estimate`` of the real text for the real number, so the page
says what the ledger will take and the shop's limit of parts holds for texts typed by hand.
A form carries a key made when the page was shown, so a double click or a re-submitted form
schedules nothing twice.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _, ngettext

from credits.estimate import SmsEstimate, sms_estimate
from credits.selectors import credit_balance, send_block
from shop.models import Customer, Order, Shop
from shop.money import format_number
from smsnotify import outbox
from smsnotify.models import Kind, Message, SmsSettings
from smsnotify.phones import InvalidPhoneNumber, to_e164
from smsnotify.selectors import sms_settings_for
from templates_sms import rendering
from templates_sms.selectors import Preview, active_template, template_preview
from templates_sms.tokens import CUSTOM, CUSTOM_ORDER, Audience, RenderContext

from . import inbox
from .models import Conversation, OptOut


class SendBlocked(ValidationError):
    """The shop cannot send now (SMS off, not enough credits…); the message says why."""


# --- who a text goes to ------------------------------------------------------------------------


@dataclass(frozen=True)
class SendTarget:
    """The one recipient of a text typed by hand: an order's customer at the order's phone, or a
    customer. The one place that knows which phone, which tokens and which render context."""

    shop: Shop
    phone: object  # as stored: a PhoneNumber, or "" when there is none
    customer: Customer | None = None
    order: Order | None = None

    @property
    def event(self) -> str:
        """Whose tokens the text may use: an order's page offers the order's tokens too."""
        return CUSTOM_ORDER if self.order is not None else CUSTOM

    @property
    def context(self) -> RenderContext:
        if self.order is not None:
            return RenderContext.for_order(self.order)
        return RenderContext.for_customer(self.customer)

    @property
    def number(self) -> str | None:
        """The phone in E.164, or None when there is none or it cannot be read."""
        if not self.phone:
            return None
        try:
            return to_e164(self.phone, region=self.shop.country)
        except InvalidPhoneNumber:
            return None


def send_target(*, order: Order | None = None, customer: Customer | None = None) -> SendTarget:
    if order is not None:
        return SendTarget(shop=order.shop, phone=order.phone, customer=order.customer, order=order)
    if customer is None:
        raise TypeError("send_target needs an order or a customer")
    return SendTarget(shop=customer.shop, phone=customer.phone, customer=customer)


# --- helpers -------------------------------------------------------------------------------------


def send_key_new() -> str:
    return uuid.uuid4().hex


def _checked_key(key: str) -> str:
    try:
        return uuid.UUID(hex=key).hex
    except (TypeError, ValueError):
        raise ValidationError(_("This form has expired; open it again."), code="bad_key") from None


def manual_text_default(*, shop: Shop) -> str:
    """The shop's "custom message" template, offered as the starting text."""
    template = active_template(shop=shop, event=CUSTOM, audience=Audience.CUSTOMER)
    return template.body if template else ""


def _ensure_can_send(shop: Shop) -> None:
    block = send_block(shop)
    if block is not None:
        raise SendBlocked(str(block), code="blocked")


def _empty_error() -> ValidationError:
    return ValidationError({"body": [_("The message is empty.")]}, code="empty_body")


def _too_long_error(segments: int, max_segments: int) -> ValidationError:
    return ValidationError({"body": [ngettext(
        "For this recipient the text takes %(segments)d SMS; your shop allows %(max)d part. "
        "Shorten the text or raise the limit in your SMS settings.",
        "For this recipient the text takes %(segments)d SMS; your shop allows %(max)d parts. "
        "Shorten the text or raise the limit in your SMS settings.",
        max_segments) % {"segments": segments, "max": max_segments}]}, code="too_many_segments")


def manual_text_render(*, target: SendTarget, body: str) -> str:
    """``body`` with ``target``'s tokens replaced (not yet checked)."""
    return rendering.render(body, target.context, event=target.event).strip()


def _estimate(shop: Shop, text: str, number: str | None, sms_settings: SmsSettings) -> SmsEstimate:
    return sms_estimate(shop=shop, text=text, recipient=number, sms_settings=sms_settings)


def _affordable(shop: Shop, text: str, number: str) -> SmsEstimate:
    """The text's estimate to ``number``; refused when it takes more parts than the shop allows
    or costs more than the balance."""
    sms_settings = sms_settings_for(shop)
    estimate = _estimate(shop, text, number, sms_settings)
    if estimate.segments > sms_settings.max_segments:
        raise _too_long_error(estimate.segments, sms_settings.max_segments)
    balance = credit_balance(shop)
    if balance < estimate.credits:
        raise SendBlocked(_("This text costs %(cost)s credits and the balance is %(balance)s.")
                          % {"cost": format_number(estimate.credits), "balance": format_number(balance)},
                          code="insufficient_credits")
    return estimate


# --- one recipient ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientPreview(Preview):
    """The editor's panel for a send page: the real text, parts and cost for its one recipient."""

    @property
    def longest_text(self) -> str:
        return _("For this customer: %(segments)d SMS (your limit: %(max)d).") % {
            "segments": self.longest_segments, "max": self.max_segments}


def manual_preview(*, target: SendTarget, body: str) -> RecipientPreview:
    """What ``body`` becomes for ``target``: text as sent, encoding, parts and credits to their
    number (sms_estimate), plus the editor's token errors and notes."""
    base = template_preview(shop=target.shop, event=target.event, body=body, context=target.context)
    estimate = _estimate(target.shop, manual_text_render(target=target, body=body), target.number,
                         sms_settings_for(target.shop))
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    values.update(text=estimate.text, info=estimate.info, cost=estimate.credits,
                  longest_segments=estimate.segments)
    return RecipientPreview(**values)


@transaction.atomic
def sms_send_to_one(*, target: SendTarget, body: str, send_key: str, user=None) -> Message:
    """Text ``target`` now. Refused (nothing scheduled) with a ValidationError naming the
    problem: an unknown token, an empty text, more parts than the shop allows, no number, or a
    balance that cannot pay for this text to this number."""
    shop = target.shop
    _ensure_can_send(shop)
    key = _checked_key(send_key)
    rendering.validate(body, event=target.event)
    if not target.phone:
        raise ValidationError(_("There is no phone number to text."), code="no_phone")
    number = to_e164(target.phone, region=shop.country)
    text = manual_text_render(target=target, body=body)
    if not text:
        raise _empty_error()
    _affordable(shop, text, number)
    return outbox.message_schedule(shop=shop, to=number, body=text, kind=Kind.MANUAL, customer=target.customer,
                                   order=target.order, dedupe_key=f"manual:{key}", user=user)


# --- a reply in the inbox ------------------------------------------------------------------------------


def reply_estimate(*, conversation: Conversation, body: str) -> SmsEstimate:
    return _estimate(conversation.shop, body.strip(), conversation.phone, sms_settings_for(conversation.shop))


@transaction.atomic
def sms_reply_send(*, conversation: Conversation, body: str, send_key: str, user=None) -> Message:
    """Answer a conversation now, with the text as typed (a reply is written to one person: no
    tokens). Refused (nothing written) when the number opted out, SMS is off, the form is stale,
    the text is empty or too long, or the balance cannot pay for it; a second submit of the
    same form returns the first reply."""
    shop = conversation.shop
    key = _checked_key(send_key)
    dedupe_key = f"inbox:{key}"
    earlier = Message.objects.filter(shop=shop, dedupe_key=dedupe_key).first()
    if earlier is not None:
        return earlier  # a double click: sent once
    if OptOut.objects.filter(shop=shop, phone=conversation.phone).exists():
        raise SendBlocked(_("This number opted out (STOP): it cannot be texted until it texts START."),
                          code="opted_out")
    _ensure_can_send(shop)
    text = body.strip()
    if not text:
        raise _empty_error()
    _affordable(shop, text, conversation.phone)
    message = outbox.message_schedule(shop=shop, to=conversation.phone, body=text, kind=Kind.REPLY,
                                      customer=conversation.customer, dedupe_key=dedupe_key, user=user)
    inbox.reply_record(conversation=conversation, message=message)
    return message
