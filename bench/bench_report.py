"""The SMS report of 1,000,000 texts: peak memory (and seconds) of the streamed export, CSV and
XLSX, against the naive approach.

The export as the admin page answers it (``smsnotify.admin._report_response``): the rows read
in chunks through a server-side cursor, the CSV yielded line by line, the XLSX written by
openpyxl's write-only workbook to a temporary file and streamed from it; the response is read
to the end as a WSGI server would send it (into /dev/null). The naive approach: ``list()`` of
every row, then ``csv.writer`` into an ``HttpResponse`` / openpyxl's normal workbook saved into
one. Each runs in a process of its own; its peak memory is that process's peak resident memory
(Python, Django and the libraries included), read from /proc (VmHWM) as it ends. The naive XLSX
takes about 20 minutes and 4 GB for a million rows on two busy cores: ``--naive-xlsx-rows`` runs
it on fewer (its memory is then reported without a ratio).

    report of 1,000,000 texts: target <= 100 MB peak, CSV and XLSX

Run: make bench (or DATABASE_URL=postgres://… .venv/bin/python bench/bench_report.py). It works
in a database of its own (<name>_report); the million texts are made once, by one
INSERT … SELECT over generate_series, and kept for the next runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MB = 100.0
SLUG = "report-bench"
FIRST = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SPACING_SECONDS = 15  # a million texts over 174 days: one report within its 367-day limit


def _database() -> tuple[str, str]:
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        sys.exit("bench_report needs DATABASE_URL=postgres://… (make bench sets it).")
    parts = urlsplit(database)
    name = (parts.path.lstrip("/") or "bench") + "_report"
    return urlunsplit(parts._replace(path="/" + name)), name


def _django(*, child: bool = False) -> None:
    if not child:  # a child has the parent's environment already
        os.environ.update({"DATABASE_URL": _database()[0], "DEBUG": "false", "SECRET_KEY": "bench-only",
                           "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "WARNING"})
        os.environ.pop("REDIS_URL", None)  # nothing here rings a worker
    import django

    django.setup()


def _range(rows: int) -> tuple[dt.date, dt.date]:
    """The days of the first ``rows`` texts (the last day's whole; the shop is in UTC)."""
    last = FIRST + dt.timedelta(seconds=SPACING_SECONDS * (rows - 1))
    return FIRST.date(), last.date()


# --- the children: one export each, measured by the parent ------------------------------------------


def child(role: str, rows: int) -> None:
    _django(child=True)
    from shop.models import Shop
    from smsnotify import report
    from smsnotify.admin import _report_response

    shop = Shop.objects.get(slug=SLUG)
    start, end = _range(rows)
    began = time.monotonic()
    if role.startswith("stream"):
        response = _report_response(shop=shop, start=start, end=end, file_format=role.split("-")[1])
        size = 0
        with open(os.devnull, "wb") as sink:
            for chunk in response.streaming_content:
                sink.write(chunk)
                size += len(chunk)
        response.close()
    else:
        size = len(_naive(role.split("-")[1], shop, report.report_messages(shop=shop, start=start, end=end)).content)
    print(json.dumps({"seconds": time.monotonic() - began, "bytes": size, "peak_mb": _peak_mb()}))


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss, which a child
    inherits from the parent it was forked from (Linux keeps the old high-water mark at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def _naive(file_format: str, shop, messages):
    """Every row in a list, the whole file built in memory."""
    import csv
    import io

    from django.http import HttpResponse
    from openpyxl import Workbook

    from smsnotify import report

    shaper = report._Rows(shop)
    rows = list(messages.values_list(*report._COLUMNS))
    if file_format == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv.writer(response)
        writer.writerow(shaper.headers)
        for row in rows:
            cells = shaper.cells(row)
            cells[2] = cells[2].strftime("%Y-%m-%d %H:%M:%S") if cells[2] else ""
            writer.writerow(cells)
        return response
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(shaper.headers)
    for row in rows:
        sheet.append(shaper.cells(row))
    file = io.BytesIO()
    workbook.save(file)
    return HttpResponse(file.getvalue())


def _measure(role: str, rows: int) -> dict:
    """Run one child; its seconds and output size as it reports them, and its peak memory."""
    process = subprocess.Popen([sys.executable, __file__, "--child", role, "--rows", str(rows)], cwd=ROOT,
                               stdout=subprocess.PIPE, env=dict(os.environ))
    output, _ = process.communicate()
    if process.returncode != 0:
        sys.exit(f"the {role} child failed ({process.returncode})")
    result = {**json.loads(output.decode().strip().splitlines()[-1]), "rows": rows}
    print(f"  {role:12} first {rows:>9,} texts: {result['seconds']:6.1f} s, {result['peak_mb']:7.1f} MB peak, "
          f"{result['bytes'] / 1e6:7.1f} MB out")
    return result


# --- the parent ----------------------------------------------------------------------------------


def _ensure_database() -> None:
    import psycopg

    maintenance = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    name = _database()[1]
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _ensure_messages(rows: int) -> int:
    """The bench shop with at least ``rows`` texts, made once; returns the shop's id (a smaller
    run reads the first days of a larger run's texts)."""
    from django.db import connection, transaction

    from shop.models import Shop
    from shop.services import shop_create
    from smsnotify.models import Message, SmsSettings

    shop = Shop.objects.filter(slug=SLUG).first()
    if shop is None:
        shop = shop_create(name="Report Bench", slug=SLUG, country="US", currency="USD", time_zone="UTC")
        SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
    if Message.objects.filter(shop=shop).count() >= rows:
        return shop.pk
    began = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        # Another run's count: its rows go with one statement (they have no events, no ledger rows).
        cursor.execute(f"DELETE FROM {Message._meta.db_table} WHERE shop_id = %s", [shop.pk])
        # One in ten abroad (+44 7…, +48 …), one in seven split into three parts, one in fifty refused.
        cursor.execute(f"""
            INSERT INTO {Message._meta.db_table} (shop_id, direction, kind, lane, recipient, sender, body, encoding,
                segments, credits_charged, status, send_at, sent_at, created_at, updated_at, attempts, gateway,
                provider_id, error_code, error_text)
            SELECT %s, 'out', (ARRAY['order_status', 'bulk', 'manual', 'tracking', 'date_campaign'])[1 + n %% 5],
                   'service',
                   CASE WHEN n %% 20 = 0 THEN '+447911' || lpad((n %% 1000000)::text, 6, '0')
                        WHEN n %% 20 = 10 THEN '+48601' || lpad((n %% 1000000)::text, 6, '0')
                        ELSE '+1202555' || lpad((n %% 10000)::text, 4, '0') END,
                   'Bench', 'Your order has shipped.', 'GSM-7', CASE WHEN n %% 7 = 0 THEN 3 ELSE 1 END,
                   CASE WHEN n %% 50 = 0 THEN 0 ELSE 12 END,
                   CASE WHEN n %% 50 = 0 THEN 'failed' ELSE 'delivered' END,
                   %s + n * interval '{SPACING_SECONDS} seconds',
                   CASE WHEN n %% 50 = 0 THEN NULL ELSE %s + n * interval '{SPACING_SECONDS} seconds' END,
                   %s + n * interval '{SPACING_SECONDS} seconds', now(), 1, 'twilio',
                   'SM' || md5(n::text), CASE WHEN n %% 50 = 0 THEN '21211' ELSE '' END, ''
            FROM generate_series(0, %s - 1) AS n""", [shop.pk, FIRST, FIRST, FIRST, rows])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Message._meta.db_table}")
    print(f"made {rows:,} texts in {time.monotonic() - began:.1f} s (kept for the next runs)")
    return shop.pk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-xlsx-rows", type=int, help="run the naive XLSX on this many rows only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return 0

    _ensure_database()
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.report import record

    _ensure_messages(args.rows)
    from shop.models import Shop
    from smsnotify.report import report_messages

    exported = report_messages(shop=Shop.objects.get(slug=SLUG), start=_range(args.rows)[0],
                               end=_range(args.rows)[1]).count()
    naive_xlsx_rows = min(args.naive_xlsx_rows or args.rows, args.rows)
    results = {role: _measure(role, rows) for role, rows in (
        ("stream-csv", args.rows), ("naive-csv", args.rows), ("stream-xlsx", args.rows),
        ("naive-xlsx", naive_xlsx_rows))}
    ok = True
    for file_format in ("csv", "xlsx"):
        streamed, naive = results[f"stream-{file_format}"], results[f"naive-{file_format}"]
        full = naive["rows"] == args.rows
        notes = (f"{exported:,} texts, PostgreSQL; peak resident memory (VmHWM) of the process that exported them "
                 f"(Python, Django and the libraries included), the response read to the end; streamed "
                 f"{streamed['seconds']:.1f} s, naive (list() of the rows, the file built in memory) "
                 f"{naive['seconds']:.1f} s" + ("" if full else f" and {naive['peak_mb']:,.0f} MB on the first "
                                                 f"{naive['rows']:,} only") +
                 f"; {streamed['bytes'] / 1e6:.0f} MB file")
        ok &= record(f"report_{file_format}_peak_memory", figure=streamed["peak_mb"], unit="MB", target=TARGET_MB,
                     naive=naive["peak_mb"] if full else None, higher_is_better=False, notes=notes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
