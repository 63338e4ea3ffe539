"""The storefront's one-time codes by text, and the merchant's alert when their hourly ceiling trips.

A code text is a service text (no consent, no quiet hours: the customer just asked for it) in the
codes lane (Kind.VERIFICATION_CODE), charged like any text. Its words are the shop's "Sign-up code"
template in the shop's language; the code must reach the customer, so a template switched off, or
edited without {code}, gives way to the standard text. A shop that cannot send now (SMS off, too
few credits for this text) raises ``CodeUnavailable``: the storefront says codes cannot be sent,
and no code is kept (shop/verification.py).
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext as _, gettext_lazy

from credits.estimate import sms_estimate
from credits.selectors import credit_balance
from shop.models import Shop, VerificationCode
from shop.verification import CODE_TTL, CodeUnavailable
from smsnotify.models import Kind, Message, Status
from smsnotify.outbox import message_schedule
from smsnotify.phones import InvalidPhoneNumber, to_e164
from smsnotify.policies import DeliveryPolicy, Refuse
from smsnotify.selectors import sms_settings_for
from templates_sms.defaults import standard_template
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext

from .alerts import staff_emails

CODE_EVENT = "signup:code"
_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")

log = logging.getLogger(__name__)


def code_text(*, shop: Shop, secret: str) -> str:
    """The code's text: the shop's template, or the standard one when that would not carry the code."""
    context = RenderContext(shop=shop, code=secret)
    template = active_template(shop=shop, event=CODE_EVENT, audience=Audience.CUSTOMER)
    body = render(template.body, context, event=CODE_EVENT).strip() if template is not None else ""
    if secret not in body:
        with translation.override(shop.language):
            body = render(str(standard_template(CODE_EVENT, Audience.CUSTOMER).body), context, event=CODE_EVENT)
    return body.strip()


def verification_code_text_schedule(*, code: VerificationCode, secret: str) -> Message:
    shop = code.shop
    sms = sms_settings_for(shop)
    body = code_text(shop=shop, secret=secret)
    if not sms.active:
        raise CodeUnavailable("sms_off")
    if credit_balance(shop) < sms_estimate(shop=shop, text=body, recipient=code.address, sms_settings=sms).credits:
        raise CodeUnavailable("credits")
    return message_schedule(shop=shop, to=code.address, body=body, kind=Kind.VERIFICATION_CODE,
                            customer=code.customer, dedupe_key=f"code:{code.pk}")


def code_ceiling_alert_send(*, shop: Shop, limit: int) -> str:
    """Tell the merchant their storefront's codes are refused: by text to their number, else by
    email to the shop's staff. Returns "sms", "email" or "" (nobody to tell)."""
    with translation.override(shop.language):
        text = _("%(shop)s: %(limit)s sign-up codes were texted within an hour, your ceiling. Further code "
                 "requests are refused for now. If this is not real sign-ups, it may be fraud: see Refused code "
                 "requests.") % {"shop": shop.name, "limit": limit}
        subject = _("Sign-up codes stopped: hourly ceiling reached")
    sms = sms_settings_for(shop)
    hour = timezone.now().strftime("%Y%m%d%H")
    if sms.active and sms.merchant_number:
        try:
            number = to_e164(sms.merchant_number, region=shop.country)
        except InvalidPhoneNumber:
            log.warning("Shop %s has an invalid merchant number; the code ceiling alert goes by email.", shop.pk)
        else:
            message_schedule(shop=shop, to=number, body=text, kind=Kind.MERCHANT_ALERT,
                             dedupe_key=f"code_ceiling:{hour}")
            return "sms"
    recipients = staff_emails(shop)
    if not recipients:
        return ""
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # noqa: BLE001 - an SMTP outage must not fail the refusal's answer
        log.exception("Could not email the code ceiling alert to %s", recipients)
    return "email"


class CodeTextsExpire(DeliveryPolicy):
    """A code text that could not leave within the code's ten minutes (workers down, a provider
    outage) is not sent: the code no longer works, and the text would be paid for nothing."""

    reasons = {"code_expired": gettext_lazy("Not sent: the code it carries expired before it could leave.")}

    def before_send(self, batch):
        too_old = timezone.now() - CODE_TTL
        return {message.pk: Refuse(status=Status.FAILED, code="code_expired") for message in batch.messages
                if message.kind == Kind.VERIFICATION_CODE and message.created_at <= too_old}


class CodeTextsForgotten(DeliveryPolicy):
    """Once a code text has been handed over (or has failed for good), its digits are not kept:
    a code in the message history would let whoever reads it (the shop's staff, a copy of the
    database) use it in its ten minutes. The history keeps the rest of the text. Off while
    SMS_CODE_TEXTS_FORGOTTEN is (by default with DEBUG, so that a demo's codes can be read in the
    admin: the sandbox gateway texts nobody)."""

    def settle(self, outcomes):
        if not settings.SMS_CODE_TEXTS_FORGOTTEN:
            return
        done = [outcome.message for outcome in outcomes
                if outcome.message.kind == Kind.VERIFICATION_CODE and outcome.status != Status.SCHEDULED]
        for message in done:
            hidden = _DIGITS.sub("******", message.body)
            if hidden != message.body:
                Message.objects.filter(pk=message.pk).update(body=hidden)
