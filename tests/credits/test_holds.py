"""Credits held for a bulk send: taken from the balance at once, its messages paid from it,
refunds back to the balance, the rest released once; balance == sum(ledger) throughout."""

import pytest
from django.core.management import call_command

from credits import ledger
from credits.models import CreditHold, EntryKind, LedgerEntry
from tests.factories import make_shop

from .helpers import assert_consistent, balance, bare_message, charge, kinds, refund

pytestmark = pytest.mark.django_db


def test_a_hold_debits_the_balance_in_one_ledger_row():
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=60, reference="bulk:1", reason="Bulk send #1")
    assert balance(shop) == 40
    entry = LedgerEntry.objects.get(hold=hold)
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.HOLD, -60, 40)
    assert_consistent(shop)


def test_a_hold_the_balance_cannot_cover_takes_nothing():
    shop = make_shop(credits=50)
    with pytest.raises(ledger.InsufficientCredits):
        ledger.credits_hold(shop=shop, amount=60, reference="bulk:1")
    assert balance(shop) == 50
    assert not CreditHold.objects.exists() and kinds(shop) == ["bonus"]


def test_messages_of_the_batch_are_paid_from_the_hold_and_the_rest_released():
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=36, reference="bulk:1")
    first, second = (bare_message(shop, batch_ref="bulk:1") for _ in range(2))
    other = bare_message(shop)  # not in the batch: from the balance
    assert charge(first) and charge(second) and charge(other)
    assert balance(shop) == 64 - 12
    hold.refresh_from_db()
    assert hold.used == 24 and hold.remaining == 12
    row = LedgerEntry.objects.get(message=first)
    assert (row.kind, row.amount, row.hold_id) == (EntryKind.CHARGE, 0, hold.pk)
    first.refresh_from_db()
    assert first.credits_charged == 12
    assert charge(first)  # charged once
    hold.refresh_from_db()
    assert hold.used == 24
    assert ledger.hold_release(hold=hold, reason="finished") == 12
    assert ledger.hold_release(hold=hold) == 0  # once
    assert balance(shop) == 64
    assert kinds(shop)[-1] == EntryKind.RELEASE
    assert_consistent(shop)
    call_command("audit_credits")


def test_a_refund_of_a_held_charge_goes_back_to_the_balance_once():
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=24, reference="bulk:1")
    message = bare_message(shop, batch_ref="bulk:1")
    assert charge(message)
    assert refund(message, reason="refused") and not refund(message, reason="refused")
    assert balance(shop) == 76 + 12
    assert ledger.hold_release(hold=hold) == 12
    assert balance(shop) == 100 - 0  # the refunded text cost nothing in the end
    assert_consistent(shop)
    call_command("audit_credits")


def test_a_message_the_hold_cannot_cover_is_paid_from_the_balance():
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=12, reference="bulk:1")
    long_one = bare_message(shop, batch_ref="bulk:1", segments=2)  # 24 > the 12 held
    assert charge(long_one)
    assert balance(shop) == 88 - 24
    hold.refresh_from_db()
    assert hold.used == 0
    ledger.hold_release(hold=hold)
    late = bare_message(shop, batch_ref="bulk:1")  # after the release: the balance pays
    assert charge(late)
    assert balance(shop) == 100 - 24 - 12
    assert_consistent(shop)


def test_a_hold_of_another_shop_pays_nothing():
    shop, other = make_shop(credits=100), make_shop(credits=100)
    ledger.credits_hold(shop=other, amount=50, reference="bulk:1")
    message = bare_message(shop, batch_ref="bulk:1")
    assert charge(message)
    assert balance(shop) == 88 and balance(other) == 50
