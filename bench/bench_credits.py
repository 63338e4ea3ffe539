"""Charges per second on PostgreSQL: two concurrent workers charging SMS through
credits.services.charge_for_message, on one shared account and spread over 100 accounts.

Run: .venv/bin/python bench/bench_credits.py [--charges N] [--workers W]

Uses DATABASE_URL (default postgres://postgres@127.0.0.1:5432/smsnotify_bench), creating and
migrating that database when missing; it refuses the suite's "test" database. Each worker is a
process with its own connection. Messages are written before the clock starts; the timed part
is the real charge path (price lookup, conditional debit, ledger row, message update, commit).
Afterwards every account is audited (balance == sum(ledger)). Exits 1 below the target.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsnotify.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/smsnotify_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Production's shape: DEBUG off, so the connection does not record every query.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-credits-not-a-secret-" + "x" * 40)

TARGET_PER_SECOND = 2_000  # on 100 accounts
TIME_BUDGET_SECONDS = 50


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        sys.exit(f"bench_credits needs PostgreSQL; DATABASE_URL is {url!r}")
    name = parsed.path.lstrip("/")
    if name in ("test", "") or name.startswith("test_"):
        sys.exit(f"Refusing to use the database {name!r}: it belongs to the test suite. Point DATABASE_URL elsewhere.")
    admin_url = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(*, prepared: bool) -> None:
    import django

    # The production setting (README): prepared statements for a PostgreSQL reached directly.
    if prepared:
        os.environ.setdefault("DATABASE_PREPARE_THRESHOLD", "5")
    else:
        os.environ.pop("DATABASE_PREPARE_THRESHOLD", None)
    django.setup()


def prepare(accounts: int, charges: int, tag: str) -> list[int]:
    """Shops with enough credits, and one due message per charge. Returns the message ids."""
    from django.db import connection

    from credits.models import CreditAccount
    from credits.services import credits_grant_bonus
    from shop import services
    from smsnotify.models import Kind, Message, SmsSettings, Status

    shops = []
    for index in range(accounts):
        shop = services.shop_create(name=f"Bench {tag} {index}", slug=f"bench-{tag.replace(' ', '-')}-{index}")
        SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
        credits_grant_bonus(shop=shop, amount=12 * charges, reason="benchmark")
        shops.append(shop)
    CreditAccount.objects.filter(shop__in=shops).update(low_balance_threshold=0)  # alerts are not measured here
    rows = [Message(shop=shops[i % accounts], kind=Kind.MANUAL, recipient=f"+1202555{i % 10000:04d}", body="bench",
                    segments=1, status=Status.SENDING) for i in range(charges)]
    created = Message.objects.bulk_create(rows, batch_size=2000)
    connection.close()
    return [m.pk for m in created]


def worker(ids: list[int], barrier, results) -> None:
    from django.db import connection

    from credits.services import charge_for_message
    from smsnotify.models import Message

    messages = list(Message.objects.select_related("shop").filter(pk__in=ids).order_by("pk"))
    barrier.wait()
    start = time.perf_counter()
    charged = sum(charge_for_message(message) for message in messages)
    end = time.perf_counter()
    connection.close()
    results.put((start, end, charged))


def run(label: str, accounts: int, charges: int, workers: int) -> float:
    from django.db import connections

    ids = prepare(accounts, charges, label)
    connections.close_all()  # children must not share the parent's connection
    context = mp.get_context("fork")
    barrier, results = context.Barrier(workers), context.Queue()
    chunks = [ids[i::workers] for i in range(workers)]
    processes = [context.Process(target=worker, args=(chunk, barrier, results)) for chunk in chunks]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=TIME_BUDGET_SECONDS) for _ in processes]
    for process in processes:
        process.join()
    elapsed = max(end for _, end, _ in outcomes) - min(start for start, _, _ in outcomes)
    charged = sum(count for _, _, count in outcomes)
    if charged != charges:
        sys.exit(f"{label}: only {charged} of {charges} charges went through")
    rate = charged / elapsed
    print(f"{label:>13}: {charged:,} charges by {workers} workers in {elapsed:.2f} s = {rate:,.0f} charges/s")
    return rate


def audit() -> None:
    from django.core.management import call_command

    call_command("audit_credits", stdout=open(os.devnull, "w"))  # raises CommandError on any mismatch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=12_000, help="charges per scenario (default 12000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-prepare", action="store_true",
                        help="Django's default: no server-side prepared statements (safe behind any pooler)")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    setup_django(prepared=not args.no_prepare)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:  # a dedicated database: start from empty tables every run
        cursor.execute("TRUNCATE shop_shop RESTART IDENTITY CASCADE")
    print(f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}, "
          f"{args.workers} worker processes, prepared statements {'off' if args.no_prepare else 'on'}")

    started = time.monotonic()
    one = run("1 account", 1, args.charges, args.workers)
    many = run("100 accounts", 100, args.charges, args.workers)
    audit()
    print(f"audit_credits: every balance equals its ledger ({time.monotonic() - started:.1f} s in all)")
    passed = many >= TARGET_PER_SECOND
    print(f"{'PASS' if passed else 'FAIL'}: target >= {TARGET_PER_SECOND:,} charges/s on 100 accounts "
          f"(1 account: {one:,.0f}/s, contended on one row lock)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
