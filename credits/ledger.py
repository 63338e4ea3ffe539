"""Writes of the ledger: charging and refunding messages, bonuses, adjustments, the alert threshold.

One rule keeps every credit accounted for: a balance changes only through a conditional
UPDATE (``balance = balance - n WHERE balance >= n`` for a debit) in the same transaction
as the ledger rows that explain it, and each row's ``balance_after`` is read under the
account's row lock (PostgreSQL's FOR UPDATE; SQLite's IMMEDIATE transaction), so it is
exact. The balance can never go below zero (the database's CHECK would refuse it anyway),
and balance == sum(ledger) at every commit; ``manage.py audit_credits`` checks it.

Exactly once: a message is charged at most once per *charge cycle* and refunded at most
once per cycle (unique message + kind + cycle). A refund closes the cycle, so only a
message sent again after a refund is charged again.

Delivery works in batches, so charging does too: one transaction for a batch, one
conditional UPDATE per shop in it and one INSERT of all its ledger rows.

Any debit that takes an armed account below its threshold disarms it and, once the
transaction has committed, sends ``credits.signals.low_balance`` (campaigns tells the
merchant). Nothing is texted from inside a charge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone, translation
from django.utils.translation import gettext as _, ngettext

from shop.models import Shop
from smsnotify.models import Message

from . import signals
from .estimate import sms_estimate
from .models import CreditAccount, CreditHold, EntryKind, LedgerEntry

_ACCOUNT_FIELDS = ("pk", "shop_id", "balance", "low_balance_threshold", "low_balance_armed", "low_balance_alerts")


@dataclass(frozen=True, slots=True)
class _Account:
    """The account as it is right after a balance change, read under its row lock."""

    pk: int
    shop_id: int
    balance: int
    low_balance_threshold: int
    low_balance_armed: bool
    low_balance_alerts: int


def account_create(*, shop: Shop) -> CreditAccount:
    """The shop's account, empty (made when the shop is created); the existing one if any."""
    account, _created = CreditAccount.objects.get_or_create(shop=shop)
    return account


def _read(shop_id: int) -> _Account:
    return _Account(*CreditAccount.objects.filter(shop_id=shop_id).values_list(*_ACCOUNT_FIELDS).get())


def _locked_balance(shop_id: int) -> int | None:
    """Lock the account row for this transaction and read its balance (None: no account)."""
    return CreditAccount.objects.select_for_update().filter(shop_id=shop_id).values_list("balance", flat=True).first()


def _debit(*, shop_id: int, amount: int) -> _Account | None:
    """Take ``amount`` if the balance pays for it; None when it does not. Inside atomic()."""
    moved = CreditAccount.objects.filter(shop_id=shop_id, balance__gte=amount).update(
        balance=F("balance") - amount, updated_at=timezone.now())
    if not moved:
        return None
    account = _read(shop_id)
    if account.low_balance_armed and account.balance < account.low_balance_threshold:
        _low_balance_crossed(account)
    return account


def _credit(*, shop_id: int, amount: int) -> _Account:
    """Add ``amount``. Inside atomic()."""
    moved = CreditAccount.objects.filter(shop_id=shop_id).update(balance=F("balance") + amount,
                                                                 updated_at=timezone.now())
    if not moved:  # a shop created before credits existed
        account_create(shop=Shop.objects.get(pk=shop_id))
        return _credit(shop_id=shop_id, amount=amount)
    account = _read(shop_id)
    if not account.low_balance_armed and account.balance >= account.low_balance_threshold:
        CreditAccount.objects.filter(pk=account.pk).update(low_balance_armed=True)  # alert again on the next crossing
    return account


def _low_balance_crossed(account: _Account) -> None:
    """A debit took the balance below the threshold: disarm (so it is said once per crossing)
    and say so once the debit has committed."""
    crossing = account.low_balance_alerts + 1
    CreditAccount.objects.filter(pk=account.pk).update(low_balance_armed=False, low_balance_alerts=crossing)
    # robust: telling the merchant must never fail the delivery run whose charge crossed it (the
    # error is logged; the charge has committed already).
    def tell_low_balance():  # a named function: Django logs a robust callback's error by its name
        signals.low_balance.send(sender=CreditAccount, shop_id=account.shop_id, balance=account.balance,
                                 threshold=account.low_balance_threshold, crossing=crossing)

    transaction.on_commit(tell_low_balance, robust=True)


