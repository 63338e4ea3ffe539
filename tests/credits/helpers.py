"""Helpers for the credits tests."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from credits.ledger import messages_charge, messages_refund
from credits.models import CreditAccount, EntryKind, LedgerEntry
from smsnotify.models import Kind, Message


def balance(shop) -> int:
    return CreditAccount.objects.get(shop=shop).balance


def ledger_sum(shop) -> int:
    return LedgerEntry.objects.filter(shop=shop).aggregate(total=Sum("amount"))["total"] or 0


def assert_consistent(shop) -> None:
    """The invariant: balance == sum(ledger) >= 0, and every balance_after is its running sum."""
    account = CreditAccount.objects.get(shop=shop)
    assert account.balance >= 0
    assert account.balance == ledger_sum(shop)
    running = 0
    for amount, after in LedgerEntry.objects.filter(account=account).order_by("pk").values_list("amount", "balance_after"):
        running += amount
        assert after == running


def kinds(shop, message=None) -> list[str]:
    rows = LedgerEntry.objects.filter(shop=shop).order_by("pk")
    if message is not None:
        rows = rows.filter(message=message)
    return list(rows.values_list("kind", flat=True))


def net_charged(message) -> int:
    return -(LedgerEntry.objects.filter(message=message, kind__in=[EntryKind.CHARGE, EntryKind.REFUND])
             .aggregate(total=Sum("amount"))["total"] or 0)


def bare_message(shop, *, to="+12025550123", segments=1, **fields) -> Message:
    """A message row without the outbox (no doorbell): for charging directly. Its body has
    ``segments`` GSM-7 parts (the charge counts the text it will send)."""
    body = "x" * (153 * segments if segments > 1 else 1)
    return Message.objects.create(shop=shop, kind=Kind.MANUAL, recipient=to, body=body, segments=segments, **fields)


def charge(message) -> bool:
    """Charge one message; True when it is paid for."""
    return message.pk not in messages_charge(messages=[message])


def refund(message, *, reason: str) -> bool:
    """Refund one message; True when something was given back."""
    return message.pk in messages_refund(messages=[message], reason=reason)


def refusal(call) -> tuple[str, str]:
    """The code and the message of the ValidationError ``call()`` raises."""
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.code, refused.value.message

