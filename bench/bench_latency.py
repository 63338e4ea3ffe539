"""An order-status text's and a sign-up code's latency to the gateway call while a 100,000-text bulk send drains.

Real Celery workers and beat, as bin/run-all starts them: one worker per lane queue (sms.codes,
sms.service and sms.marketing 2 processes each, sms.housekeeping solo for beat's tasks)
and celery beat ringing dispatch every SMS_DISPATCH_INTERVAL. A shop with 100,000 consenting
customers confirms a promotional bulk send (campaigns.bulk.bulk_send_create; its confirmation is
set up beforehand, not measured); when the fan-out task is enqueued, a producer process — the
shop's web process — every 1/RATE seconds moves one of its orders to "shipped" through
shop.services.order_change_status (the store's receiver writes the text in that transaction and
rings on commit) and asks for a storefront sign-up code for a new number through
shop.accounts.account_signup_code_send, what "Send me check code" calls. An order text's latency
is from the moment its status change committed, a code's from the moment it was asked for, to
its ATTEMPT event, stamped just before the gateway call (smsnotify/delivery.py). Texts are
written until every text of the bulk send has left (or MAX_SECONDS), then the bench waits for the
last ones.

The naive layout, in the same run, with a shop and bulk send of its own: the same workers all
consume one queue (bench/one_queue.py), so an order's text waits behind the blast.

    p95 of an order-status text's latency while the bulk send drains: target <= 2 s (issue #9)
    p95 of a sign-up code's latency while the bulk send drains: target <= 2 s (issue #10)

The gateway is the sandbox (accepts at once, not paced), so the blast drains as fast as the
workers can, the harshest case for the other lanes. The bulk's recipients are numbers of a time
zone where it is now day (quiet hours hold marketing texts at night).

Run: make bench (or DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/bench_latency.py).
It works in a database of its own (<name>_latency, dropped and made again) and Redis database 15.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ONE_QUEUE = "sms.all"  # bench/one_queue.py's (importing it needs Django's settings)

TARGET_P95 = 2.0  # seconds
RATE = 5.0  # order texts per second
MAX_SECONDS = 900  # of writing order texts, if the blast has not drained by then
SIGNUP_NUMBER = "+16462{:04d}00"  # the n-th sign-up's number: one per range (shop.verification.RANGE_DIGITS)
BODY = "Hi {firstname}, -20% on everything this weekend at our shop. Reply STOP to opt out."

# How bin/run-all starts the workers: (name, its queue, its pool).
WORKERS = [("codes", "sms.codes", ["--concurrency=2"]), ("service", "sms.service", ["--concurrency=2"]),
           ("marketing", "sms.marketing", ["--concurrency=2"]), ("housekeeping", "sms.housekeeping", ["--pool=solo"])]
LAYOUTS = {"lanes": "smsnotify", "one_queue": "bench.one_queue"}  # each one's Celery app (-A)

# Single-zone mobile numbers around the clock (phonenumbers' time zone data): the bulk goes to the
# one where it is now early afternoon, so quiet hours (8:00-20:00 by default) hold none of it.
DAYTIME = [("Pacific/Honolulu", "+1808{:07d}", 2_000_000), ("America/Los_Angeles", "+1415{:07d}", 2_000_000),
           ("America/New_York", "+1212{:07d}", 2_000_000), ("Europe/Warsaw", "+48600{:06d}", 0),
           ("Asia/Kolkata", "+919800{:06d}", 0), ("Asia/Tokyo", "+8190{:08d}", 10_000_000)]


def _urls() -> tuple[str, str, str]:
    database, redis = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database.startswith("postgres") or not redis.startswith("redis"):
        sys.exit("bench_latency needs DATABASE_URL=postgres://… and REDIS_URL=redis://… (make bench sets them).")
    parts = urlsplit(database)
    name = (parts.path.lstrip("/") or "bench") + "_latency"
    return urlunsplit(parts._replace(path="/" + name)), name, urlunsplit(urlsplit(redis)._replace(path="/15"))


_URLS: tuple[str, str, str] | None = None  # read once: the environment is then the bench's own


def _env() -> dict:
    global _URLS
    _URLS = _URLS or _urls()
    database, _name, redis = _URLS
    return {"DATABASE_URL": database, "REDIS_URL": redis, "DEBUG": "false", "SECRET_KEY": "bench-only",
            "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "WARNING", "DATABASE_CONN_MAX_AGE": "60",
            "SMS_GATEWAY": "smsnotify.gateways.sandbox.SandboxGateway"}


# --- the producer: the shop's web process -------------------------------------------------------------


def produce(layout: str, shop_id: int, bulk_id: int, out: Path) -> None:
    """Enqueue the bulk's fan-out (what its confirmation does on commit), then every 1/RATE s move
    an order to "shipped" and ask for a sign-up code until the blast has drained; one JSON line
    each: the order and the moment its change committed, the code and the moment it was asked for."""
    import django

    django.setup()
    if layout == "one_queue":
        from bench.one_queue import one_queue

        one_queue()
    from campaigns.bulk import WAITING
    from campaigns.models import BulkSend
    from campaigns.tasks import bulk_fan_out_task
    from shop import services
    from shop.accounts import account_signup_code_send, signup_draft_make
    from shop.models import Order, OrderStatus
    from smsnotify.models import Message

    bulk = BulkSend.objects.get(pk=bulk_id)
    # One draft (its password hashed once); each request is for a number of a range of its own.
    draft = signup_draft_make(shop=bulk.shop, phone=SIGNUP_NUMBER.format(0), password="a long bench password")
    orders = iter(Order.objects.filter(shop_id=shop_id, status=OrderStatus.PLACED).order_by("pk"))
    start = time.monotonic()
    bulk_fan_out_task.delay(bulk_id)
    drained_at, checked, n = None, 0.0, 0
    with out.open("w") as sink:
        while time.monotonic() - start < MAX_SECONDS:
            now = time.monotonic()
            if now - checked >= 1.0:
                checked = now
                bulk.refresh_from_db(fields=["status"])
                if bulk.status != BulkSend.State.FANNING_OUT and not Message.objects.filter(
                        batch_ref=bulk.batch_ref, status__in=WAITING).exists():
                    drained_at = now - start
                    break
            order = next(orders)
            services.order_change_status(order=order, status=OrderStatus.SHIPPED)
            sink.write(json.dumps({"order": order.pk, "committed": time.time()}) + "\n")
            asked = time.time()
            code = account_signup_code_send(shop=bulk.shop, draft=dataclasses.replace(
                draft, phone=SIGNUP_NUMBER.format(n)), ip=None, session_key="")
            sink.write(json.dumps({"code": code.pk, "asked": asked}) + "\n")
            sink.flush()
            n += 1
            pause = start + n / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        sink.write(json.dumps({"drained": drained_at}) + "\n")


# --- setting up ------------------------------------------------------------------------------------


def _recreate_database() -> None:
    import psycopg

    _env()
    _url, name, _redis = _URLS
    maintenance = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _daytime_numbers():
    """The zone where it is closest to 13:00 now, and the n-th number there."""
    now = dt.datetime.now(dt.timezone.utc)
    import zoneinfo

    def distance(row):
        local = now.astimezone(zoneinfo.ZoneInfo(row[0]))
        return abs(local.hour + local.minute / 60 - 13)

    zone, pattern, offset = min(DAYTIME, key=distance)
    return zone, lambda n: pattern.format(offset + n)


def _shop(slug: str, customers: int, orders: int, number) -> tuple:
    from django.utils import timezone

    from campaigns.bulk import bulk_send_create
    from credits.ledger import credits_grant_bonus
    from shop.models import AccountSettings, Customer, MarketingConsent, Order
    from shop.services import shop_create
    from smsnotify.models import SmsSettings

    shop = shop_create(name=slug.title(), slug=slug, country="US", currency="USD")
    SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
    AccountSettings.objects.update_or_create(shop=shop, defaults={"codes_per_hour": 10**6})  # a sign-up rush
    credits_grant_bonus(shop=shop, amount=10**9, reason="bench")
    Customer.objects.bulk_create(
        [Customer(shop=shop, first_name=f"Name{n % 997}", last_name="Bench", phone=number(n),
                  marketing_consent=MarketingConsent.GRANTED) for n in range(customers)], batch_size=5000)
    now = timezone.now()
    Order.objects.bulk_create(
        [Order(shop=shop, number=f"{10000 + n}", phone=f"+1202555{n % 10000:04d}", currency="USD", subtotal=4000,
               shipping_cost=500, total=4500, placed_at=now) for n in range(orders)], batch_size=5000)
    from unittest import mock

    with mock.patch("campaigns.bulk._enqueue_fan_out"):  # the producer enqueues it when the run starts
        bulk = bulk_send_create(shop=shop, selection=Customer.objects.filter(shop=shop), body=BODY,
                                send_key=uuid.uuid4().hex)
    assert bulk.recipients == customers, (bulk.recipients, bulk.excluded)
    return shop, bulk


# --- running a layout ------------------------------------------------------------------------------


def _purge(queues: list[str]) -> None:
    from smsnotify.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


def _start(layout: str) -> list[subprocess.Popen]:
    from smsnotify.celery import app

    env = {**os.environ, **_env()}
    log = (ROOT / "var" / f"latency-{layout}-workers.log").open("w")  # the workers' warnings and errors
    processes = []
    for name, queue, pool in WORKERS:
        queue = queue if layout == "lanes" else ONE_QUEUE
        command = [sys.executable, "-m", "celery", "-A", LAYOUTS[layout], "worker", "-Q", queue, "-n", f"{name}@%h",
                   *pool, "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log))
    expected = {f"{name}@{socket.gethostname()}" for name, _queue, _pool in WORKERS}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            _stop(processes)
            sys.exit("A Celery worker exited at start.")
        if expected <= {name for reply in app.control.ping(timeout=0.5) for name in reply}:
            break
    else:
        _stop(processes)
        sys.exit("The Celery workers did not answer within 60 s.")
    beat = [sys.executable, "-m", "celery", "-A", LAYOUTS[layout], "beat", "--loglevel=WARNING"]
    processes.append(subprocess.Popen(beat, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log))
    return processes


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run(layout: str, shop, bulk) -> dict:
    """Latencies (seconds) of the order texts and sign-up codes written while ``bulk`` drained, in ``layout``."""
    from django.db.models import Min

    from smsnotify.models import EventType, Kind, Message, MessageEvent, Status

    _purge([queue for _name, queue, _pool in WORKERS] + [ONE_QUEUE])
    (ROOT / "var").mkdir(exist_ok=True)
    processes = _start(layout)
    out = ROOT / "var" / f"latency-{layout}.jsonl"
    try:
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--produce", layout, str(shop.pk), str(bulk.pk), str(out)],
                       cwd=ROOT, env={**os.environ, **_env()}, check=True)
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        drained = lines[-1]["drained"]
        committed = {line["order"]: line["committed"] for line in lines if "order" in line}
        asked = {f"code:{line['code']}": line["asked"] for line in lines if "code" in line}
        # Each text's pk and the moment its cause happened.
        start_of = {pk: committed[order] for pk, order in Message.objects.filter(
            order_id__in=committed, kind=Kind.ORDER_STATUS).values_list("pk", "order_id")}
        orders = set(start_of)
        start_of.update({pk: asked[key] for pk, key in Message.objects.filter(
            shop=shop, kind=Kind.VERIFICATION_CODE).values_list("pk", "dedupe_key")})
        assert len(orders) == len(committed), "an order's status change wrote no text"
        assert len(start_of) == len(committed) + len(asked), "a sign-up code wrote no text"
        deadline = time.monotonic() + 600
        while True:  # the last ones may still be on their way (in one queue: behind the blast)
            attempted = dict(MessageEvent.objects.filter(message_id__in=start_of, type=EventType.ATTEMPT)
                             .values_list("message_id").annotate(first=Min("created_at")))
            if len(attempted) == len(start_of) or time.monotonic() > deadline:
                break
            time.sleep(1)
        seconds = time.monotonic() - started
    finally:
        _stop(processes)
    missing = len(start_of) - len(attempted)
    if missing:
        raise SystemExit(f"{missing} order texts or codes never reached the gateway ({layout}).")
    left = [Status.SENT, Status.DELIVERED]  # the sandbox reports delivery (beat polls it) after a while
    result = {"drained": drained, "seconds": seconds,
              "blast_sent": Message.objects.filter(batch_ref=bulk.batch_ref, status__in=left).count()}
    for name, pks in (("order", orders), ("code", set(start_of) - orders)):
        latencies = [attempted[pk].timestamp() - start_of[pk] for pk in pks]
        result.update({f"{name}_texts": len(pks), f"{name}_sent": Message.objects.filter(
            pk__in=pks, status__in=left).count(), f"{name}_p50": statistics.median(latencies),
            f"{name}_p95": _percentile(latencies, 0.95), f"{name}_max": max(latencies)})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--produce", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        layout, shop_id, bulk_id, out = args.produce
        produce(layout, int(shop_id), int(bulk_id), Path(out))
        return 0

    _recreate_database()
    os.environ.update(_env())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.report import record

    zone, number = _daytime_numbers()
    orders = int(MAX_SECONDS * RATE) + 100
    results = {}
    for layout in LAYOUTS:  # each with a shop and customers of its own: a customer gets one promotion a day
        shop, bulk = _shop(layout.replace("_", "-"), args.customers, orders, number)
        results[layout] = run(layout, shop, bulk)
        print(f"{layout}: {json.dumps({k: v if v is None else round(v, 3) for k, v in results[layout].items()})}")
    lanes, naive = results["lanes"], results["one_queue"]
    drained = ", ".join(f"{'not drained after ' + str(MAX_SECONDS) if r['drained'] is None else round(r['drained'])}"
                        f" s {where}" for r, where in ((lanes, "with lanes"), (naive, "in one queue")))
    setup = (f"while a {args.customers:,}-text promotional bulk send drained (fan-out and delivery through the "
             f"sandbox, recipients in {zone}: done in {drained}); real workers per lane and beat as bin/run-all "
             "starts them; naive = the same workers on one queue")
    ok = True
    for name, what, cause in (("order", "order texts", "commit"), ("code", "sign-up codes", "request")):
        notes = (f"{lanes[name + '_texts']} {what} at {RATE:g}/s {setup}; {cause} to the gateway call; "
                 f"p50 {lanes[name + '_p50']:.2f} s with lanes, {naive[name + '_p50']:.2f} s in one queue")
        label = "order_text" if name == "order" else "signup_code"
        ok &= record(f"{label}_latency_p95_during_bulk", figure=lanes[name + "_p95"], unit="s", target=TARGET_P95,
                     naive=naive[name + "_p95"], higher_is_better=False, notes=notes)
        record(f"{label}_latency_p50_during_bulk", figure=lanes[name + "_p50"], unit="s", target=None,
               naive=naive[name + "_p50"], higher_is_better=False, notes="the same run's median")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
