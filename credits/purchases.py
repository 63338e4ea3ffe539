"""Writes of purchases: quoting, buying, confirming, cancelling and expiring credit purchases.

A purchase is credited by the conditional ``pending → paid`` UPDATE in the transaction that
writes its ledger row (and unique purchase + kind backs it up), so a repeated webhook or a
double click credits once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.models import Shop
from shop.money import format_number

from . import payments
from .ledger import _credit, _entry
from .models import ConfirmedVia, CreditPack, EntryKind, PricingSettings, Purchase, PurchaseStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Quote:
    credits: int
    amount: int  # minor units
    currency: str
    description: str
    pack: CreditPack | None = None


def purchase_quote(*, shop: Shop, pack: CreditPack | None = None, credits: int | None = None) -> Quote:
    """The price of a pack, or of a custom amount of credits, in the shop's currency."""
    currency = shop.currency
    if pack is not None:
        price = pack.price_in(currency) if pack.active else None
        if price is None:
            raise ValidationError(_("This pack cannot be bought in %(currency)s.") % {"currency": currency},
                                  code="not_priced")
        return Quote(pack.credits, price, currency, _("SMS credits, pack of %(label)s") % {"label": pack.label}, pack)
    pricing = PricingSettings.load()
    if not credits or credits < pricing.minimum_purchase_credits:
        raise ValidationError(_("The minimum purchase is %(minimum)s credits.") % {
            "minimum": format_number(pricing.minimum_purchase_credits)}, code="below_minimum")
    custom_credits_validate(credits=credits)
    per_thousand = (pricing.price_per_thousand or {}).get(currency)
    if not per_thousand:
        raise ValidationError(_("Custom amounts cannot be bought in %(currency)s; choose a pack.") % {
            "currency": currency}, code="not_priced")
    amount = math.ceil(credits * per_thousand / 1000)  # integers; a fraction of a cent rounds up
    return Quote(credits, amount, currency, _("%(credits)s SMS credits") % {"credits": format_number(credits)})


def custom_credits_validate(*, credits: int) -> None:
    """A custom amount has a ceiling (CREDITS_CUSTOM_MAX): a typo must not buy 10**12 credits."""
    maximum = settings.CREDITS_CUSTOM_MAX
    if credits > maximum:
        raise ValidationError(_("At most %(maximum)s credits can be bought at once.")
                              % {"maximum": format_number(maximum)}, code="above_maximum")


def purchase_create(*, shop: Shop, method: str, user=None, pack: CreditPack | None = None,
                    credits: int | None = None, idempotency_key: uuid.UUID | str | None = None) -> Purchase:
    """Order credits and start the payment. Pay-now methods come back paid (and credited) or
    failed; pay-later ones come back pending until a webhook or the operator confirms them.

    The same ``idempotency_key`` (the confirm form's token) returns the same purchase.
    """
    quote = purchase_quote(shop=shop, pack=pack, credits=credits)
    found = payments.provider_of_method(method)
    if found is None or found[1] not in payments.method_choices(shop.currency):
        raise ValidationError(_("This payment method is not available."), code="bad_method")
    provider, payment_method = found
    key = uuid.UUID(str(idempotency_key)) if idempotency_key else uuid.uuid4()
    # Read first: a failed INSERT would use up an id of PostgreSQL's sequence, and purchase numbers
    # (CR-YYYY-<id>) would have gaps a merchant sees; the IntegrityError below is for a true race.
    existing = Purchase.objects.filter(shop=shop, idempotency_key=key).first()
    if existing:
        return existing
    now = timezone.now()
    purchase = Purchase(
        shop=shop, pack=quote.pack, description=quote.description, credits=quote.credits, amount=quote.amount,
        currency=quote.currency, provider=provider.name, method=payment_method.code, idempotency_key=key,
        created_by=user, created_at=now,
        expires_at=now + dt.timedelta(hours=settings.CREDITS_PENDING_PURCHASE_HOURS),
    )
    try:
        with transaction.atomic():
            purchase.save()  # written before money moves, so the provider's reference always has a row
    except IntegrityError:  # a concurrent request with the same key (a double click) wrote it first
        return Purchase.objects.get(shop=shop, idempotency_key=key)

    request = payments.PaymentRequest(
        reference=purchase.number, amount=purchase.amount, currency=purchase.currency,
        description=purchase.description, method=purchase.method, payer_email=getattr(user, "email", None) or "",
    )
    try:
        result = provider.start(request)
    except payments.PaymentDeclined as exc:
        Purchase.objects.filter(pk=purchase.pk, status=PurchaseStatus.PENDING).update(
            status=PurchaseStatus.FAILED, closed_at=timezone.now(), note=str(exc)[:500])
        purchase.refresh_from_db()
        return purchase
    Purchase.objects.filter(pk=purchase.pk).update(provider_reference=result.provider_reference,
                                                   instructions=result.instructions)
    if result.paid:
        purchase_confirm(purchase=purchase, via=ConfirmedVia.INSTANT)
    purchase.refresh_from_db()
    return purchase


