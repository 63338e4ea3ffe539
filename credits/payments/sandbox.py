"""The embedded payment provider: behaves like one without moving money.

Pay-now methods are paid at once (a card ending in 0002 is declined, as with real test
cards); pay-later methods open a pending payment that the provider's webhook, or an
operator in the admin, confirms later. The webhook is a JSON POST signed with
HMAC-SHA256 of the raw body::

    body='{"reference": "SBP-…", "status": "paid"}'
    sig=$(printf %s "$body" | openssl dgst -sha256 -hmac "$CREDITS_SANDBOX_WEBHOOK_SECRET" -r | cut -d' ' -f1)
    curl -X POST -H "X-Sandbox-Signature: $sig" -d "$body" http://127.0.0.1:8000/webhooks/payments/sandbox/
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from shop.money import format_money

from .base import (
    BasePaymentProvider,
    InvalidSignature,
    PaymentDeclined,
    PaymentEvent,
    PaymentMethod,
    PaymentRequest,
    PaymentResult,
)

SIGNATURE_HEADER = "X-Sandbox-Signature"


def webhook_secret() -> bytes:
    configured = settings.CREDITS_SANDBOX_WEBHOOK_SECRET
    if configured:
        return configured.encode()
    return hashlib.sha256(b"credits.payments.sandbox:" + settings.SECRET_KEY.encode()).hexdigest().encode()


def sign(body: bytes) -> str:
    return hmac.new(webhook_secret(), body, hashlib.sha256).hexdigest()


class SandboxPaymentProvider(BasePaymentProvider):
    name = "sandbox"
    methods = (
        PaymentMethod("sandbox_card", _("Card (sandbox)"), pays_now=True,
                      description=_("Paid at once.")),
        PaymentMethod("platform_balance", _("Platform balance"), pays_now=True,
                      description=_("Paid at once from your balance on the platform.")),
        PaymentMethod("bank_transfer", _("Bank transfer"), pays_now=False,
                      description=_("Credited when the transfer arrives (usually 1–2 working days).")),
        PaymentMethod("boleto", _("Boleto bancário"), pays_now=False, currencies=frozenset({"BRL"}),
                      description=_("Credited after the boleto is paid and confirmed.")),
    )

    def start(self, request: PaymentRequest) -> PaymentResult:
        reference = f"SBP-{uuid.uuid4().hex}"
        if request.method == "sandbox_card":
            if request.payer_email.endswith("+declined@example.com"):
                raise PaymentDeclined(_("The card was declined."))
            return PaymentResult(paid=True, provider_reference=reference)
        if request.method == "platform_balance":
            return PaymentResult(paid=True, provider_reference=reference)
        if request.method == "bank_transfer":
            return PaymentResult(paid=False, provider_reference=reference, instructions=str(_(
                "Transfer %(amount)s to IBAN XX00 SAND 0000 0000 0000 0000 (Sandbox Payments Ltd) "
                "with the reference %(reference)s."
            ) % {"amount": _money(request), "reference": request.reference}))
        if request.method == "boleto":
            line = "".join(str(int(c, 16) % 10) for c in reference[4:48])
            return PaymentResult(paid=False, provider_reference=reference, instructions=str(_(
                "Pay boleto %(line)s (%(amount)s) at any bank or app before it expires."
            ) % {"line": line, "amount": _money(request)}))
        raise PaymentDeclined(_("Unknown payment method."))

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        signature = headers.get(SIGNATURE_HEADER, "")
        if not signature or not hmac.compare_digest(sign(body), signature):
            raise InvalidSignature
        try:
            data = json.loads(body)
            return PaymentEvent(provider_reference=str(data["reference"]), status=str(data["status"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("A signed but malformed webhook.") from exc


def _money(request: PaymentRequest) -> str:
    return format_money(request.amount, request.currency)
