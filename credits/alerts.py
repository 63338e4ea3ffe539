"""The low-balance alert: by SMS to the merchant when SMS can carry it, else by email.

The SMS is the shop's "Low balance (to you)" template; a merchant who switches that
template off gets the alert by email instead."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from shop.models import Shop
from smsnotify.encoding import segment_info
from smsnotify.models import Kind
from smsnotify.selectors import sms_settings_for

from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext

from .pricing import message_cost

LOW_BALANCE_EVENT = "credits:low_balance"

log = logging.getLogger(__name__)


def low_balance_text(*, shop: Shop, balance: int, threshold: int) -> str:
    with translation.override(shop.language):
        return _("%(shop)s: your SMS credits are running low: %(balance)s left (alert below %(threshold)s). "
                 "Buy credits to keep your messages going.") % {
            "shop": shop.name, "balance": balance, "threshold": threshold}


def low_balance_sms_text(*, shop: Shop, balance: int) -> str:
    """The shop's low-balance template rendered, or "" when the merchant switched it off."""
    template = active_template(shop=shop, event=LOW_BALANCE_EVENT, audience=Audience.MERCHANT)
    if template is None:
        return ""
    return render(template.body, RenderContext(shop=shop, balance=balance), event=LOW_BALANCE_EVENT).strip()


def send_low_balance_alert(*, shop: Shop, account_pk: int, balance: int, threshold: int, crossing: int) -> str:
    """Tell the merchant, once per crossing (the caller disarms the account in the same
    transaction). Returns "sms", "email" or "" (nobody to tell)."""
    text = low_balance_text(shop=shop, balance=balance, threshold=threshold)
    sms = sms_settings_for(shop)
    sms_text = low_balance_sms_text(shop=shop, balance=balance) if sms.active and sms.merchant_number else ""
    if sms_text:
        from smsnotify import outbox  # the outbox charges through credits.services: import late

        try:
            cost = message_cost(shop=shop, recipient=str(sms.merchant_number),
                                segments=segment_info(outbox.sendable_text(sms, sms_text)).segments)
            if balance >= cost:
                with transaction.atomic():
                    outbox.schedule(shop=shop, to=sms.merchant_number, body=sms_text, kind=Kind.MERCHANT_ALERT,
                                    dedupe_key=f"low_balance:{account_pk}:{crossing}")
                return "sms"
        except Exception:  # noqa: BLE001 - a bad merchant number must not stop the charge: email instead
            log.warning("Low-balance SMS to %s of shop %s failed; emailing instead", sms.merchant_number, shop.pk,
                        exc_info=True)
    recipients = staff_emails(shop)
    if not recipients:
        log.warning("Shop %s is low on credits (%s) and has no merchant number or staff email to tell.", shop.pk, balance)
        return ""
    with translation.override(shop.language):
        subject = _("Low SMS credit balance: %(balance)s credits left") % {"balance": balance}
    transaction.on_commit(functools.partial(_mail, subject, text, recipients))
    return "email"


def staff_emails(shop: Shop) -> list[str]:
    users = get_user_model().objects.filter(membership__shop=shop, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # noqa: BLE001 - an SMTP outage must not fail the delivery that triggered it
        log.exception("Could not email the low-balance alert to %s", recipients)