def _entry(account: _Account, *, kind: str, amount: int, user=None, **fields) -> LedgerEntry:
    actor = {"created_by": user, "actor": user.get_username()} if user is not None else {}
    return LedgerEntry.objects.create(shop_id=account.shop_id, account_id=account.pk, kind=kind, amount=amount,
                                      balance_after=account.balance, **actor, **fields)


# --- charging and refunding messages, in batches ----------------------------------------------


def _cycles(message_ids: Iterable[int]) -> dict[int, int]:
    """Per message: how often it was charged, which is the cycle its next charge opens."""
    return dict(LedgerEntry.objects.filter(message_id__in=list(message_ids), kind=EntryKind.CHARGE)
                .values_list("message_id").annotate(n=Count("pk")).order_by())


def _charge_reason(estimate, *, language: str) -> str:
    """Why a charge costs what it does, in the shop's language: the shop's merchant reads it in
    the credit history and its export (the operator reads it as the shop does)."""
    parts = estimate.segments
    with translation.override(language):
        return ngettext("%(parts)d SMS part to +%(code)s at %(rate)s credits",
                        "%(parts)d SMS parts to +%(code)s at %(rate)s credits each", parts) % {
            "parts": parts, "code": estimate.calling_code or "?", "rate": estimate.rate}


def messages_charge(*, messages: list[Message]) -> set[int]:
    """Pay for sending ``messages`` (claimed, so no other worker charges them); returns the ids
    the balance could NOT pay for. Commits before returning, so a charge is never lost with a
    later failure. A message whose current round is paid (``credits_charged``, set and cleared
    with its ledger rows) is not charged again: a retried task, a message the provider never
    got. A refund, or the merchant's "Send again", starts a new round (cycle). Within one shop,
    messages are paid in the order given until the balance runs out.
    """
    cycles = _cycles(m.pk for m in messages)
    wanted: dict[int, list[tuple[Message, int, str, int]]] = defaultdict(list)
    for message in messages:
        if message.credits_charged:
            continue  # paid already: a retried run, a resend after "the provider never got it"
        charges = cycles.get(message.pk, 0)
        estimate = sms_estimate(shop=message.shop, text=message.body, recipient=message.recipient, as_sent=True)
        if estimate.credits:  # a free destination: nothing to record
            wanted[message.shop_id].append(
                (message, estimate.credits, _charge_reason(estimate, language=message.shop.language), charges))
    if not wanted:
        return set()
    try:
        with transaction.atomic():
            return _charge_shops(wanted, holds=_open_holds(messages))
    except IntegrityError:
        # A concurrent charge of one of these messages in the same cycle (only possible if a
        # claim was broken by hand): charge one by one, where each such clash means "paid".
        unpaid = set()
        for shop_id, rows in wanted.items():
            for row in rows:
                try:
                    with transaction.atomic():
                        unpaid |= _charge_shops({shop_id: [row]}, holds=_open_holds([row[0]]))
                except IntegrityError:
                    pass
        return unpaid


def _open_holds(messages: list[Message]) -> dict[tuple[int, str], int]:
    """The open holds that pay for these messages: (shop id, batch reference) → hold id."""
    references = {m.batch_ref for m in messages if m.batch_ref}
    if not references:
        return {}
    rows = CreditHold.objects.filter(shop_id__in={m.shop_id for m in messages}, reference__in=references,
                                     status=CreditHold.Status.OPEN).values_list("shop_id", "reference", "pk")
    return {(shop_id, reference): pk for shop_id, reference, pk in rows}


