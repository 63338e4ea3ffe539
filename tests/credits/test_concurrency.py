"""Concurrent charges on PostgreSQL: the balance never goes below zero and the ledger matches."""

import threading

import pytest
from django.db import connection

from credits import purchases
from credits.models import CreditAccount, EntryKind, LedgerEntry
from tests.factories import make_shop

from .helpers import assert_consistent, balance, bare_message, charge, refund

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run_at_once(targets):
    """Run every callable in its own thread, released together; each closes its connection."""
    barrier = threading.Barrier(len(targets))
    results, errors = [None] * len(targets), []

    def worker(index, target):
        try:
            barrier.wait(timeout=10)
            results[index] = target()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_twenty_threads_charging_one_account(require_postgres):
    shop = make_shop(credits=12 * 7 + 5)  # pays for 7 of 20 SMS
    # a low-balance alert would be one more SMS to charge; this test is about the race alone
    CreditAccount.objects.filter(shop=shop).update(low_balance_threshold=0)
    messages = [bare_message(shop, to=f"+1202555{1000 + i}") for i in range(20)]
    results = run_at_once([lambda m=m: charge(m) for m in messages])
    assert results.count(True) == 7 and results.count(False) == 13
    assert balance(shop) == 5
    assert LedgerEntry.objects.filter(shop=shop, kind=EntryKind.CHARGE).count() == 7
    assert_consistent(shop)


def test_twenty_threads_charging_and_refunding_one_message(require_postgres):
    shop = make_shop(credits=1000)
    message = bare_message(shop)
    results = run_at_once([lambda: charge(message) for _ in range(20)])
    assert all(results)
    assert balance(shop) == 988  # charged once
    refunds = run_at_once([lambda: refund(message, reason="race") for _ in range(20)])
    assert refunds.count(True) == 1
    assert balance(shop) == 1000
    assert_consistent(shop)


def test_purchase_confirmed_by_twenty_webhooks_at_once_is_credited_once(require_postgres):
    from credits.models import Purchase

    shop = make_shop()  # a custom amount: a transactional test's flush removed the packs the migration made
    purchase = purchases.purchase_create(shop=shop, method="bank_transfer", credits=1000)
    results = run_at_once([lambda: purchases.purchase_confirm(purchase=Purchase.objects.get(pk=purchase.pk),
                                                             via="webhook") for _ in range(20)])
    assert results.count(True) == 1
    assert balance(shop) == 1000
    assert_consistent(shop)
