"""The dashboard and the statistics page over 1,000,000 messages.

Two shops (Warsaw and New York) with 500,000 messages each, written over the last 90 days in the
order of their ids, as a live table has them (5 % replies; kinds, statuses, error codes and credits spread as a busy shop has them), 100,000
customers each and some opt-outs and ratings. A merchant of the Warsaw shop, logged in, opens
through Django's test Client: the dashboard (the admin's first page), the statistics page with its
default range (the last 30 days, per day) and the statistics of all 90 days per week. Figure: the
p95 of each page over 30 requests, target <= 300 ms.

The pages read the days that can no longer change from DailyTextCount (campaigns/statistics.py),
counted when a page first needs them: the run forgets the shop's counted days first, so the first
request (counting about 87 days of 500,000 messages once in the shop's life) is measured on its
own, without a target, and the 30 timed requests that follow read counted days plus the messages
of the last few days.

In the same run, the naive approach (bench/naive_statistics.py: the range's messages read into
Python and counted one by one) computes the default statistics range's text figures, which must
equal the page's; the ratio is the naive time against the page's p95 (a whole page, so the ratio
is if anything understated).

Run: make bench (or DATABASE_URL=postgres://… .venv/bin/python bench/bench_dashboard.py).
The data lives in a database of its own, ``bench_dashboard``, kept between runs: generating it
(INSERT … SELECT FROM generate_series) takes about a minute and is skipped when it is there.
``--fresh`` makes it again.
"""

from __future__ import annotations

import argparse
import os
import statistics as stats
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "bench_dashboard"
MESSAGES_PER_SHOP = 500_000
CUSTOMERS_PER_SHOP = 100_000
DAYS = 90
REQUESTS = 30
TARGET_MS = 300
SHOPS = (("dashboard-warsaw", "PL", "PLN", "Europe/Warsaw", "pl", "+4860"),
         ("dashboard-newyork", "US", "USD", "America/New_York", "en", "+1202"))


