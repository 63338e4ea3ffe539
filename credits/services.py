"""Writes of credits: charging, refunding, buying, adjusting.

One rule keeps every credit accounted for: a balance changes only through a conditional
UPDATE (``balance = balance - n WHERE balance >= n`` for a debit) in the same transaction
as the ledger row that explains it, and ``balance_after`` is the value that UPDATE returns
(so it is exact while the row lock is held). Concurrent charges serialise on the account
row, the balance can never go below zero (the database's CHECK would refuse it anyway),
and balance == sum(ledger) at every commit; ``manage.py audit_credits`` checks it.

Exactly once:
* a message is charged at most once per *charge cycle* and refunded at most once per
  cycle (unique message + kind + cycle on the ledger); a refund closes the cycle, so only a
  message sent again after a refund is charged again;
* a purchase is credited by the conditional ``pending → paid`` UPDATE in the transaction
  that writes its ledger row (and unique purchase + kind backs it up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.models import Shop
from smsnotify.models import Message, Status

from . import payments
from .models import CreditAccount, CreditPack, EntryKind, LedgerEntry, PricingSettings, Purchase, PurchaseStatus
from .pricing import calling_code_of_number, segment_rate


# Delivery reports that refund the message's charge:
# a report of "failed" (the provider did not bill it: Twilio does not charge failed messages),
# or "undelivered" because the destination cannot receive SMS at all.
REFUNDABLE_REPORT_CODES = frozenset({
    "30003",  # unreachable destination handset
    "30005",  # unknown destination handset (the number does not exist)
    "30006",  # landline or unreachable carrier
})


@dataclasses.dataclass(frozen=True, slots=True)
class _Moved:
    """The account as it is right after a balance change, read under its row lock."""

    pk: int
    balance: int
    low_balance_threshold: int
    low_balance_armed: bool
    low_balance_alerts: int


# --- the two primitive moves -----------------------------------------------------------------


def account_create(*, shop: Shop) -> CreditAccount:
    """The shop's account, empty (called by shop_create); returns the existing one if any."""
    account, _created = CreditAccount.objects.get_or_create(shop=shop)
    return account


# The balance moves with UPDATE … RETURNING (PostgreSQL, SQLite >= 3.35): the conditional UPDATE
# of the design, which also reads the new balance in the same statement, under its row lock.
# Raw SQL on this path because it runs for every SMS delivered and the ORM's cost per query is
# several times the database's (see bench/bench_credits.py).
_ACCOUNTS = CreditAccount._meta.db_table
_ENTRIES = LedgerEntry._meta.db_table
_MESSAGES = Message._meta.db_table
_RETURNING = "RETURNING id, balance, low_balance_threshold, low_balance_armed, low_balance_alerts"
_DEBIT_SQL = (f"UPDATE {_ACCOUNTS} SET balance = balance - %s, updated_at = %s "
              f"WHERE shop_id = %s AND balance >= %s {_RETURNING}")
_CREDIT_SQL = f"UPDATE {_ACCOUNTS} SET balance = balance + %s, updated_at = %s WHERE shop_id = %s {_RETURNING}"
_ENTRY_COLUMNS = ("shop_id", "account_id", "kind", "amount", "balance_after", "message_id", "cycle", "purchase_id",
                  "created_by_id", "actor", "reason", "created_at")
_ENTRY_SQL = (f"INSERT INTO {_ENTRIES} ({', '.join(_ENTRY_COLUMNS)}) "
              f"VALUES ({', '.join(['%s'] * len(_ENTRY_COLUMNS))}) RETURNING id")


def _now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _moved(row) -> _Moved | None:
    if row is None:
        return None
    pk, balance, threshold, armed, alerts = row
    return _Moved(pk, balance, threshold, bool(armed), alerts)


def _debit(*, shop_id: int, amount: int) -> _Moved | None:
    """Take ``amount`` if the balance pays for it; None when it does not. Call inside atomic()."""
    with connection.cursor() as cursor:
        cursor.execute(_DEBIT_SQL, [amount, _now(), shop_id, amount])
        return _moved(cursor.fetchone())


