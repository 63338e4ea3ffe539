"""The low-balance alert: by SMS to the merchant when SMS can carry it, else by email.

Credits says when an armed balance fell below its threshold (``credits.signals.low_balance``,
after the debit committed: whatever caused it, a charge or an operator's adjustment); this
module decides how to tell the merchant. The SMS is the shop's "Low balance (to you)"
template; a merchant who switches that template off gets the alert by email instead.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _, ngettext

from credits.estimate import sms_estimate
from shop.models import Shop
from shop.money import format_number
from smsnotify.models import Kind
from smsnotify.outbox import message_schedule
from smsnotify.phones import InvalidPhoneNumber, to_e164
from smsnotify.selectors import sms_settings_for
from templates_sms.rendering import render
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext

LOW_BALANCE_EVENT = "credits:low_balance"

log = logging.getLogger(__name__)


def low_balance_text(*, shop: Shop, balance: int, threshold: int) -> str:
    with translation.override(shop.language):
        return _("%(shop)s: your SMS credits are running low: %(balance)s left (alert below %(threshold)s). "
                 "Buy credits to keep your messages going.") % {
            "shop": shop.name, "balance": format_number(balance), "threshold": format_number(threshold)}


def low_balance_sms_text(*, shop: Shop, balance: int) -> str:
    """The shop's low-balance template rendered, or "" when the merchant switched it off."""
    template = active_template(shop=shop, event=LOW_BALANCE_EVENT, audience=Audience.MERCHANT)
    if template is None:
        return ""
    return render(template.body, RenderContext(shop=shop, balance=balance), event=LOW_BALANCE_EVENT).strip()


def low_balance_alert_send(*, shop: Shop, balance: int, threshold: int, crossing: int) -> str:
    """Tell the merchant, once per crossing. Returns "sms", "email" or "" (nobody to tell)."""
    sms = sms_settings_for(shop)
    sms_text = low_balance_sms_text(shop=shop, balance=balance) if sms.active and sms.merchant_number else ""
    if sms_text:
        try:
            number = to_e164(sms.merchant_number, region=shop.country)
        except InvalidPhoneNumber:
            log.warning("Shop %s has an invalid merchant number; the low-balance alert goes by email.", shop.pk)
        else:
            if balance >= sms_estimate(shop=shop, text=sms_text, recipient=number, sms_settings=sms).credits:
                with transaction.atomic():
                    message_schedule(shop=shop, to=number, body=sms_text, kind=Kind.MERCHANT_ALERT,
                                     dedupe_key=f"low_balance:{shop.pk}:{crossing}")
                return "sms"
    recipients = staff_emails(shop)
    if not recipients:
        log.warning("Shop %s is low on credits (%s) and has no merchant number or staff email to tell.", shop.pk, balance)
        return ""
    with translation.override(shop.language):
        subject = ngettext("Low SMS credit balance: %(balance)s credit left",
                           "Low SMS credit balance: %(balance)s credits left", balance) % {
            "balance": format_number(balance)}
    try:
        send_mail(subject, low_balance_text(shop=shop, balance=balance, threshold=threshold),
                  settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # noqa: BLE001 - an SMTP outage must not fail the delivery run that caused it
        log.exception("Could not email the low-balance alert to %s", recipients)
    return "email"


def staff_emails(shop: Shop) -> list[str]:
    users = get_user_model().objects.filter(membership__shop=shop, is_active=True).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))
