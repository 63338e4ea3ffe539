"""Messages per second from the outbox to a gateway, as a merchant feels it.

Real Celery workers (prefork, 2 processes, as `make run` starts them) consume from Redis and
write to PostgreSQL; this process plays beat, calling the outbox's dispatch as often as it
likes. Each figure is measured against the naive approach in the same run: one Celery task per
message that loads the row, builds a gateway client, sends and saves (what most public Django
code does), with no claim, no charge and no history. Also reported: database queries per
delivered message, outbox vs naive.

    outbox → sandbox gateway         target >= 1,000 messages/s
    outbox → Twilio SDK → a local Twilio-compatible server (answering at once)

Run: make bench (or DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/bench_delivery.py).
It works in a database of its own (<name>_bench, dropped and made again) and Redis database 15.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SANDBOX = 1_000  # messages/s
TWILIO_SID, TWILIO_TOKEN = "AC" + "b" * 32, "bench-token"
TWILIO_LATENCY = 0.15  # seconds: the real Messages API answers in 150-300 ms


def _bench_urls() -> tuple[str, str, str]:
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database.startswith("postgres") or not redis.startswith("redis"):
        sys.exit("bench_delivery needs DATABASE_URL=postgres://… and REDIS_URL=redis://… (make bench sets them).")
    parts = urlsplit(database)
    name = parts.path.lstrip("/") + "_bench"
    bench_db = urlunsplit(parts._replace(path="/" + name))
    redis_parts = urlsplit(redis)
    return bench_db, name, urlunsplit(redis_parts._replace(path="/15"))


def _recreate_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _setup(gateway: str, extra_env: dict) -> dict:
    bench_db, name, redis = _bench_urls()
    env = {"DATABASE_URL": bench_db, "REDIS_URL": redis, "SMS_GATEWAY": gateway, "DEBUG": "false",
           "SECRET_KEY": "bench-only", "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "WARNING",
           "SANDBOX_DELIVERY_SECONDS": "3600", "DATABASE_CONN_MAX_AGE": "60", **extra_env}
    os.environ.update(env)
    return env


def _worker(env: dict, *, naive: bool = False, threads: int = 0) -> subprocess.Popen:
    pool = ["--pool=threads", f"--concurrency={threads}"] if threads else ["--pool=prefork", "--concurrency=2"]
    from django.conf import settings

    queues = ",".join(queue.name for queue in settings.CELERY_TASK_QUEUES)  # every lane, and the naive tasks'
    command = [sys.executable, "-m", "celery", "-A", "smsnotify", "worker", *pool, "-Q", queues,
               "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
               "--include=bench.naive"]
    if naive:  # Celery's default prefetch, as such code runs it (the project's workers take one task at a time)
        command.append("--prefetch-multiplier=4")
    worker = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    from smsnotify.celery import app

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            sys.exit(f"The Celery worker exited: {worker.stderr.read()}")
        if app.control.ping(timeout=0.5):
            return worker
    worker.kill()
    sys.exit("The Celery worker did not answer within 30 s.")


def _with_worker(env: dict, run, count: int, *, naive: bool = False, threads: int = 0) -> float:
    worker = _worker(env, naive=naive, threads=threads)
    try:
        return run(count)
    finally:
        _stop(worker)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _messages(count: int) -> list[int]:
    from django.utils import timezone

    from shop.models import Shop
    from smsnotify.encoding import segment_info
    from smsnotify.models import Kind, Message, Status

    shop = Shop.objects.get(slug="bench")
    now = timezone.now()
    rows = []
    for n in range(count):
        body = f"Hi Anna, your order #{100000 + n} has shipped. Track it at https://s.example.com/{n:06d}"
        info = segment_info(body)
        rows.append(Message(shop=shop, kind=Kind.ORDER_STATUS, recipient=f"+1202555{n % 10000:04d}", body=body,
                            encoding=info.encoding, segments=info.segments, status=Status.SCHEDULED, send_at=now,
                            created_at=now))
    return [m.pk for m in Message.objects.bulk_create(rows, batch_size=2000)]


def _shop() -> None:
    from credits.ledger import credits_grant_bonus
    from shop.models import Shop
    from shop.services import shop_create
    from smsnotify.models import SenderRate, SmsSettings

    if not Shop.objects.filter(slug="bench").exists():
        shop = shop_create(name="Bench", slug="bench", country="US", currency="USD")
        SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
        credits_grant_bonus(shop=shop, amount=10**12, reason="bench")
    # The operator's rate for the bench's sender, as for a pooled Messaging Service: the benchmark
    # measures the outbox, not an alphanumeric sender's 10 parts per second.
    SenderRate.objects.update_or_create(sender="Bench", defaults={"segments_per_second": 10_000})


def _wait_sent(pks: list[int], timeout: float, *, dispatch: bool, start: float | None = None) -> float:
    """Seconds from ``start`` until every message left the outbox (sent, failed or unknown); this
    process plays beat's dispatch when asked."""
    from smsnotify.models import Message, Status
    from smsnotify.outbox import messages_dispatch_due

    start = start or time.monotonic()
    low, high = min(pks), max(pks)
    while time.monotonic() - start < timeout:
        if dispatch:
            messages_dispatch_due()
        left = Message.objects.filter(pk__gte=low, pk__lte=high).exclude(
            status__in=[Status.SENT, Status.DELIVERED, Status.FAILED, Status.UNKNOWN]).count()
        if not left:
            return time.monotonic() - start
        time.sleep(0.1)
    raise SystemExit(f"Not delivered within {timeout} s.")