def _credit(*, shop_id: int, amount: int) -> _Moved:
    """Add ``amount``. Call inside atomic()."""
    with connection.cursor() as cursor:
        cursor.execute(_CREDIT_SQL, [amount, _now(), shop_id])
        account = _moved(cursor.fetchone())
    if account is None:  # a shop created before credits existed
        account_create(shop=Shop.objects.get(pk=shop_id))
        return _credit(shop_id=shop_id, amount=amount)
    if not account.low_balance_armed and account.balance >= account.low_balance_threshold:
        CreditAccount.objects.filter(pk=account.pk).update(low_balance_armed=True)  # alert again on the next crossing
    return account


def _entry(account: _Moved, *, shop_id: int, kind: str, amount: int, message_id: int | None = None, cycle: int = 0,
           purchase_id: int | None = None, created_by=None, actor: str = "", reason: str = "") -> int:
    """Append the ledger row for a move just made; returns its id."""
    values = [shop_id, account.pk, kind, amount, account.balance, message_id, cycle, purchase_id,
              getattr(created_by, "pk", None), actor[:150], reason[:500], _now()]
    with connection.cursor() as cursor:
        cursor.execute(_ENTRY_SQL, values)
        return cursor.fetchone()[0]


def _actor(user) -> dict:
    return {"created_by": user, "actor": user.get_username()} if user is not None else {}


# --- charging for messages -------------------------------------------------------------------


_CYCLES_SQL = (f"SELECT kind, COUNT(*) FROM {_ENTRIES} WHERE message_id = %s AND kind IN (%s, %s) GROUP BY kind")


def _cycles(message_pk: int) -> tuple[int, int]:
    """How often the message was charged and refunded; charged more often = an open cycle."""
    with connection.cursor() as cursor:
        cursor.execute(_CYCLES_SQL, [message_pk, EntryKind.CHARGE.value, EntryKind.REFUND.value])
        counts = dict(cursor.fetchall())
    return counts.get(EntryKind.CHARGE, 0), counts.get(EntryKind.REFUND, 0)


def charge_for_message(message: Message) -> bool:
    """Pay for sending ``message``, once. Returns False when the balance cannot pay.

    Idempotent: a message already charged in its open cycle (a crashed worker's message
    reconciled and sent again, a retried task) is not charged again and returns True.
    Call it after the message is claimed (so no other worker charges it) and before the
    gateway. Commits before returning, so the charge is never lost with a later failure.
    """
    calling_code = calling_code_of_number(message.recipient)
    rate = segment_rate(shop=message.shop, calling_code=calling_code)  # message_cost, keeping the code for the reason
    parts = max(message.segments, 1)
    cost = rate * parts
    if cost == 0:  # a free destination (an operator's rate of 0 written outside the admin): nothing to record
        return True
    reason = f"{parts} part{'s' if parts != 1 else ''} to +{calling_code or '?'} at {rate}"
    try:
        if connection.vendor == "postgresql":
            outcome = _charge_in_one_statement(message=message, cost=cost, reason=reason)
            if outcome != "other":
                return True
        with transaction.atomic():
            outcome, account = _charge(message=message, cost=cost, reason=reason)
            if outcome == "charged" and account.low_balance_armed and account.balance < account.low_balance_threshold:
                _low_balance_crossed(message.shop, account)
    except IntegrityError:
        # Only a concurrent charge of this same message in this cycle gets here; it won.
        charges, refunds = _cycles(message.pk)
        if charges > refunds:
            return True
        raise
    return outcome != "short"


def _charge(*, message: Message, cost: int, reason: str) -> tuple[str, _Moved | None]:
    """Returns ("charged", account), ("already", None) or ("short", None). Inside atomic()."""
    charges, refunds = _cycles(message.pk)
    if charges > refunds:
        return "already", None
    account = _debit(shop_id=message.shop_id, amount=cost)
    if account is None:
        return "short", None
    _entry(account, shop_id=message.shop_id, kind=EntryKind.CHARGE, amount=-cost, message_id=message.pk,
           cycle=charges, reason=reason)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_MESSAGES} SET credits_charged = %s WHERE id = %s", [cost, message.pk])
    message.credits_charged = cost
    return "charged", account


