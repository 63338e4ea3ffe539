"""Credits held for a bulk send: taken from the balance at once, its messages paid from it,
refunds back to the balance, the rest released once; balance == sum(ledger) throughout."""

import pytest
from django.core.management import call_command

from credits import ledger
from credits.models import CreditHold, EntryKind, LedgerEntry
from tests.factories import make_shop

from .helpers import assert_consistent, balance, bare_message, charge, kinds, refund, refusal

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


def test_a_hold_must_be_positive_and_says_what_the_balance_is_when_it_cannot_pay():
    shop = make_shop(credits=1500)
    richer = make_shop(credits=9000)
    for amount in (0, -5):
        assert refusal(lambda: ledger.credits_hold(shop=shop, amount=amount, reference="bulk:1")) == (
            "not_positive", "A hold sets credits aside: give a positive number.")
    assert refusal(lambda: ledger.credits_hold(shop=shop, amount=2000, reference="bulk:1")) == (
        "insufficient_credits", "This costs 2,000 credits and the balance is 1,500.")
    empty = make_shop()
    assert refusal(lambda: ledger.credits_hold(shop=empty, amount=2000, reference="bulk:1"))[1] == (
        "This costs 2,000 credits and the balance is 0.")
    assert ledger.credits_hold(shop=richer, amount=1, reference="bulk:1").amount == 1  # one credit is a hold
    assert not CreditHold.objects.filter(shop=shop).exists()


def test_a_hold_and_its_release_record_who_and_why_cut_to_the_field(admin_user):
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=30, reference="bulk:1", reason="r" * 600, user=admin_user)
    assert ledger.hold_release(hold=hold, reason="s" * 600, user=admin_user) == 30
    taken, given = LedgerEntry.objects.filter(hold=hold).order_by("pk")
    assert [(row.kind, row.amount, row.created_by, row.reason) for row in (taken, given)] == [
        (EntryKind.HOLD, -30, admin_user, "r" * 500), (EntryKind.RELEASE, 30, admin_user, "s" * 500)]


def test_a_release_closes_only_its_own_hold_and_says_when(admin_user):
    import datetime as dt

    import time_machine

    shop = make_shop(credits=100)
    other = ledger.credits_hold(shop=shop, amount=30, reference="bulk:1")  # the older open hold
    mine = ledger.credits_hold(shop=shop, amount=20, reference="bulk:2")
    at = dt.datetime(2026, 5, 4, 10, 30, tzinfo=dt.UTC)
    with time_machine.travel(at, tick=False):
        assert ledger.hold_release(hold=mine) == 20
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.status, mine.released, mine.closed_at) == (CreditHold.Status.CLOSED, 20, at)
    assert (other.status, other.released, other.closed_at) == (CreditHold.Status.OPEN, 0, None)
    assert ledger.hold_release(hold=other) == 30
    assert balance(shop) == 100
    assert_consistent(shop)


def test_a_hold_pays_until_what_is_left_no_longer_covers_a_text(django_assert_max_num_queries):
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=30, reference="bulk:1")  # 2 texts of 12, and 6 over
    batch = [bare_message(shop, batch_ref="bulk:1") for _ in range(3)]
    # in one transaction: drawing more than the hold has would fail its CHECK and be retried text by text
    with django_assert_max_num_queries(14):
        assert ledger.messages_charge(messages=batch) == set()
    assert [LedgerEntry.objects.get(message=m).hold_id for m in batch] == [hold.pk, hold.pk, None]
    assert balance(shop) == 70 - 12
    hold.refresh_from_db()
    assert hold.used == 24
    # what is left is the hold less what it paid: 6, too little for one more
    late = bare_message(shop, batch_ref="bulk:1")
    assert charge(late) and LedgerEntry.objects.get(message=late).hold_id is None
    assert ledger.hold_release(hold=hold) == 6
    assert_consistent(shop)


def test_a_hold_closed_after_the_batch_was_read_pays_nothing():
    """_open_holds reads the holds before the account is locked; a release may close one in between."""
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=50, reference="bulk:1")
    message = bare_message(shop, batch_ref="bulk:1")
    holds = ledger._open_holds([message])
    assert holds == {(shop.pk, "bulk:1"): hold.pk}
    ledger.hold_release(hold=hold)
    wanted = {shop.pk: [(message, 12, "reason", 0)]}
    assert ledger._charge_shops(wanted, holds=holds) == set()
    row = LedgerEntry.objects.get(message=message)
    assert (row.amount, row.hold_id) == (-12, None)  # from the balance
    assert_consistent(shop)


def test_a_text_paid_from_a_hold_sent_again_is_refunded_in_its_new_cycle():
    shop = make_shop(credits=100)
    ledger.credits_hold(shop=shop, amount=48, reference="bulk:1")
    message = bare_message(shop, batch_ref="bulk:1")
    assert charge(message) and refund(message, reason="failed")
    assert charge(message)  # sent again: a new cycle, paid from the hold again
    assert refund(message, reason="failed again")
    assert list(LedgerEntry.objects.filter(message=message).order_by("pk").values_list("kind", "cycle", "amount")) == [
        (EntryKind.CHARGE, 0, 0), (EntryKind.REFUND, 0, 12), (EntryKind.CHARGE, 1, 0), (EntryKind.REFUND, 1, 12)]
    assert_consistent(shop)


def test_a_hold_and_release_given_no_reason_record_none():
    shop = make_shop(credits=100)
    hold = ledger.credits_hold(shop=shop, amount=10, reference="bulk:1")
    ledger.hold_release(hold=hold)
    assert list(LedgerEntry.objects.filter(hold=hold).order_by("pk").values_list("kind", "reason")) == [
        (EntryKind.HOLD, ""), (EntryKind.RELEASE, "")]


def test_a_charge_to_a_number_without_a_calling_code_says_so():
    shop = make_shop(credits=100)
    message = bare_message(shop, to="not a number")
    assert charge(message)
    assert LedgerEntry.objects.get(message=message).reason == "1 SMS part to +? at 30 credits"