def purchase_confirm(*, purchase: Purchase, via: str, user=None,
                     from_statuses=(PurchaseStatus.PENDING,)) -> bool:
    """Mark paid and credit, exactly once. False when it was not in ``from_statuses``
    (already paid: a repeated webhook, a double click)."""
    now = timezone.now()
    with transaction.atomic():
        moved = Purchase.objects.filter(pk=purchase.pk, status__in=list(from_statuses)).update(
            status=PurchaseStatus.PAID, paid_at=now, confirmed_via=via, confirmed_by=user, closed_at=None)
        if not moved:
            return False
        account = _credit(shop_id=purchase.shop_id, amount=purchase.credits)
        _entry(account, kind=EntryKind.PURCHASE, amount=purchase.credits, purchase_id=purchase.pk,
               reason=purchase.description, user=user)
    purchase.refresh_from_db()
    return True


def purchase_cancel(*, purchase: Purchase, reason: str = "", user=None) -> bool:
    """Stop waiting for a pending payment. False when it is no longer pending."""
    note = reason or (_("Cancelled by %(user)s.") % {"user": user.get_username()} if user else _("Cancelled."))
    moved = Purchase.objects.filter(pk=purchase.pk, status=PurchaseStatus.PENDING).update(
        status=PurchaseStatus.CANCELLED, closed_at=timezone.now(), note=note[:500])
    purchase.refresh_from_db()
    return bool(moved)


def purchases_expire(*, now: dt.datetime | None = None) -> int:
    """Pending purchases past their time are no longer awaited. Returns how many."""
    now = now or timezone.now()
    return Purchase.objects.filter(status=PurchaseStatus.PENDING, expires_at__lt=now).update(
        status=PurchaseStatus.EXPIRED, closed_at=now, note=_("No payment arrived in time."))


def payment_event_apply(*, provider: str, event: payments.PaymentEvent) -> Purchase | None:
    """A verified webhook. Money that arrives is always credited, once: also for a purchase
    that expired or was cancelled meanwhile (a boleto paid on its last day). None when
    the reference is not ours."""
    purchase = Purchase.objects.filter(provider=provider, provider_reference=event.provider_reference).first()
    if purchase is None:
        return None
    if event.status == "paid":
        purchase_confirm(purchase=purchase, via=ConfirmedVia.WEBHOOK, from_statuses=(
            PurchaseStatus.PENDING, PurchaseStatus.EXPIRED, PurchaseStatus.CANCELLED, PurchaseStatus.FAILED))
    elif event.status in ("cancelled", "failed"):
        Purchase.objects.filter(pk=purchase.pk, status=PurchaseStatus.PENDING).update(
            status=PurchaseStatus.CANCELLED if event.status == "cancelled" else PurchaseStatus.FAILED,
            closed_at=timezone.now(), note=_("The payment provider reported it %(status)s.") % {"status": event.status})
    purchase.refresh_from_db()
    return purchase