def _server_url(database: str) -> str:
    """DATABASE_URL's server, with another database."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench_dashboard needs DATABASE_URL=postgres://… (make bench sets it).")
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


def _database(fresh: bool) -> None:
    import psycopg

    with psycopg.connect(_server_url("postgres"), autocommit=True) as conn:  # the server's own database
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


# --- the data ------------------------------------------------------------------------------------


def _shop(slug, country, currency, zone, language):
    from shop.models import Shop
    from shop.services import shop_create
    from smsnotify.models import SmsSettings

    shop = Shop.objects.filter(slug=slug).first() or shop_create(
        name=f"Bench {slug}", slug=slug, country=country, currency=currency, time_zone=zone, language=language)
    SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
    return shop


def _loaded(shop) -> bool:
    from smsnotify.models import Message

    return Message.objects.filter(shop=shop).count() == MESSAGES_PER_SHOP


def _load(shop, prefix: str, now) -> None:
    """Messages over DAYS days (kinds, statuses, codes and credits by the row's number), customers
    registered over two years, opt-outs and ratings."""
    from django.db import connection, transaction

    from credits.ledger import credits_grant_bonus

    params = {"shop": shop.pk, "now": now, "n": MESSAGES_PER_SHOP, "c": CUSTOMERS_PER_SHOP, "prefix": prefix,
              "span": DAYS * 86400}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM campaigns_satisfactionrating WHERE shop_id = %(shop)s", params)
        for table in ("smsnotify_message", "campaigns_optout", "shop_order", "shop_customer"):
            cursor.execute(f"DELETE FROM {table} WHERE shop_id = %(shop)s", params)
        cursor.execute("""
            INSERT INTO smsnotify_message (shop_id, direction, kind, lane, recipient, sender, body, encoding, segments,
                credits_charged, status, send_at, attempts, gateway, provider_id, error_code, error_text, created_at,
                sent_at, delivered_at, updated_at)
            SELECT %(shop)s, CASE WHEN inbound THEN 'in' ELSE 'out' END,
                   CASE WHEN inbound THEN 'inbound' ELSE (ARRAY['order_status', 'order_status', 'order_status',
                        'order_placed', 'tracking', 'bulk', 'bulk', 'bulk', 'date_campaign',
                        'abandoned_cart'])[1 + (i * 7) %% 10] END,
                   'service', %(prefix)s || lpad((i %% 100000)::text, 7, '0'), 'Bench', 'Hello there', 'GSM-7', 1,
                   CASE WHEN status IN ('sent', 'delivered', 'undelivered', 'unknown') THEN 1 + i %% 3 ELSE 0 END,
                   status, created, 1, 'sandbox', 'SM' || i,
                   CASE WHEN status IN ('failed', 'undelivered') THEN
                        (ARRAY['21211', '21612', '21614', '30003', '30005', '30008'])[1 + i %% 6] ELSE '' END,
                   CASE WHEN status IN ('failed', 'undelivered') THEN 'Refused by the provider' ELSE '' END,
                   created, created, CASE WHEN status = 'delivered' THEN created END, created
            FROM (SELECT i, i %% 20 = 0 AS inbound,
                         %(now)s - ((%(n)s - i)::bigint * %(span)s / %(n)s) * interval '1 second' AS created,
                         CASE WHEN i %% 20 = 0 THEN 'delivered'
                              WHEN i * 13 %% 100 < 85 THEN 'delivered' WHEN i * 13 %% 100 < 92 THEN 'sent'
                              WHEN i * 13 %% 100 < 96 THEN 'failed' WHEN i * 13 %% 100 < 98 THEN 'undelivered'
                              WHEN i * 13 %% 100 < 99 THEN 'unknown' ELSE 'suppressed' END AS status
                  FROM generate_series(1, %(n)s) AS i) AS s""", params)
        cursor.execute("""
            INSERT INTO shop_customer (shop_id, first_name, last_name, email, phone, birthday, registered_at,
                                       marketing_consent, marketing_consent_source, marketing_consent_text, password,
                                       verified_mobile, verified_email)
            SELECT %(shop)s, 'Anna', 'Nowak', '', CASE WHEN i %% 10 = 0 THEN '' ELSE
                   %(prefix)s || lpad(i::text, 7, '0') END, NULL,
                   %(now)s - (i::bigint * 104729 %% (730 * 86400)) * interval '1 second', 'granted', 'checkout', '',
                   '', '', ''
            FROM generate_series(1, %(c)s) AS i""", params)
        cursor.execute("""
            INSERT INTO campaigns_optout (shop_id, phone, source, keyword, created_at)
            SELECT %(shop)s, %(prefix)s || lpad(i::text, 7, '0'), 'keyword', 'STOP',
                   %(now)s - (i::bigint * 7919 %% %(span)s) * interval '1 second'
            FROM generate_series(1, 3000) AS i""", params)
        cursor.execute("""
            INSERT INTO shop_order (shop_id, number, customer_id, phone, email, status, subtotal, shipping_cost, total,
                                    currency, shipping_method, delivery_name, delivery_street, delivery_city,
                                    delivery_postcode, delivery_country, tracking_code, discount, placed_at,
                                    status_changed_at)
            SELECT %(shop)s, 'D' || i, NULL, '', '', 'shipped', 10000, 0, 10000, 'PLN', '', '', '', '', '', '', '', 0,
                   %(now)s, %(now)s
            FROM generate_series(1, 2000) AS i""", params)
        cursor.execute("""
            INSERT INTO campaigns_satisfactionrating (shop_id, order_id, survey_message_id, score, created_at,
                                                      answered_at)
            SELECT %(shop)s, o.id, m.id, 1 + o.id %% 5, m.created_at + interval '1 hour', m.created_at + interval '1 hour'
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM shop_order WHERE shop_id = %(shop)s) AS o
            JOIN (SELECT id, created_at, row_number() OVER (ORDER BY id) AS n FROM smsnotify_message
                  WHERE shop_id = %(shop)s AND kind = 'date_campaign' AND status = 'delivered' LIMIT 2000) AS m
              ON m.n = o.n""", params)
    if not _funded(shop):
        credits_grant_bonus(shop=shop, amount=250_000, reason="bench")


def _funded(shop) -> bool:
    from credits.selectors import credit_balance

    return credit_balance(shop) > 0


def _merchant(shop):
    from django.contrib.auth import get_user_model

    from shop.services import staff_add

    user = get_user_model().objects.filter(username=f"bench-{shop.slug}").first()
    if user is None:
        user = get_user_model().objects.create_user(f"bench-{shop.slug}", password="bench-pass-2026")
        staff_add(shop=shop, user=user)
    return user


# --- the measurements ----------------------------------------------------------------------------------


def _p95(times: list[float]) -> float:
    return stats.quantiles(times, n=20, method="inclusive")[18]


def _timed_page(client, url: str, data: dict | None = None) -> list[float]:
    client.get(url, data)  # warm: the connection, the templates, the plan
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(url, data)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url} {data}: {response.status_code}")
    return times


def _explain(shop, span) -> str:
    """PostgreSQL's plans of the statistics' queries over texts (the counted days', the last days' messages)."""
    from django.db import connection

    from campaigns.statistics import text_statistics

    queries = []

    def keep(execute, sql, params, many, context):
        if 'FROM "smsnotify_message"' in sql or 'FROM "campaigns_dailytextcount"' in sql:
            queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        text_statistics(shop=shop, span=span)
    plans = []
    with connection.cursor() as cursor:
        for sql, params in queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(plans)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="generate the data again")
    args = parser.parse_args()
    _database(args.fresh)
    os.environ.update({"DATABASE_URL": _server_url(DATABASE), "DEBUG": "false", "SECRET_KEY": "bench-only",
                       "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "ERROR",
                       "ALLOWED_HOSTS": "testserver", "SECURE_SSL_REDIRECT": "false"})
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    import datetime as dt

    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse
    from django.utils import timezone

    from bench.naive_statistics import naive_text_statistics
    from bench.report import record
    from campaigns.models import CountedDay, DailyTextCount
    from campaigns.statistics import DAY, Range, text_statistics
    from smsnotify.models import Message

    shops = [_shop(*spec[:5]) for spec in SHOPS]
    now = timezone.now()
    for shop, spec in zip(shops, SHOPS):
        if _loaded(shop):
            print(f"{shop.slug}: {MESSAGES_PER_SHOP:,} messages already there (--fresh makes them again)")
            continue
        started = time.perf_counter()
        _load(shop, spec[5], now)
        print(f"{shop.slug}: loaded in {time.perf_counter() - started:.0f} s")
    from django.db import connection

    with connection.cursor() as cursor:  # as autovacuum keeps a live database: statistics, visibility map
        cursor.execute("VACUUM (ANALYZE)")
    total = Message.objects.count()
    shop = shops[0]
    client = Client()
    client.force_login(_merchant(shop))
    today = timezone.localtime(now, shop.zone).date()
    ninety_days = {"period": "week", "start": (today - dt.timedelta(days=DAYS)).isoformat(), "end": today.isoformat()}
    # The bench runs without DEBUG (so no query log) but also without collectstatic: plain static URLs.
    DailyTextCount.objects.filter(shop=shop).delete()
    CountedDay.objects.filter(shop=shop).delete()
    load_before = os.getloadavg()[0]
    with override_settings(STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                                     "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
        started = time.perf_counter()
        client.get(reverse("admin:statistics"), ninety_days)
        first_count_ms = (time.perf_counter() - started) * 1000
        counted = CountedDay.objects.filter(shop=shop).count()
        pages = {"dashboard": _timed_page(client, reverse("admin:index")),
                 "statistics": _timed_page(client, reverse("admin:statistics")),
                 "statistics_90_days": _timed_page(client, reverse("admin:statistics"), ninety_days)}
        # the machine's own noise: a page that reads almost nothing, timed the same way
        baseline = _timed_page(client, reverse("admin:smsnotify_smssettings_changelist"))

    load = (f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; in the same run "
            f"the SMS settings list, 11 small queries, has p95 {_p95(baseline):.0f} ms, median "
            f"{stats.median(baseline):.0f} ms")
    span = Range.covering(unit=DAY, first=today - dt.timedelta(days=29), last=today, zone=shop.zone)
    started = time.perf_counter()
    periods, kinds, replies = naive_text_statistics(shop=shop, span=span)
    naive_ms = (time.perf_counter() - started) * 1000
    ours = text_statistics(shop=shop, span=span)
    if periods != ours.periods or kinds != ours.kinds or replies != ours.replies:
        sys.exit("The naive loop and the grouped query disagree on the statistics' figures.")
    in_range = sum(figures.attempted for figures in periods.values())
    print(_explain(shop, span))

    ok = record("statistics_first_count", figure=first_count_ms, unit="ms", target=None, naive=None,
                higher_is_better=False,
                notes=f"the first statistics page of the shop's life (90 days per week): counts {counted} fixed days "
                      f"of its {MESSAGES_PER_SHOP:,} messages into DailyTextCount, once")
    notes = {
        "dashboard": "the admin's first page of a merchant",
        "statistics": "default range: the last 30 days, per day",
        "statistics_90_days": f"all {DAYS} days, per week",
    }
    for name, times in pages.items():
        p95 = _p95(times)
        ok &= record(f"{name}_p95", figure=p95, unit="ms", target=TARGET_MS, naive=naive_ms, higher_is_better=False,
                     notes=f"{total:,} messages in 2 shops over {DAYS} days; {notes[name]}; p95 of {REQUESTS} requests "
                           f"({load}) "
                           f"through Django's test Client (median {stats.median(times):.0f} ms). Naive: the 30 days' "
                           f"messages of the shop ({in_range:,} sent or failed) read and counted in a Python loop, "
                           f"{naive_ms:,.0f} ms for the text figures alone, which equal the page's")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
