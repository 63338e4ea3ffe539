"""The account and its append-only ledger: charges, refunds, bonuses, adjustments, the audit."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models import F
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from credits import ledger, purchases
from credits.models import CreditAccount, EntryKind, LedgerEntry
from smsnotify.models import Message
from tests.factories import make_shop

from .helpers import assert_consistent, balance, bare_message, charge, kinds, net_charged, refund

pytestmark = pytest.mark.django_db


def test_every_shop_gets_an_account_at_creation(db):
    shop = make_shop()
    account = CreditAccount.objects.get(shop=shop)
    assert (account.balance, account.low_balance_threshold, account.low_balance_armed) == (0, 50, True)


def test_charge_debits_records_and_marks_the_message(db):
    shop = make_shop(credits=100)
    message = bare_message(shop, segments=2)
    assert charge(message)
    message.refresh_from_db()
    assert message.credits_charged == 24
    assert balance(shop) == 76
    entry = LedgerEntry.objects.get(message=message)
    assert (entry.kind, entry.amount, entry.balance_after, entry.cycle) == (EntryKind.CHARGE, -24, 76, 0)
    assert_consistent(shop)


def test_charging_twice_charges_once(db):
    shop = make_shop(credits=100)
    message = bare_message(shop)
    assert charge(message)
    assert charge(message)  # a retried task, a reconciled resend
    assert balance(shop) == 88
    assert kinds(shop, message) == [EntryKind.CHARGE]


def test_insufficient_balance_charges_nothing(db):
    shop = make_shop(credits=11)
    message = bare_message(shop)
    assert not charge(message)
    assert balance(shop) == 11
    assert kinds(shop, message) == []
    message.refresh_from_db()
    assert message.credits_charged == 0


def test_refund_gives_back_exactly_the_charge_once(db):
    shop = make_shop(credits=100)
    message = bare_message(shop, to="+447911123456")  # international: 30
    charge(message)
    assert refund(message, reason="refused")
    assert not refund(message, reason="again")
    assert balance(shop) == 100
    assert kinds(shop, message) == [EntryKind.CHARGE, EntryKind.REFUND]
    message.refresh_from_db()
    assert message.credits_charged == 0
    assert_consistent(shop)


def test_refund_of_an_uncharged_message_is_nothing(db):
    shop = make_shop(credits=100)
    assert not refund(bare_message(shop), reason="never charged")
    assert balance(shop) == 100


def test_refund_uses_the_price_charged_not_todays(db):
    from credits.models import PricingSettings

    shop = make_shop(credits=100)
    message = bare_message(shop)
    charge(message)
    pricing = PricingSettings.load()
    pricing.credits_per_segment_domestic = 50
    pricing.save()
    refund(message, reason="refused")
    assert balance(shop) == 100


def test_a_message_sent_again_after_a_refund_is_charged_in_a_new_cycle(db):
    shop = make_shop(credits=100)
    message = bare_message(shop)
    charge(message)
    refund(message, reason="refused")
    assert charge(message)
    assert charge(message)  # still once in this cycle
    cycles = list(LedgerEntry.objects.filter(message=message).order_by("pk").values_list("kind", "cycle"))
    assert cycles == [(EntryKind.CHARGE, 0), (EntryKind.REFUND, 0), (EntryKind.CHARGE, 1)]
    assert balance(shop) == 88
    assert net_charged(message) == 12


def test_database_refuses_a_second_charge_in_one_cycle(db):
    shop = make_shop(credits=100)
    message = bare_message(shop)
    charge(message)
    account = CreditAccount.objects.get(shop=shop)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(shop=shop, account=account, kind=EntryKind.CHARGE, amount=-12, balance_after=76,
                                   message=message, cycle=0)


def test_database_refuses_a_negative_balance(db):
    shop = make_shop(credits=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(shop=shop).update(balance=F("balance") - 6)
    assert balance(shop) == 5


@pytest.mark.parametrize("kind,amount,extra", [
    (EntryKind.CHARGE, 12, {"with_message": True}),  # a charge adds nothing
    (EntryKind.CHARGE, -12, {}),  # a charge names its message
    (EntryKind.REFUND, -12, {"with_message": True}),
    (EntryKind.BONUS, -5, {}),
    (EntryKind.PURCHASE, 100, {}),  # a purchase names its purchase
    (EntryKind.ADJUSTMENT, 10, {}),  # an adjustment gives its reason
])
def test_database_refuses_entries_of_the_wrong_shape(db, kind, amount, extra):
    shop = make_shop()
    account = CreditAccount.objects.get(shop=shop)
    message = bare_message(shop) if extra.get("with_message") else None
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(shop=shop, account=account, kind=kind, amount=amount, balance_after=100,
                                   message=message)


def test_ledger_rows_are_append_only(db):
    shop = make_shop(credits=10)
    entry = LedgerEntry.objects.get(shop=shop)
    entry.amount = 1_000_000
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_messages_with_ledger_rows_cannot_be_deleted_alone(db):
    shop = make_shop(credits=100)
    message = bare_message(shop)
    charge(message)
    with pytest.raises(Exception), transaction.atomic():
        message.delete()
    assert Message.objects.filter(pk=message.pk).exists()


def test_operator_adjusts_up_and_down_with_a_reason(db, admin_user):
    shop = make_shop(credits=100)
    entry = ledger.account_adjust(shop=shop, amount=-40, reason="duplicate bonus", user=admin_user)
    assert (entry.kind, entry.amount, entry.balance_after, entry.actor) == (EntryKind.ADJUSTMENT, -40, 60, "admin")
    ledger.account_adjust(shop=shop, amount=15, reason="goodwill", user=admin_user)
    assert balance(shop) == 75
    assert_consistent(shop)


@pytest.mark.parametrize("amount,reason", [(10, ""), (10, "   "), (0, "nothing"), (-101, "too much")])
def test_adjustments_need_a_reason_and_never_go_below_zero(db, admin_user, amount, reason):
    shop = make_shop(credits=100)
    with pytest.raises(ValidationError):
        ledger.account_adjust(shop=shop, amount=amount, reason=reason, user=admin_user)
    assert balance(shop) == 100
    assert kinds(shop) == [EntryKind.BONUS]


def test_audit_passes_on_a_consistent_ledger(db, capsys):
    shop = make_shop(credits=100)
    charge(bare_message(shop))
    call_command("audit_credits")
    assert "Credits audit OK" in capsys.readouterr().out


def test_audit_fails_on_a_tampered_balance(db):
    make_shop(credits=100, name="Good")  # a consistent shop beside it must not be reported
    bad = make_shop(credits=100, name="Tampered")
    CreditAccount.objects.filter(shop=bad).update(balance=F("balance") + 500)  # not through the ledger
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_credits")
    report = str(excinfo.value)
    assert "Tampered" in report and "balance 600 but the ledger sums to 100 (difference +500)" in report
    assert "Good" not in report


def test_audit_exits_with_status_1_from_the_command_line(db):
    """manage.py turns a CommandError into sys.exit(returncode): cron and CI see the failure."""
    shop = make_shop(credits=100)
    CreditAccount.objects.filter(shop=shop).update(balance=7)
    with pytest.raises(SystemExit) as excinfo:
        from django.core.management import ManagementUtility

        ManagementUtility(["manage.py", "audit_credits", "--shop", shop.slug]).execute()
    assert excinfo.value.code == 1


def test_audit_finds_a_broken_balance_after_chain(db):
    shop = make_shop(credits=100)
    account = CreditAccount.objects.get(shop=shop)
    LedgerEntry.objects.bulk_create([LedgerEntry(shop=shop, account=account, kind=EntryKind.BONUS, amount=10,
                                                 balance_after=999)])
    CreditAccount.objects.filter(shop=shop).update(balance=110)
    with pytest.raises(CommandError, match="balance_after 999, the running sum is 110"):
        call_command("audit_credits")


# --- the invariant, under any sequence of operations -------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("bonus"), st.integers(min_value=1, max_value=200)),
        st.tuples(st.just("charge"), st.sampled_from(["+12025550123", "+447911123456"]), st.integers(1, 4)),
        st.tuples(st.just("refund"), st.integers(min_value=0, max_value=30)),
        st.tuples(st.just("recharge"), st.integers(min_value=0, max_value=30)),
        st.tuples(st.just("adjust"), st.integers(min_value=-150, max_value=150)),
        st.tuples(st.just("purchase"), st.sampled_from(["sandbox_card", "bank_transfer"])),
        st.tuples(st.just("confirm"), st.integers(min_value=0, max_value=10)),
    ),
    max_size=25,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_any_sequence_keeps_balance_equal_to_the_ledger_and_never_negative(db, ops):
    from credits.models import CreditPack, Purchase

    shop = make_shop()
    operator = None
    messages, bought, expected = [], [], 0
    for op in ops:
        kind = op[0]
        if kind == "bonus":
            ledger.credits_grant_bonus(shop=shop, amount=op[1])
            expected += op[1]
        elif kind == "charge":
            message = bare_message(shop, to=op[1], segments=op[2])
            cost = (12 if op[1].startswith("+1") else 30) * op[2]
            charged = charge(message)
            assert charged == (expected >= cost)
            expected -= cost if charged else 0
            messages.append(message)
        elif kind in ("refund", "recharge") and messages:
            message = messages[op[1] % len(messages)]
            before = net_charged(message)
            if kind == "refund":
                refund(message, reason="test")
                expected += before
            else:
                cost = message.segments * (12 if message.recipient.startswith("+1") else 30)
                if charge(message) and before == 0:
                    expected -= cost
        elif kind == "adjust" and op[1] != 0:
            if operator is None:
                from django.contrib.auth import get_user_model

                operator = get_user_model().objects.create_superuser(f"op{shop.pk}", "op@example.com", "pw")
            try:
                ledger.account_adjust(shop=shop, amount=op[1], reason="test", user=operator)
                expected += op[1]
            except ValidationError:
                assert expected + op[1] < 0
        elif kind == "purchase":
            pack = CreditPack.objects.order_by("credits").first()
            bought.append(purchases.purchase_create(shop=shop, method=op[1], pack=pack))
            expected += pack.credits if op[1] == "sandbox_card" else 0
        elif kind == "confirm" and bought:
            purchase = bought[op[1] % len(bought)]
            if purchases.purchase_confirm(purchase=purchase, via="operator"):
                expected += purchase.credits
        assert balance(shop) == expected
        assert_consistent(shop)
    for message in messages:
        message.refresh_from_db()
        assert 0 <= net_charged(message) == message.credits_charged
    paid = Purchase.objects.filter(shop=shop, status="paid")
    assert LedgerEntry.objects.filter(shop=shop, kind=EntryKind.PURCHASE).count() == paid.count()


def test_a_failing_low_balance_receiver_does_not_fail_the_charge(on_commit):
    from credits.signals import low_balance

    shop = make_shop(credits=55)

    def broken(sender, **kwargs):
        raise RuntimeError("SMTP is down")

    message = bare_message(shop)
    low_balance.connect(broken, dispatch_uid="test-broken-alert")
    try:
        with on_commit():
            assert charge(message)  # 43: crosses 50; the error is logged, not raised
    finally:
        low_balance.disconnect(dispatch_uid="test-broken-alert")
    assert net_charged(message) == 12
    assert not CreditAccount.objects.get(shop=shop).low_balance_armed


# --- the low-balance alert, and what the merchant pays for -------------------------------------


def test_raising_the_threshold_above_the_balance_keeps_the_alert_disarmed(db):
    shop = make_shop(credits=100)
    account = CreditAccount.objects.get(shop=shop)
    CreditAccount.objects.filter(pk=account.pk).update(low_balance_armed=False)
    ledger.account_set_threshold(account=account, threshold=150)
    assert (account.low_balance_threshold, account.low_balance_armed) == (150, False)


def test_lowering_the_threshold_below_the_balance_re_arms_only_this_shops_alert(db):
    shop, other = make_shop(credits=100), make_shop(credits=100)
    CreditAccount.objects.update(low_balance_armed=False)  # both alerted already
    account = CreditAccount.objects.get(shop=shop)
    ledger.account_set_threshold(account=account, threshold=100)  # balance == threshold: not below it
    assert (account.low_balance_threshold, account.low_balance_armed) == (100, True)
    other_account = CreditAccount.objects.get(shop=other)
    assert (other_account.low_balance_threshold, other_account.low_balance_armed) == (50, False)


def test_a_threshold_change_leaves_an_armed_alert_armed(db):
    shop = make_shop(credits=10)
    account = CreditAccount.objects.get(shop=shop)
    ledger.account_set_threshold(account=account, threshold=5)
    assert account.low_balance_armed


def test_crossing_the_threshold_says_which_account_how_low_and_which_threshold(db, django_capture_on_commit_callbacks):
    from credits import signals

    shop = make_shop(credits=60)
    heard = []

    def listener(sender, **kwargs):
        heard.append((sender, kwargs))

    signals.low_balance.connect(listener)
    try:
        message = bare_message(shop, segments=2)
        with django_capture_on_commit_callbacks(execute=True):
            assert charge(message)  # 60 - 2 parts goes below 50 (and the alert itself is charged after)
    finally:
        signals.low_balance.disconnect(listener)
    message.refresh_from_db()
    assert len(heard) == 1
    sender, kwargs = heard[0]
    assert sender is CreditAccount
    assert {k: kwargs[k] for k in ("shop_id", "balance", "threshold", "crossing")} == {
        "shop_id": shop.pk, "balance": 60 - message.credits_charged, "threshold": 50, "crossing": 1}
    account = CreditAccount.objects.get(shop=shop)
    assert (account.low_balance_armed, account.low_balance_alerts) == (False, 1)


def test_a_free_destination_is_sent_without_credits_and_without_a_ledger_row(db):
    from credits.models import DestinationRate

    DestinationRate.objects.create(calling_code=48, credits_per_segment=0)
    shop = make_shop()  # no credits at all
    message = bare_message(shop, to="+48601234567")
    assert charge(message)
    message.refresh_from_db()
    assert (message.credits_charged, balance(shop), LedgerEntry.objects.filter(shop=shop).count()) == (0, 0, 0)


def test_refunding_one_message_leaves_the_others_charges(db):
    shop = make_shop(credits=100)
    first, second = bare_message(shop), bare_message(shop, segments=2)
    assert charge(first) and charge(second)
    assert ledger.messages_refund(messages=[first], reason="failed") == {first.pk}
    assert first.credits_charged == 0  # the caller's object says so too
    charged_second = second.credits_charged
    third = bare_message(shop)
    assert charge(third)
    assert ledger.messages_refund(messages=[third], reason="x" * 600) == {third.pk}
    assert len(LedgerEntry.objects.get(message=third, kind=EntryKind.REFUND).reason) == 500
    untouched = bare_message(shop)  # never charged: nothing to refund, and its object is left alone
    untouched.credits_charged = 7
    assert ledger.messages_refund(messages=[untouched], reason="failed") == set()
    assert untouched.credits_charged == 7
    assert charged_second > 0
    assert ledger.messages_refund(messages=[first, second], reason="failed") == {second.pk}
    assert kinds(shop).count(EntryKind.REFUND) == 3
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.credits_charged, second.credits_charged, balance(shop)) == (0, 0, 100)
    assert_consistent(shop)


def test_a_charge_says_why_in_the_shops_language():
    polish = make_shop(credits=100, country="PL", currency="PLN", language="pl")
    english = make_shop(credits=100)
    pl_message, en_message = bare_message(polish, to="+48601234567", segments=2), bare_message(english, segments=2)
    assert charge(pl_message) and charge(en_message)
    assert LedgerEntry.objects.get(message=pl_message).reason == "2 części SMS do +48 po 12 kr. każda"
    assert LedgerEntry.objects.get(message=en_message).reason == "2 SMS parts to +1 at 12 credits each"


def test_a_text_that_cost_one_credit_gets_its_credit_back(db):
    from credits.models import DestinationRate

    DestinationRate.objects.create(calling_code=48, credits_per_segment=1)
    shop = make_shop(credits=10)
    message = bare_message(shop, to="+48601234567")
    assert charge(message) and balance(shop) == 9
    assert refund(message, reason="failed") and balance(shop) == 10


def test_refunding_a_batch_with_texts_refunded_already_is_one_transaction_not_a_retry_per_text(
        db, django_assert_max_num_queries):
    shop = make_shop(credits=1000)
    batch = [bare_message(shop) for _ in range(20)]
    assert ledger.messages_charge(messages=batch) == set()
    assert ledger.messages_refund(messages=batch[:10], reason="failed") == {m.pk for m in batch[:10]}
    with django_assert_max_num_queries(8):  # a clash with the refunded ten would retry text by text
        assert ledger.messages_refund(messages=batch, reason="failed") == {m.pk for m in batch[10:]}
    assert balance(shop) == 1000
    assert_consistent(shop)


def test_a_refund_that_meets_a_concurrent_one_refunds_the_others_and_reports_only_them(db, monkeypatch):
    """Another worker refunds the same text between this call's read and its write: the unique
    (message, kind, cycle) refuses the second refund, and the call refunds the rest one by one."""
    shop = make_shop(credits=100)
    contested, other = bare_message(shop), bare_message(shop)
    assert charge(contested) and charge(other)
    credit = ledger._credit

    def concurrent_refund_first(*, shop_id, amount):
        # The other worker's refund of ``contested`` lands just before this call writes its own.
        if not LedgerEntry.objects.filter(message=contested, kind=EntryKind.REFUND).exists():
            account = credit(shop_id=shop_id, amount=12)
            ledger._entry(account, kind=EntryKind.REFUND, amount=12, message_id=contested.pk, cycle=0)
        return credit(shop_id=shop_id, amount=amount)

    monkeypatch.setattr(ledger, "_credit", concurrent_refund_first)
    assert ledger.messages_refund(messages=[contested], reason="failed") == set()
    assert ledger.messages_refund(messages=[contested, other], reason="failed") == {other.pk}
    assert kinds(shop, contested).count(EntryKind.REFUND) == 1
    assert kinds(shop, other).count(EntryKind.REFUND) == 1
    assert balance(shop) == 100
    assert_consistent(shop)


def test_a_batch_charges_each_unpaid_text_whatever_paid_ones_come_before_it(db):
    shop = make_shop(credits=100)
    paid, unpaid = bare_message(shop), bare_message(shop)
    assert charge(paid)
    assert ledger.messages_charge(messages=[paid, unpaid]) == set()
    assert (net_charged(paid), net_charged(unpaid), balance(shop)) == (12, 12, 76)



def test_a_text_paid_from_held_credits_says_so_in_the_shops_language_and_its_object_knows_the_cost(db):
    polish = make_shop(credits=100, country="PL", currency="PLN", language="pl")
    ledger.credits_hold(shop=polish, amount=24, reference="bulk:1")
    message = bare_message(polish, to="+48601234567", batch_ref="bulk:1")
    assert charge(message) and message.credits_charged == 12  # the caller's object, not only the row
    row = LedgerEntry.objects.get(message=message)
    assert (row.amount, row.reason) == (0, "1 część SMS do +48 po 12 kr., opłacone z zarezerwowanych kredytów")


def test_a_shop_paid_wholly_from_its_hold_does_not_stop_the_next_shops_charges(db):
    held, other = make_shop(credits=100), make_shop(credits=100)  # held has the lower id: charged first
    ledger.credits_hold(shop=held, amount=12, reference="bulk:1")
    from_hold, from_balance = bare_message(held, batch_ref="bulk:1"), bare_message(other)
    assert ledger.messages_charge(messages=[from_hold, from_balance]) == set()
    assert (net_charged(from_hold), net_charged(from_balance), balance(other)) == (0, 12, 88)


def test_a_charge_that_meets_a_concurrent_one_charges_the_others_and_reports_only_the_unpaid(db, monkeypatch):
    """Another worker charges a text between this call's read and its write (only possible when a
    claim was broken by hand): the unique (message, kind, cycle) refuses the second charge, and the
    call charges the rest one by one."""
    shop = make_shop(credits=42)
    hold = ledger.credits_hold(shop=shop, amount=12, reference="bulk:1")  # pays for ``other``: 30 left
    too_long, contested = bare_message(shop, segments=4), bare_message(shop)
    other = bare_message(shop, batch_ref="bulk:1")
    locked_balance = ledger._locked_balance

    def concurrent_charge_first(shop_id):
        if not LedgerEntry.objects.filter(message=contested, kind=EntryKind.CHARGE).exists():
            account = ledger._debit(shop_id=shop_id, amount=12)
            ledger._entry(account, kind=EntryKind.CHARGE, amount=-12, message_id=contested.pk, cycle=0)
        return locked_balance(shop_id)

    monkeypatch.setattr(ledger, "_locked_balance", concurrent_charge_first)
    assert ledger.messages_charge(messages=[too_long, contested, other]) == {too_long.pk}  # 48 > what is left
    assert [kinds(shop, m).count(EntryKind.CHARGE) for m in (too_long, contested, other)] == [0, 1, 1]
    assert LedgerEntry.objects.get(message=other).hold_id == hold.pk  # one by one, still from its hold
    assert balance(shop) == 42 - 12 - 12
    assert_consistent(shop)


def test_credits_given_back_re_arm_the_alert_from_the_threshold_itself(db, admin_user):
    shop = make_shop(credits=100)
    CreditAccount.objects.filter(shop=shop).update(low_balance_threshold=50)
    ledger.account_adjust(shop=shop, amount=-60, reason="test", user=admin_user)  # 40: below, disarmed
    assert not CreditAccount.objects.get(shop=shop).low_balance_armed
    ledger.credits_grant_bonus(shop=shop, amount=10)  # exactly the threshold: armed again
    assert CreditAccount.objects.get(shop=shop).low_balance_armed


def test_a_shop_without_an_account_gets_one_when_credited(db):
    shop = make_shop()
    CreditAccount.objects.filter(shop=shop).delete()
    ledger.credits_grant_bonus(shop=shop, amount=30)
    assert balance(shop) == 30 and CreditAccount.objects.filter(shop=shop).count() == 1


def test_every_balance_change_stamps_the_account(db):
    import datetime as dt

    import time_machine

    shop = make_shop(credits=100)
    credited, debited = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC), dt.datetime(2026, 5, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(credited, tick=False):
        ledger.credits_grant_bonus(shop=shop, amount=5)
    assert CreditAccount.objects.get(shop=shop).updated_at == credited
    with time_machine.travel(debited, tick=False):
        assert charge(bare_message(shop))
    assert CreditAccount.objects.get(shop=shop).updated_at == debited


def test_each_cycle_of_a_text_sent_again_is_refunded_in_its_turn(db):
    shop = make_shop(credits=100)
    message = bare_message(shop)
    for _cycle in range(3):
        assert charge(message) and refund(message, reason="failed")
    assert list(LedgerEntry.objects.filter(message=message, kind=EntryKind.REFUND).order_by("pk")
                .values_list("cycle", flat=True)) == [0, 1, 2]
    assert balance(shop) == 100

