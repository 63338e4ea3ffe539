"""Texts a merchant sends by hand: to one customer (from an order or customer page) or in bulk.

Both go through the outbox like every other SMS. The text may carry the "custom message"
tokens ({firstname}, [[fullname]]…), rendered for each recipient. A form carries a key made
when the page was shown, so a double click or a re-submitted form schedules nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from credits.estimate import sms_estimate
from credits.selectors import credit_balance, send_block_reason
from shop.models import Customer, MarketingConsent, Order, Shop
from smsnotify import outbox
from smsnotify.models import Kind, Message
from smsnotify.phones import InvalidPhoneNumber, to_e164
from smsnotify.selectors import sms_settings_for
from templates_sms import rendering
from templates_sms.selectors import active_template
from templates_sms.tokens import CUSTOM, Audience, RenderContext


class SendBlocked(ValidationError):
    """The shop cannot send now (SMS off, not enough credits…); the message says why."""


def new_send_key() -> str:
    return uuid.uuid4().hex


def _check_key(key: str) -> str:
    try:
        return uuid.UUID(hex=key).hex
    except (TypeError, ValueError):
        raise ValidationError(_("This form has expired; open it again."), code="bad_key") from None


def default_text(shop: Shop) -> str:
    """The shop's "custom message" template, offered as the starting text."""
    template = active_template(shop=shop, event=CUSTOM, audience=Audience.CUSTOMER)
    return template.body if template else ""


def _personal_text(shop: Shop, body: str, *, customer=None, order=None) -> str:
    text = rendering.render(body, RenderContext(shop=shop, customer=customer, order=order), event=CUSTOM).strip()
    if not text:
        raise ValidationError({"body": [_("The message is empty.")]}, code="empty_body")
    return text


def _ensure_can_send(shop: Shop) -> None:
    reason = send_block_reason(shop)
    if reason:
        raise SendBlocked(reason, code="blocked")


@transaction.atomic
def send_to_one(*, shop: Shop, body: str, send_key: str, order: Order | None = None,
                customer: Customer | None = None) -> Message:
    """Text the customer of ``order`` (its phone) or ``customer`` now."""
    _ensure_can_send(shop)
    key = _check_key(send_key)
    rendering.validate(body, event=CUSTOM)
    if order is not None:
        phone, customer = order.phone, order.customer
    else:
        phone = customer.phone
    if not phone:
        raise ValidationError(_("There is no phone number to text."), code="no_phone")
    text = _personal_text(shop, body, customer=customer, order=order)
    return outbox.message_schedule(shop=shop, to=phone, body=text, kind=Kind.MANUAL, customer=customer, order=order,
                           dedupe_key=f"manual:{key}")


@dataclass
class BulkPlan:
    """Who a bulk send reaches (customer, number, their text), who it skips and why, and what it costs."""

    recipients: list[tuple[Customer, str, str]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    segments: int = 0  # the most parts any one recipient's text takes
    credits: int = 0
    balance: int = 0

    @property
    def affordable(self) -> bool:
        return self.credits <= self.balance

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def plan_bulk(*, shop: Shop, customers, body: str) -> BulkPlan:
    """Bulk texts are marketing: only customers who granted consent, one text per number.

    Each text is rendered and counted as it will be sent, so the cost is exact."""
    plan = BulkPlan(balance=credit_balance(shop))
    sms_settings = sms_settings_for(shop)
    renderable = bool(body.strip()) and not rendering.token_errors(body, event=CUSTOM)
    seen = set()
    for customer in customers.filter(shop=shop).order_by("pk"):
        if customer.marketing_consent != MarketingConsent.GRANTED:
            plan.skip(_("no marketing consent"))
            continue
        try:
            number = to_e164(customer.phone, region=shop.country)
        except InvalidPhoneNumber:
            plan.skip(_("no valid phone number"))
            continue
        if number in seen:
            plan.skip(_("same number as another selected customer"))
            continue
        text = rendering.render(body, RenderContext(shop=shop, customer=customer), event=CUSTOM) if renderable else ""
        if renderable and not text.strip():
            plan.skip(_("the text is empty for them"))
            continue
        seen.add(number)
        estimate = sms_estimate(shop=shop, text=text, recipient=number, sms_settings=sms_settings)
        plan.recipients.append((customer, number, text))
        plan.segments = max(plan.segments, estimate.segments)
        plan.credits += estimate.credits
    return plan


@transaction.atomic
def send_bulk(*, shop: Shop, customers, body: str, send_key: str) -> BulkPlan:
    """Schedule one text per reachable customer, all or nothing."""
    _ensure_can_send(shop)
    key = _check_key(send_key)
    if not body or not body.strip():
        raise ValidationError({"body": [_("The message is empty.")]}, code="empty_body")
    rendering.validate(body, event=CUSTOM)
    plan = plan_bulk(shop=shop, customers=customers, body=body)
    if not plan.recipients:
        raise ValidationError(_("None of the selected customers can be texted."), code="no_recipients")
    if not plan.affordable:
        raise SendBlocked(
            _("This send costs %(cost)s credits and the balance is %(balance)s. Buy credits or select fewer customers.")
            % {"cost": plan.credits, "balance": plan.balance}, code="insufficient_credits")
    for customer, number, text in plan.recipients:
        outbox.message_schedule(shop=shop, to=number, body=text, kind=Kind.BULK, customer=customer,
                        dedupe_key=f"bulk:{key}:customer:{customer.pk}")
    return plan
