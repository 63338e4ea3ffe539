"""The contract a payment provider fulfils, shaped like the SMS gateways.

A provider is loaded from a dotted path (``settings.CREDITS_PAYMENT_PROVIDERS``), takes
plain value objects and returns plain value objects; it never touches the ORM. The
purchase services persist what it says, so a real provider plugs in without touching
the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A way to pay offered to merchants."""

    code: str  # unique across providers, e.g. "sandbox_card"
    label: str
    pays_now: bool  # True: paid (or refused) at once; False: a pending purchase waits for confirmation
    description: str = ""
    currencies: frozenset[str] | None = None  # None = every currency


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What to charge the merchant for."""

    reference: str  # our purchase number, e.g. "CR-2026-000042"
    amount: int  # minor units
    currency: str
    description: str
    method: str
    payer_email: str = ""


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """What the provider said. ``paid`` only for money surely taken."""

    paid: bool
    provider_reference: str = ""
    instructions: str = ""  # for pay-later methods: how to pay (bank account, boleto line)


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A provider's webhook, verified and parsed."""

    provider_reference: str
    status: str  # "paid" or "cancelled"


class PaymentDeclined(Exception):
    """The provider refused the payment (card declined, insufficient platform balance)."""


class InvalidSignature(Exception):
    """A webhook whose signature does not verify: answer 403 and change nothing."""


class BasePaymentProvider:
    name = "base"
    methods: tuple[PaymentMethod, ...] = ()

    def start(self, request: PaymentRequest) -> PaymentResult:
        """Take the payment (pay-now methods) or open it (pay-later ones).

        Raises ``PaymentDeclined`` when refused.
        """
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        """Verify and read a webhook; raise ``InvalidSignature`` when it is not the provider's
        and ``ValueError`` when it is signed but unreadable."""
        raise NotImplementedError