def _charge_shops(wanted: dict[int, list[tuple[Message, int, str, int]]],
                  holds: dict[tuple[int, str], int] | None = None) -> set[int]:
    unpaid: set[int] = set()
    holds = holds or {}
    entries, charged_by_cost = [], defaultdict(list)
    for shop_id in sorted(wanted):  # one lock order for every worker: no deadlock between batches
        balance = _locked_balance(shop_id)
        # Under the account's lock a hold cannot be closed or drawn by anyone else: read what is left
        # (an open hold has released nothing: a release closes it). No holds, no query.
        its_holds = [pk for (its_shop, _ref), pk in holds.items() if its_shop == shop_id]
        left = dict(CreditHold.objects.filter(pk__in=its_holds, status=CreditHold.Status.OPEN)
                    .values_list("pk", F("amount") - F("used")))
        paid, total, from_holds = [], 0, []
        for message, cost, reason, cycle in wanted[shop_id]:
            hold = holds.get((shop_id, message.batch_ref))
            if hold in left and left[hold] >= cost:
                left[hold] -= cost
                from_holds.append((message, cost, reason, cycle, hold))
            elif balance is not None and total + cost <= balance:
                paid.append((message, cost, reason, cycle))
                total += cost
            else:
                unpaid.add(message.pk)
        if from_holds:
            account_id = CreditAccount.objects.filter(shop_id=shop_id).values_list("pk", flat=True).get()
            used: dict[int, int] = defaultdict(int)
            for message, cost, reason, cycle, hold in from_holds:
                with translation.override(message.shop.language):
                    reason = _("%(reason)s, paid from held credits") % {"reason": reason}
                # The credits left the balance when the hold was taken: this row moves nothing.
                entries.append(LedgerEntry(shop_id=shop_id, account_id=account_id, kind=EntryKind.CHARGE, amount=0,
                                           balance_after=balance, message_id=message.pk, cycle=cycle, hold_id=hold,
                                           reason=reason))
                charged_by_cost[cost].append(message.pk)
                message.credits_charged = cost
                used[hold] += cost
            for hold, amount in used.items():
                CreditHold.objects.filter(pk=hold).update(used=F("used") + amount)
        if not total:
            continue
        account = _debit(shop_id=shop_id, amount=total)  # cannot fail: the row is locked and the balance read
        running = account.balance + total
        for message, cost, reason, cycle in paid:
            running -= cost
            entries.append(LedgerEntry(shop_id=shop_id, account_id=account.pk, kind=EntryKind.CHARGE, amount=-cost,
                                       balance_after=running, message_id=message.pk, cycle=cycle, reason=reason))
            charged_by_cost[cost].append(message.pk)
            message.credits_charged = cost
    LedgerEntry.objects.bulk_create(entries)
    for cost, ids in charged_by_cost.items():
        Message.objects.filter(pk__in=ids).update(credits_charged=cost)
    return unpaid


def messages_refund(*, messages: list[Message], reason: str) -> set[int]:
    """Give back the charge of each message's open cycle; returns the ids refunded. A message
    with nothing to refund (never charged, or refunded already) is skipped, so refunding twice
    refunds once."""
    ids = [m.pk for m in messages]
    charges = {}
    for message_id, cycle, amount in (LedgerEntry.objects.filter(message_id__in=ids, kind=EntryKind.CHARGE)
                                      .values_list("message_id", "cycle", "amount")):
        if message_id not in charges or cycle > charges[message_id][0]:
            charges[message_id] = (cycle, -amount)  # the latest cycle's charge
    from_holds = [pk for pk, (_cycle, amount) in charges.items() if amount == 0]
    if from_holds:  # paid from a hold (a row of 0): what it cost is on the message; it goes back to the balance
        for pk, cost in Message.objects.filter(pk__in=from_holds).values_list("pk", "credits_charged"):
            charges[pk] = (charges[pk][0], cost)
    refunded = set(LedgerEntry.objects.filter(message_id__in=ids, kind=EntryKind.REFUND)
                   .values_list("message_id", "cycle"))
    due: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for message in messages:
        if message.pk in charges and charges[message.pk][1] > 0 and (message.pk, charges[message.pk][0]) not in refunded:
            cycle, amount = charges[message.pk]
            due[message.shop_id].append((message.pk, cycle, amount))
    if not due:
        return set()
    try:
        with transaction.atomic():
            entries = []
            for shop_id in sorted(due):
                total = sum(amount for _pk, _cycle, amount in due[shop_id])
                account = _credit(shop_id=shop_id, amount=total)
                running = account.balance - total
                for message_id, cycle, amount in due[shop_id]:
                    running += amount
                    entries.append(LedgerEntry(shop_id=shop_id, account_id=account.pk, kind=EntryKind.REFUND,
                                               amount=amount, balance_after=running, message_id=message_id,
                                               cycle=cycle, reason=reason[:500]))
            LedgerEntry.objects.bulk_create(entries)
            done = {entry.message_id for entry in entries}
            Message.objects.filter(pk__in=done).update(credits_charged=0)
    except IntegrityError:
        if len(messages) == 1:
            return set()  # a concurrent refund of the same cycle won
        return set().union(*(messages_refund(messages=[m], reason=reason) for m in messages))
    for message in messages:
        if message.pk in done:
            message.credits_charged = 0
    return done


