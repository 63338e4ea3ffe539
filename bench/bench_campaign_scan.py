"""The periodic campaign scan over 1,000,000 customers, 1,000,000 orders and 200,000 carts.

One run of the date campaigns (birthday with a discount code, days after shipping, after the
first order, after the last order, after registration) and the abandoned-cart reminder, after a
day without scans (the widest window a run covers): seconds, peak memory of the process (RSS)
and the number of SQL statements it executes. Targets: <= 15 s, <= 300 MB, and statements that
do not grow with the customers (the reads are per campaign and due day; only the writes grow,
one chunk of up to 2,000 texts at a time, with the texts written).

In the same run, the naive approach (bench/naive_campaigns.py: a Python loop over customers and
carts that checks each and saves each text) on a 20,000-customer slice, the set-based scan on
the same slice (both must write the same texts), and the ratio: the naive seconds are scaled
linearly to the full size (it queries per customer; measuring it on a million would take an hour).

Run: make bench (or DATABASE_URL=postgres://… .venv/bin/python bench/bench_campaign_scan.py).
It works in a database of its own, ``bench_dates`` (dropped and made again), loaded with
INSERT … SELECT FROM generate_series (seconds, not minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "bench_dates"
TARGET_SECONDS, TARGET_MB = 15, 300
MINUTES_IN_TWO_YEARS = 730 * 24 * 60


def _bench_url() -> str:
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        sys.exit("bench_campaign_scan needs DATABASE_URL=postgres://… (make bench sets it).")
    return urlunsplit(urlsplit(database)._replace(path="/" + DATABASE))


def _env() -> dict:
    return {"DATABASE_URL": _bench_url(), "DEBUG": "false", "SECRET_KEY": "bench-only",
            "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "ERROR", "ALLOWED_HOSTS": "localhost"}


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


# --- the data ------------------------------------------------------------------------------------


def _shop(slug: str):
    from shop.models import Shop
    from shop.services import shop_create
    from smsnotify.models import SmsSettings

    shop = Shop.objects.filter(slug=slug).first() or shop_create(
        name=f"Bench {slug}", slug=slug, country="PL", currency="PLN", time_zone="Europe/Warsaw", language="pl")
    SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
    return shop


def _load(shop, *, customers: int, orders: int, carts: int, now) -> None:
    """Customers (60 % consenting, 80 % with a birthday, registered over two years), orders of
    70 % of them (a third shipped a day after being placed) and carts touched over 30 days,
    most with one or two items (a tenth of the products out of stock)."""
    from django.db import connection

    params = {"shop": shop.pk, "now": now, "n": customers, "m": orders, "k": carts,
              "buyers": max(1, customers * 7 // 10), "span": MINUTES_IN_TWO_YEARS}
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO shop_product (shop_id, name, sku, price, stock_status, stock_quantity)
            SELECT %(shop)s, 'Produkt ' || i, '', 1999 + i,
                   CASE WHEN i %% 10 = 0 THEN 'out_of_stock' ELSE 'in_stock' END, 10
            FROM generate_series(1, 100) AS i""", params)
        cursor.execute("""
            INSERT INTO shop_customer (shop_id, first_name, last_name, email, phone, birthday, registered_at,
                                       marketing_consent, marketing_consent_at, marketing_consent_source,
                                       marketing_consent_ip, marketing_consent_text)
            SELECT %(shop)s, 'Anna', 'Nowak', 'c' || i || '@example.pl', '+4860' || lpad(i::text, 7, '0'),
                   CASE WHEN i %% 5 = 4 THEN NULL ELSE date '1960-01-01' + (i::bigint * 7919 %% 20000)::int END,
                   %(now)s - (i::bigint * 104729 %% %(span)s) * interval '1 minute',
                   CASE WHEN i %% 5 < 3 THEN 'granted' WHEN i %% 5 = 3 THEN 'unknown' ELSE 'revoked' END,
                   NULL, 'checkout', NULL, ''
            FROM generate_series(1, %(n)s) AS i""", params)
        cursor.execute("SELECT min(id) FROM shop_customer WHERE shop_id = %(shop)s", params)
        params["first"] = cursor.fetchone()[0]
        cursor.execute("""
            INSERT INTO shop_order (shop_id, number, customer_id, phone, email, status, subtotal, shipping_cost,
                                    total, currency, shipping_method, delivery_name, delivery_street,
                                    delivery_city, delivery_postcode, delivery_country, tracking_code, discount,
                                    placed_at, status_changed_at)
            SELECT %(shop)s, 'B' || i, %(first)s + c, '+4860' || lpad((c + 1)::text, 7, '0'), '',
                   CASE WHEN i %% 3 = 0 THEN 'shipped' ELSE 'accepted' END, 10000, 1500, 11500, 'PLN', 'Kurier',
                   'Anna Nowak', 'ul. Polna 12', 'Warszawa', '00-950', 'PL', '', 0,
                   placed, CASE WHEN i %% 3 = 0 THEN placed + interval '1 day' ELSE placed END
            FROM (SELECT i, (i::bigint * 7919 %% %(buyers)s) AS c,
                         %(now)s - (i::bigint * 15485863 %% %(span)s) * interval '1 minute' AS placed
                  FROM generate_series(1, %(m)s) AS i) AS s""", params)
        cursor.execute("""
            INSERT INTO shop_cart (shop_id, customer_id, phone, email, last_activity_at, converted_order_id)
            SELECT %(shop)s, %(first)s + (i::bigint * 13 %% %(n)s), CASE WHEN i %% 4 = 0 THEN '' ELSE
                   '+4860' || lpad(((i::bigint * 13 %% %(n)s) + 1)::text, 7, '0') END, '',
                   %(now)s - (i::bigint * 7919 %% (30 * 24 * 60)) * interval '1 minute', NULL
            FROM generate_series(1, %(k)s) AS i""", params)
        cursor.execute("SELECT min(id) FROM shop_product WHERE shop_id = %(shop)s", params)
        params["product"] = cursor.fetchone()[0]
        cursor.execute("""
            INSERT INTO shop_cartitem (cart_id, product_id, quantity, unit_price)
            SELECT c.id, %(product)s + (c.id + n) %% 100, 1 + c.id %% 3, 1999
            FROM shop_cart AS c CROSS JOIN generate_series(0, 1) AS n
            WHERE c.shop_id = %(shop)s AND c.id %% 10 <> 0 AND (n = 0 OR c.id %% 2 = 0)""", params)
        cursor.execute("ANALYZE")


