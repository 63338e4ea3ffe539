"""The store's own background work: emailing a one-time code.

A code to an email address is given its digits and sent here, after the request has answered,
so that the answer takes the same time whether or not the address belongs to an account (one
that does not is counted, but never emailed). Run in the codes queue, beside the code texts.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from .models import VerificationCode
from .verification import CODE_TTL, email_code_make

log = logging.getLogger(__name__)


@shared_task(name="shop.email_code_send")
def email_code_send(code_id: int, deliver: bool) -> None:
    secret = email_code_make(code_id=code_id)  # None: done already (a re-run sends nothing twice)
    if secret is None or not deliver:
        return
    code = VerificationCode.objects.select_related("shop").get(pk=code_id)
    shop = code.shop
    with translation.override(shop.language):
        subject = _("Your %(shop)s code: %(code)s") % {"shop": shop.name, "code": secret}
        body = _("%(code)s is your %(shop)s verification code. It works for %(minutes)d minutes.\n\n"
                 "If you did not ask for it, you can ignore this email.") % {
            "code": secret, "shop": shop.name, "minutes": CODE_TTL.seconds // 60}
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [code.address])
    except Exception:  # noqa: BLE001 - an SMTP outage: the visitor asks for a new code
        log.exception("Could not email code %s", code_id)