def _failures(pks: list[int]) -> int:
    from smsnotify.models import Message, Status

    return Message.objects.filter(pk__in=pks).exclude(status__in=[Status.SENT, Status.DELIVERED]).count()


def run_outbox(count: int) -> float:
    from smsnotify.models import Message

    pks = _messages(count)
    seconds = _wait_sent(pks, timeout=600, dispatch=True)
    failed = _failures(pks)
    if failed:
        raise SystemExit(f"{failed} of {count} messages were not sent.")
    ids = Message.objects.filter(pk__in=pks).values_list("provider_id", flat=True)
    if len(set(ids)) != count:  # calls in flight must never swap answers
        raise SystemExit("Two messages were recorded with the same provider id.")
    return count / seconds


def run_naive(count: int) -> float:
    from bench.naive import naive_send

    pks = _messages(count)
    start = time.monotonic()
    for pk in pks:
        naive_send.delay(pk)
    seconds = _wait_sent(pks, timeout=600, dispatch=False, start=start)
    return count / seconds


def queries_per_message(count: int = 1000) -> tuple[float, float]:
    """Queries to dispatch and deliver ``count`` messages in batches, in this process; and the naive's."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.naive import naive_send
    from smsnotify.delivery import messages_deliver
    from smsnotify.outbox import messages_dispatch_due

    pks = _messages(count)
    with CaptureQueriesContext(connection) as outbox_queries:
        from unittest import mock

        with mock.patch("smsnotify.outbox._ring"):  # this process delivers; the workers must not
            messages_dispatch_due()
        for start in range(0, count, settings.SMS_DISPATCH_BATCH):
            messages_deliver(message_ids=pks[start : start + settings.SMS_DISPATCH_BATCH])
    naive_pks = _messages(100)
    with CaptureQueriesContext(connection) as naive_queries:
        for pk in naive_pks:
            naive_send(pk)
    return len(outbox_queries) / count, len(naive_queries) / len(naive_pks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--twilio-messages", type=int, default=5_000)
    args = parser.parse_args()

    bench_db, name, _redis = _bench_urls()
    _recreate_database(os.environ["DATABASE_URL"], name)
    env = _setup("smsnotify.gateways.sandbox.SandboxGateway", {})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    _shop()
    from bench.report import record
    from smsnotify.celery import app

    app.control.purge()
    ok = True
    outbox_rate = _with_worker(env, run_outbox, args.messages)
    naive_rate = _with_worker(env, run_naive, args.messages, naive=True)
    ok &= record("outbox_to_sandbox", figure=outbox_rate, unit="messages/s", target=TARGET_SANDBOX,
                 naive=naive_rate, notes=f"{args.messages:,} messages, 2 prefork worker processes, PostgreSQL + Redis")
    per_message, naive_per_message = queries_per_message()
    record("queries_per_delivered_message", figure=per_message, unit="queries", target=None,
           naive=naive_per_message, higher_is_better=False,
           notes="dispatch + delivery (claim, policies, charge, history) per message, batches of SMS_DISPATCH_BATCH")

    server = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, '.');"
        "from tests.fakes.twilio_server import FakeTwilioServer;"
        f"s = FakeTwilioServer(account_sid={TWILIO_SID!r}, auth_token={TWILIO_TOKEN!r}, latency={TWILIO_LATENCY}).start();"
        "print(s.port, flush=True); time.sleep(3600)")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        twilio_env = {"SMS_GATEWAY": "smsnotify.gateways.twilio.TwilioGateway", "TWILIO_ACCOUNT_SID": TWILIO_SID,
                      "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_FROM_NUMBER": "+15005550006",
                      "TWILIO_API_BASE_URL": f"http://127.0.0.1:{port}"}
        env.update(twilio_env)
        os.environ.update(twilio_env)
        twilio_rate = _with_worker(env, run_outbox, args.twilio_messages)
        # The naive baseline gets 32 threads too, so the ratio is not only "calls in flight".
        naive_twilio_rate = _with_worker(env, run_naive, args.twilio_messages, naive=True, threads=32)
        record("outbox_to_twilio_sdk_local_server", figure=twilio_rate, unit="messages/s", target=300,
               naive=naive_twilio_rate,
               notes=f"{args.twilio_messages:,} messages; the fake server answers each create after "
                     f"{TWILIO_LATENCY * 1000:.0f} ms (as the real API does) and shares the 2 cores; "
                     "naive = one task per message on 32 threads")
    finally:
        _stop(server)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