# The common case of _charge in one statement, which is its own transaction: one round trip
# instead of five, for a path that runs for every SMS delivered. The debit is the same
# conditional UPDATE (PostgreSQL re-checks its WHERE on the latest row version after waiting
# for a concurrent charge's row lock). It leaves every other case to _charge, so it declines
# a charge that would take the balance below an armed alert threshold: that one must send
# the alert in its own transaction.
_CHARGE_SQL = f"""
WITH cycles AS (
    SELECT COUNT(*) FILTER (WHERE kind = 'charge') AS charges, COUNT(*) FILTER (WHERE kind = 'refund') AS refunds
    FROM {_ENTRIES} WHERE message_id = %(message)s
), debit AS (
    UPDATE {_ACCOUNTS} SET balance = balance - %(cost)s, updated_at = %(now)s
    WHERE shop_id = %(shop)s AND balance >= %(cost)s AND (SELECT charges = refunds FROM cycles)
      AND NOT (low_balance_armed AND balance - %(cost)s < low_balance_threshold)
    RETURNING id, balance
), entry AS (
    INSERT INTO {_ENTRIES} ({", ".join(_ENTRY_COLUMNS)})
    SELECT %(shop)s, debit.id, 'charge', -%(cost)s, debit.balance, %(message)s, cycles.charges, NULL, NULL, '',
           %(reason)s, %(now)s
    FROM debit, cycles
    RETURNING id
), marked AS (
    UPDATE {_MESSAGES} SET credits_charged = %(cost)s WHERE id = %(message)s AND EXISTS (SELECT 1 FROM entry)
)
SELECT cycles.charges > cycles.refunds, debit.id IS NOT NULL FROM cycles LEFT JOIN debit ON TRUE
"""


def _charge_in_one_statement(*, message: Message, cost: int, reason: str) -> str:
    """PostgreSQL only. Returns "charged", "already", or "other" (short, or crossing the alert)."""
    import psycopg

    params = {"message": message.pk, "shop": message.shop_id, "cost": cost, "reason": reason, "now": _now()}
    # Inside a caller's transaction, a savepoint, so that a unique violation undoes only this.
    with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        connection.ensure_connection()
        # Server-side binding with prepare=True: planning this statement costs more than running it,
        # so it is prepared once per connection when the deployment allows prepared statements
        # (DATABASES OPTIONS "prepare_threshold"; Django leaves them off for transaction-mode poolers).
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_CHARGE_SQL, params, prepare=True)
            already, charged = cursor.fetchone()
    if charged:
        message.credits_charged = cost
        return "charged"
    return "already" if already else "other"


def refund_for_message(message: Message, *, reason: str) -> bool:
    """Give back the charge of ``message``'s open cycle. False when there is nothing to refund
    (never charged, or refunded already), so calling it twice refunds once."""
    try:
        with transaction.atomic():
            charge = (LedgerEntry.objects.filter(message_id=message.pk, kind=EntryKind.CHARGE)
                      .order_by("-cycle").values_list("cycle", "amount").first())
            if charge is None:
                return False
            cycle, charged = charge
            if LedgerEntry.objects.filter(message_id=message.pk, kind=EntryKind.REFUND, cycle=cycle).exists():
                return False
            account = _credit(shop_id=message.shop_id, amount=-charged)
            _entry(account, shop_id=message.shop_id, kind=EntryKind.REFUND, amount=-charged, message_id=message.pk,
                   cycle=cycle, reason=reason[:500])
            Message.objects.filter(pk=message.pk).update(credits_charged=0)
            message.credits_charged = 0
    except IntegrityError:
        return False  # a concurrent refund of the same cycle won
    return True


def report_is_refundable(*, status: str, error_code: str) -> bool:
    """Whether a later delivery report gives the merchant their credits back."""
    return status == Status.FAILED or (status == Status.UNDELIVERED and error_code in REFUNDABLE_REPORT_CODES)


