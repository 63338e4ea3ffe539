"""Bulk fan-out of 100,000 customers: seconds and peak memory, against the naive approach.

A bulk send to 100,000 customers is planned (the confirmation page) and confirmed (each text
rendered and priced, recipients frozen with their texts, credits held), then its fan-out
(``campaigns.bulk.bulk_fan_out``, what the Celery task runs) writes the messages in chunks of
1,000, one INSERT of messages and one of events per chunk (arrays sent in binary), and rings
the workers (Redis). The naive approach, as this project did before: a loop of ``message_schedule`` per
customer in one transaction (one lookup, one INSERT of the message and one of its event each).
Each runs in a process of its own, so its peak memory (max RSS) is its own.

    bulk fan-out of 100,000 customers: target <= 10 s and <= 300 MB peak

Run: make bench (or DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/bench_bulk.py).
It works in a database of its own (<name>_bulk, dropped and made again) and Redis database 15.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 10.0
TARGET_MB = 300.0


def _urls() -> tuple[str, str, str]:
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database.startswith("postgres") or not redis.startswith("redis"):
        sys.exit("bench_bulk needs DATABASE_URL=postgres://… and REDIS_URL=redis://… (make bench sets them).")
    parts = urlsplit(database)
    name = (parts.path.lstrip("/") or "bench") + "_bulk"
    return urlunsplit(parts._replace(path="/" + name)), name, urlunsplit(urlsplit(redis)._replace(path="/15"))


def _env() -> dict:
    database, _name, redis = _urls()
    return {"DATABASE_URL": database, "REDIS_URL": redis, "DEBUG": "false", "SECRET_KEY": "bench-only",
            "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "WARNING", "DATABASE_CONN_MAX_AGE": "60"}


def _django(*, child: bool = False) -> None:
    if not child:  # a child has the parent's environment already
        os.environ.update(_env())
    import django

    django.setup()


# --- the child processes: one job each, timed and measured by the parent ------------------------


def child_fan_out(bulk_id: int) -> None:
    _django(child=True)
    from campaigns.bulk import bulk_fan_out

    bulk_fan_out(bulk_id=bulk_id)


def child_naive(shop_id: int) -> None:
    """As bulk_send did before BulkSend: message_schedule per customer, in one transaction."""
    _django(child=True)
    from django.db import transaction

    from shop.models import Customer, Shop
    from smsnotify import outbox
    from smsnotify.models import Kind, Lane, Status
    from templates_sms import rendering
    from templates_sms.tokens import CUSTOM, RenderContext

    shop = Shop.objects.get(pk=shop_id)
    with transaction.atomic():
        written = []
        for customer in Customer.objects.filter(shop=shop).select_related("shop").order_by("pk"):
            text = rendering.render(BODY, RenderContext.for_customer(customer), event=CUSTOM)
            written.append(outbox.message_schedule(shop=shop, to=customer.phone, body=text, kind=Kind.BULK,
                                                   customer=customer, dedupe_key=f"naive:customer:{customer.pk}",
                                                   ring=False))
        outbox.messages_ring(message_ids=[m.pk for m in written if m.status == Status.SCHEDULED],
                             lane=Lane.MARKETING)


BODY = "Hi {firstname}, -20% on everything this weekend at our shop. Reply STOP to opt out."


def _run_child(role: str, arg: int) -> tuple[float, float]:
    """Seconds and peak MB of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    subprocess.run([sys.executable, __file__, f"--{role}", str(arg)], cwd=ROOT, env=dict(os.environ), check=True)
    seconds = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB; the largest child so far
    if peak <= before:
        print(f"note: the {role} child's peak is not above an earlier child's ({before} KiB)")
    return seconds, peak / 1024


# --- the parent --------------------------------------------------------------------------------------


def _recreate_database() -> None:
    import psycopg

    _url, name, _redis = _urls()
    maintenance = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


AREAS = [202, 212, 213, 305, 312, 415, 503, 617, 702, 713, 718, 808]


def _number(n: int) -> str:
    """The n-th of 120,000 distinct valid US numbers (555 lines, as the tests use)."""
    return f"+1{AREAS[n // 10_000]}555{n % 10_000:04d}"