# --- holds: credits set aside for a batch of messages ------------------------------------------


class InsufficientCredits(ValidationError):
    """The balance cannot pay for what was asked; nothing was taken."""


def credits_hold(*, shop: Shop, amount: int, reference: str, reason: str = "", user=None) -> CreditHold:
    """Set ``amount`` credits aside for the messages whose ``batch_ref`` is ``reference``. Runs in
    the caller's transaction (the caller writes its batch with it, all or nothing); raises
    ``InsufficientCredits`` when the balance cannot cover it, having taken nothing."""
    if amount <= 0:
        raise ValidationError(_("A hold sets credits aside: give a positive number."), code="not_positive")
    with transaction.atomic():
        account = _debit(shop_id=shop.pk, amount=amount)
        if account is None:
            balance = CreditAccount.objects.filter(shop=shop).values_list("balance", flat=True).first() or 0
            raise InsufficientCredits(
                _("This costs %(cost)s credits and the balance is %(balance)s.") % {
                    "cost": f"{amount:,}", "balance": f"{balance:,}"}, code="insufficient_credits")
        hold = CreditHold.objects.create(shop=shop, reference=reference, amount=amount)
        _entry(account, kind=EntryKind.HOLD, amount=-amount, hold=hold, reason=reason[:500], user=user)
    return hold


def hold_release(*, hold: CreditHold, reason: str = "", user=None) -> int:
    """Close ``hold`` and give back what its messages did not use, in one RELEASE row; returns how
    much. A closed hold releases nothing (a second call is harmless); a message charged later is
    paid from the balance."""
    with transaction.atomic():
        _locked_balance(hold.shop_id)  # charges from the hold take this lock too: none in between
        left = CreditHold.objects.filter(pk=hold.pk, status=CreditHold.Status.OPEN).values_list(
            F("amount") - F("used"), flat=True).first()  # an open hold has released nothing yet
        if left is None:
            return 0
        CreditHold.objects.filter(pk=hold.pk).update(status=CreditHold.Status.CLOSED, released=F("released") + left,
                                                     closed_at=timezone.now())
        if left:
            account = _credit(shop_id=hold.shop_id, amount=left)
            _entry(account, kind=EntryKind.RELEASE, amount=left, hold_id=hold.pk, reason=reason[:500], user=user)
    hold.refresh_from_db()
    return left


# --- bonuses and adjustments -------------------------------------------------------------------


@transaction.atomic
def credits_grant_bonus(*, shop: Shop, amount: int, reason: str = "", user=None) -> LedgerEntry:
    """Free credits (a welcome gift, a goodwill gesture)."""
    if amount <= 0:
        raise ValidationError(_("A bonus adds credits: give a positive number."), code="not_positive")
    account = _credit(shop_id=shop.pk, amount=amount)
    return _entry(account, kind=EntryKind.BONUS, amount=amount, reason=reason[:500], user=user)


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
    return _entry(account, kind=EntryKind.ADJUSTMENT, amount=amount, reason=reason[:500], user=user)


def account_set_threshold(*, account: CreditAccount, threshold: int) -> CreditAccount:
    with transaction.atomic():
        CreditAccount.objects.filter(pk=account.pk).update(low_balance_threshold=threshold)
        CreditAccount.objects.filter(pk=account.pk, low_balance_armed=False, balance__gte=threshold).update(
            low_balance_armed=True)
    account.refresh_from_db()
    return account