def _campaigns(shop, now) -> None:
    """The five date campaigns and the cart reminder, last scanned a day ago."""
    import datetime as dt

    from campaigns.models import AbandonedCartSettings, DateCampaign
    from templates_sms.models import SmsTemplate

    bodies = {
        "birthday": ("{shop_name}: wszystkiego najlepszego, {firstname}! {coupon_value} rabatu z kodem {coupon_code} "
                     "do {coupon_valid_until}.", 0),
        "after_shipped": ("{shop_name}: {firstname}, jak Ci się podoba zamówienie {order_id}?", 3),
        "after_first_order": ("{shop_name}: dziękujemy za pierwsze zamówienie, {firstname}!", 7),
        "after_last_order": ("{shop_name}: {firstname}, tęsknimy! Zajrzyj do sklepu.", 30),
        "after_registration": ("{shop_name}: witaj, {firstname}!", 1),
    }
    for trigger, (body, delay) in bodies.items():
        template = SmsTemplate.objects.get(shop=shop, event=f"date:{trigger}", is_standard=True)
        SmsTemplate.objects.filter(pk=template.pk).update(body=body)
        discount = {"discount_kind": "percent", "discount_value": 15} if trigger == "birthday" else {}
        DateCampaign.objects.create(shop=shop, name=trigger, trigger=trigger, delay_days=delay,
                                    send_hour=now.hour, template=template, **discount,
                                    scanned_until=now - dt.timedelta(hours=24))
    SmsTemplate.objects.filter(shop=shop, event="cart:abandoned", is_standard=True).update(active=True)
    AbandonedCartSettings.objects.create(shop=shop, active=True)


def _switch_off(shop) -> None:
    from campaigns.models import AbandonedCartSettings, DateCampaign

    DateCampaign.objects.filter(shop=shop).delete()
    AbandonedCartSettings.objects.filter(shop=shop).delete()


def _forget_texts(shop, now) -> None:
    """The slice as it was before the set-based scan, for the naive one."""
    import datetime as dt

    from campaigns.models import DateCampaign
    from shop.models import Coupon
    from smsnotify.models import Message

    Coupon.objects.filter(shop=shop).delete()
    Message.objects.filter(shop=shop).delete()
    DateCampaign.objects.filter(shop=shop).update(scanned_until=now - dt.timedelta(hours=24))


# --- one scan, in a process of its own (its memory is the scan's) ------------------------------------