def _low_balance_crossed(shop: Shop, account: _Moved) -> None:
    """The charge that took the balance below the threshold: disarm and alert, once."""
    crossing = account.low_balance_alerts + 1
    CreditAccount.objects.filter(pk=account.pk).update(low_balance_armed=False, low_balance_alerts=crossing)
    from .alerts import send_low_balance_alert

    send_low_balance_alert(shop=shop, account_pk=account.pk, balance=account.balance,
                           threshold=account.low_balance_threshold, crossing=crossing)


# --- bonuses and adjustments -------------------------------------------------------------------


@transaction.atomic
def credits_grant_bonus(*, shop: Shop, amount: int, reason: str = "", user=None) -> LedgerEntry:
    """Free credits (a welcome gift, a goodwill gesture)."""
    if amount <= 0:
        raise ValidationError(_("A bonus adds credits: give a positive number."), code="not_positive")
    account = _credit(shop_id=shop.pk, amount=amount)
    return LedgerEntry.objects.get(pk=_entry(account, shop_id=shop.pk, kind=EntryKind.BONUS, amount=amount,
                                             reason=reason, **_actor(user)))


@transaction.atomic
def account_adjust(*, shop: Shop, amount: int, reason: str, user) -> LedgerEntry:
    """The operator's correction, up or down, with a reason. Never below zero."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why: adjustments are audited.")}, code="no_reason")
    if amount == 0:
        raise ValidationError({"amount": _("An adjustment of 0 changes nothing.")}, code="zero")
    if amount > 0:
        account = _credit(shop_id=shop.pk, amount=amount)
    else:
        account = _debit(shop_id=shop.pk, amount=-amount)
        if account is None:
            raise ValidationError({"amount": _("The balance is %(balance)s: it cannot go below zero.") % {
                "balance": CreditAccount.objects.filter(shop=shop).values_list("balance", flat=True).first() or 0,
            }}, code="below_zero")
    return LedgerEntry.objects.get(pk=_entry(account, shop_id=shop.pk, kind=EntryKind.ADJUSTMENT, amount=amount,
                                             reason=reason, **_actor(user)))


def account_set_threshold(*, account: CreditAccount, threshold: int) -> CreditAccount:
    with transaction.atomic():
        CreditAccount.objects.filter(pk=account.pk).update(low_balance_threshold=threshold)
        CreditAccount.objects.filter(pk=account.pk, low_balance_armed=False, balance__gte=threshold).update(
            low_balance_armed=True)
    account.refresh_from_db()
    return account


# --- purchases ----------------------------------------------------------------------------------


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
            "minimum": f"{pricing.minimum_purchase_credits:,}"}, code="below_minimum")
    per_thousand = (pricing.price_per_thousand or {}).get(currency)
    if not per_thousand:
        raise ValidationError(_("Custom amounts cannot be bought in %(currency)s; choose a pack.") % {
            "currency": currency}, code="not_priced")
    amount = math.ceil(credits * per_thousand / 1000)  # integers; a fraction of a cent rounds up
    return Quote(credits, amount, currency, _("%(credits)s SMS credits") % {"credits": f"{credits:,}"})


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
    except IntegrityError:
        return Purchase.objects.get(shop=shop, idempotency_key=key)

    request = payments.PaymentRequest(
        reference=purchase.number, amount=purchase.amount, currency=purchase.currency,
        description=purchase.description, method=purchase.method, payer_email=getattr(user, "email", "") or "",
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
        purchase_confirm(purchase=purchase, via="instant")
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
        _entry(account, shop_id=purchase.shop_id, kind=EntryKind.PURCHASE, amount=purchase.credits,
               purchase_id=purchase.pk, reason=purchase.description, **_actor(user))
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
        purchase_confirm(purchase=purchase, via="webhook", from_statuses=(
            PurchaseStatus.PENDING, PurchaseStatus.EXPIRED, PurchaseStatus.CANCELLED, PurchaseStatus.FAILED))
    elif event.status in ("cancelled", "failed"):
        Purchase.objects.filter(pk=purchase.pk, status=PurchaseStatus.PENDING).update(
            status=PurchaseStatus.CANCELLED if event.status == "cancelled" else PurchaseStatus.FAILED,
            closed_at=timezone.now(), note=_("The payment provider reported it %(status)s.") % {"status": event.status})
    purchase.refresh_from_db()
    return purchase