def _shop_with_customers(slug: str, count: int):
    from credits.ledger import credits_grant_bonus
    from shop.models import Customer, MarketingConsent
    from shop.services import shop_create
    from smsnotify.models import SmsSettings

    shop = shop_create(name=slug.title(), slug=slug, country="US", currency="USD")
    SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
    credits_grant_bonus(shop=shop, amount=10**9, reason="bench")
    Customer.objects.bulk_create(
        [Customer(shop=shop, first_name=f"Name{n % 997}", last_name="Bench", phone=_number(n),
                  marketing_consent=MarketingConsent.GRANTED) for n in range(count)], batch_size=5000)
    return shop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--fan-out", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive-customers", type=int, default=10_000,
                        help="the naive loop runs on this many and is scaled up (it is linear: ~850 s at 100,000)")
    args = parser.parse_args()
    if args.fan_out:
        child_fan_out(args.fan_out)
        return 0
    if args.naive:
        child_naive(args.naive)
        return 0

    _recreate_database()
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.report import record
    from campaigns.bulk import bulk_plan, bulk_send_create
    from campaigns.models import BulkSend
    from shop.models import Customer
    from smsnotify.celery import app
    from smsnotify.models import Message

    app.control.purge()
    shop = _shop_with_customers("bulk", args.customers)
    start = time.monotonic()
    bulk_plan(shop=shop, selection=Customer.objects.filter(shop=shop), body=BODY)
    plan_seconds = time.monotonic() - start
    start = time.monotonic()
    with _no_fan_out_task():
        sent = bulk_send_create(shop=shop, selection=Customer.objects.filter(shop=shop), body=BODY,
                                send_key="0" * 31 + "1")
    confirm_seconds = time.monotonic() - start
    assert sent.recipients == args.customers, sent.recipients
    seconds, peak_mb = _run_child("fan-out", sent.pk)
    written = Message.objects.filter(batch_ref=sent.batch_ref).count()
    assert written == args.customers, written
    sent.refresh_from_db()
    assert sent.status == BulkSend.State.SENDING

    naive_count = min(args.naive_customers, args.customers)
    naive_shop = _shop_with_customers("naive", naive_count)
    naive_seconds, naive_mb = _run_child("naive", naive_shop.pk)
    assert Message.objects.filter(shop=naive_shop).count() == naive_count
    naive_seconds *= args.customers / naive_count  # one lookup and two INSERTs per customer: linear
    app.control.purge()  # the doorbells both rang: no worker here to answer them

    notes = (f"{args.customers:,} customers; fan-out in chunks of 1,000 (one INSERT ... unnest of messages and "
             f"one of events each, rung to Redis); before it the confirmation page's plan took {plan_seconds:.1f} s "
             f"and confirming (texts rendered and priced, recipients frozen, credits held) {confirm_seconds:.1f} s; "
             f"naive = message_schedule per customer in one transaction, run on {naive_count:,} and scaled "
             f"x{args.customers / naive_count:g}; PostgreSQL")
    ok = record("bulk_fan_out_seconds", figure=seconds, unit="s", target=TARGET_SECONDS, naive=naive_seconds,
                higher_is_better=False, notes=notes)
    full = naive_count == args.customers  # a smaller naive run's memory says nothing of 100,000
    ok &= record("bulk_fan_out_peak_memory", figure=peak_mb, unit="MB", target=TARGET_MB,
                 naive=naive_mb if full else None, higher_is_better=False,
                 notes="max RSS of the process that ran each (Python + Django included)" if full else
                 f"max RSS of the fan-out process; the naive loop ran on {naive_count:,} only (--naive-customers)")
    print(json.dumps({"plan_seconds": round(plan_seconds, 2), "confirm_seconds": round(confirm_seconds, 2)}))
    return 0 if ok else 1


class _no_fan_out_task:
    """The fan-out is measured in a process of its own, not run by a worker on commit."""

    def __enter__(self):
        from unittest import mock

        self._patch = mock.patch("campaigns.tasks.bulk_fan_out_task.delay")
        self._patch.start()

    def __exit__(self, *exc):
        self._patch.stop()


if __name__ == "__main__":
    sys.exit(main())