def _scan_in_child(now_iso: str, *, naive: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", now_iso] + (["--naive"] if naive else [])
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, **_env()}, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"The scan failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(now_iso: str, naive: bool) -> None:
    import resource

    import django

    django.setup()
    import datetime as dt

    from django.db import connection

    from bench.naive_campaigns import naive_scan
    from campaigns.cart_reminders import abandoned_carts_run
    from campaigns.date_campaigns import date_campaigns_run

    now = dt.datetime.fromisoformat(now_iso)
    # "select": finding who is due (and the campaigns' own rows); "write": what each chunk of
    # texts costs: its INSERTs, its two reads of the keys it writes (taken before, written
    # after), the shop's SMS switch, a cart chunk's items.
    statements = {"select": 0, "write": 0}

    def count(execute, sql, params, many, context):
        head = sql.lstrip().upper()
        per_chunk = (head.startswith("INSERT")
                     or ('FROM "SMSNOTIFY_MESSAGE"' in head[:400] and '"DEDUPE_KEY" IN (' in head)
                     or 'FROM "SMSNOTIFY_SMSSETTINGS"' in head  # the outbox reads the shop's switch per chunk
                     or ('FROM "SHOP_CARTITEM"' in head[:400] and '"CART_ID" IN (' in head))  # a chunk's items
        statements["write" if per_chunk else "select"] += 1
        return execute(sql, params, many, context)

    connection.ensure_connection()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with connection.execute_wrapper(count):
        start = time.perf_counter()
        if naive:
            dates, carts = naive_scan(now=now), 0
        else:
            dates, carts = date_campaigns_run(now=now), abandoned_carts_run(now=now)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "baseline_mb": before, "texts": dates + carts,
                      "date_texts": dates, "cart_texts": carts, **statements}))


def _texts_of(shop) -> set[str]:
    from smsnotify.models import Message

    return set(Message.objects.filter(shop=shop).values_list("dedupe_key", flat=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--carts", type=int, default=200_000)
    parser.add_argument("--slice", type=int, default=20_000)
    parser.add_argument("--child", metavar="NOW")
    parser.add_argument("--naive", action="store_true")
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.naive)
        return 0

    _recreate_database()
    os.environ.update(_env())
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from bench.report import record

    # On the hour plus a minute: the campaigns' hour (now's) fell due a minute ago, after a day without scans.
    now = timezone.now().replace(minute=1, second=0, microsecond=0)
    started = time.perf_counter()
    big, small = _shop("campaigns-1m"), _shop("campaigns-slice")
    _load(big, customers=args.customers, orders=args.orders, carts=args.carts, now=now)
    ratio = args.slice / args.customers
    _load(small, customers=args.slice, orders=int(args.orders * ratio), carts=int(args.carts * ratio), now=now)
    print(f"loaded in {time.perf_counter() - started:.0f} s")

    _campaigns(big, now)
    full = _scan_in_child(now.isoformat())
    _switch_off(big)
    _campaigns(small, now)
    part = _scan_in_child(now.isoformat())
    set_based = _texts_of(small)
    _forget_texts(small, now)
    naive = _scan_in_child(now.isoformat(), naive=True)
    if _texts_of(small) != set_based:
        sys.exit("The naive and the set-based scans wrote different texts on the slice.")
    print(f"1M: {full}\nslice set-based: {part}\nslice naive: {naive}")

    scale = args.customers / args.slice
    sizes = f"{args.customers:,} customers, {args.orders:,} orders, {args.carts:,} carts"
    ok = record("campaign_scan_seconds", figure=full["seconds"], unit="s", target=TARGET_SECONDS,
                naive=naive["seconds"] * scale, higher_is_better=False,
                notes=f"{sizes}; 5 date campaigns (one with discount codes) + cart reminders after a day without "
                      f"scans: {full['texts']:,} texts written ({full['date_texts']:,} date, {full['cart_texts']:,} "
                      f"cart). Naive: {naive['seconds']:.1f} s on a {args.slice:,}-customer slice, scaled x{scale:g}; "
                      f"the set-based scan takes {part['seconds']:.2f} s on the same slice "
                      f"(x{naive['seconds'] / part['seconds']:.0f}), writing the same {part['texts']:,} texts")
    ok &= record("campaign_scan_peak_memory", figure=full["peak_mb"], unit="MB", target=TARGET_MB, naive=None,
                 higher_is_better=False,
                 notes=f"peak RSS of the scanning process (Django loaded: {full['baseline_mb']:.0f} MB before it)")
    constant = full["select"] == part["select"]
    ok &= record("campaign_scan_queries", figure=full["select"] + full["write"], unit="statements", target=None,
                 naive=(naive["select"] + naive["write"]) * scale, higher_is_better=False,
                 notes=f"{full['select']} to find who is due (the same {part['select']} on the {args.slice:,} slice: "
                       f"{'they do not grow with the customers' if constant else 'THEY GREW'}) + {full['write']} writing "
                       f"the texts (per chunk of up to 2,000: 2-3 INSERTs, 2 reads of its keys, the SMS switch, a cart "
                       f"chunk's items); naive "
                       f"{naive['select'] + naive['write']:,} on the slice, scaled x{scale:g}") and constant
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
