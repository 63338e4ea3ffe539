"""The SMS report: one shop's outbound texts over a range of dates, as CSV or XLSX.

A row is a text: its recipient split into calling code and number, when it left, the gateway
and sender that carried it, its kind, how many SMS it took (more than one: the text was split),
domestic or international, its status, error code and the credits it cost. A text counts on the
day it left; one that never left (cancelled, refused, failed before the gateway) on the day it
was due. Dates are the shop's, both inclusive; times are written in the shop's time zone and
the headers in its language.

Neither format holds the rows in memory: they are read from the database in chunks
(``iterator(chunk_size=…)``, a server-side cursor on PostgreSQL). The CSV is yielded line by
line; the XLSX is written by XlsxWriter in its ``constant_memory`` mode, which flushes each row
to a temporary file as the next one starts (strings inline, no shared-string table), and is then
streamed from the finished file (bench/bench_report.py: a million rows).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

import phonenumbers
from django.db.models import QuerySet
from xlsxwriter import Workbook
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.translation import gettext as _

from shop.customer_export import EchoWriter, customer_export_delimiter
from shop.models import Shop

from .models import Direction, Kind, Message, Status
from .phones import calling_code_split

# A year and a day: "the same date last year to today" fits. A longer export is several.
REPORT_MAX_DAYS = 367
CHUNK_ROWS = 2000
XLSX_MAX_ROWS = 1_048_576  # a worksheet's limit, its header row included: more rows go on to a next sheet

_COLUMNS = ("recipient", "sent_at", "gateway", "sender", "kind", "segments", "status", "error_code",
            "credits_charged")
# The gateways by their products' names (Message.gateway holds the backend's ``name``).
GATEWAY_NAMES = {"twilio": "Twilio", "sandbox": "Sandbox", "console": "Console", "locmem": "Locmem"}


def report_bounds(*, shop: Shop, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The moments the shop's dates ``start`` … ``end`` (both included) run from and up to (excluded)."""
    zone = shop.zone
    return (dt.datetime.combine(start, dt.time(), zone),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone))


def report_messages(*, shop: Shop, start: dt.date, end: dt.date) -> QuerySet:
    """The shop's outbound texts of those dates, in the order they left."""
    since, until = report_bounds(shop=shop, start=start, end=end)
    return (Message.objects.filter(shop=shop, direction=Direction.OUTBOUND)
            .annotate(report_at=Coalesce("sent_at", "send_at"))
            .filter(report_at__gte=since, report_at__lt=until)
            .order_by("report_at", "pk"))


def report_headers() -> list[str]:
    """The columns' names in the active language."""
    return [_("International calling code"), _("Number"), _("Sent at"), _("SMS agent"), _("Sender"),
            _("Message type"), _("SMS count"), _("Destination"), _("Status"), _("Error code"), _("Credits")]


class _Rows:
    """Turns the query's tuples into the report's cells, with every label put into words once,
    in the shop's language, before the first row: the rows may be read after the request's
    own language and time zone are gone (a streamed response)."""

    def __init__(self, shop: Shop):
        self.zone = shop.zone
        self.home = phonenumbers.country_code_for_region(shop.country.upper())
        with translation.override(shop.language):
            self.headers = report_headers()
            self.kinds = {kind.value: str(kind.label) for kind in Kind}
            self.statuses = {status.value: str(status.label) for status in Status}
            self.destinations = {True: _("Domestic"), False: _("International")}

    def cells(self, row: tuple) -> list:
        recipient, sent_at, gateway, sender, kind, segments, status, error_code, credits = row
        code, national = calling_code_split(recipient)
        return [
            f"+{code}" if code else "", national,
            sent_at.astimezone(self.zone).replace(tzinfo=None) if sent_at else None,
            GATEWAY_NAMES.get(gateway, gateway), _plain(sender), self.kinds.get(kind, kind), segments,
            # An unreadable number is no cheaper to reach than abroad (credits.pricing prices it so).
            self.destinations[code is not None and code == self.home],
            self.statuses.get(status, status), _plain(error_code), credits,
        ]

    def each(self, messages: QuerySet) -> Iterator[list]:
        for row in messages.values_list(*_COLUMNS).iterator(chunk_size=CHUNK_ROWS):
            yield self.cells(row)


def _plain(text: str) -> str:
    """Text a spreadsheet would run as a formula is quoted (CSV injection): a provider's error
    code is whatever the provider said."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) and not text[1:].isdigit() else text


def report_csv(*, shop: Shop, messages: QuerySet) -> Iterator[str]:
    """The CSV text, line by line: UTF-8 with the byte-order mark by which Excel knows it is
    UTF-8, separated as the shop's spreadsheets expect."""
    rows = _Rows(shop)
    writer = csv.writer(EchoWriter(), delimiter=customer_export_delimiter(shop=shop))
    yield "\ufeff" + writer.writerow(rows.headers)
    for cells in rows.each(messages):
        if cells[2] is not None:
            cells[2] = cells[2].strftime("%Y-%m-%d %H:%M:%S")
        yield writer.writerow(cells)


def report_xlsx(*, shop: Shop, messages: QuerySet, file: IO[bytes]) -> None:
    """Write the workbook to ``file`` (a temporary file the response then streams)."""
    rows = _Rows(shop)
    _write_xlsx(rows.headers, rows.each(messages), file, title=_sheet_title(shop))


def _write_xlsx(headers: list[str], rows: Iterable[list], file: IO[bytes], *, title: str) -> None:
    # Text stays text: a provider's error or a sender is never read as a formula, a link or a number.
    workbook = Workbook(file, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                               "strings_to_numbers": False, "tmpdir": tempfile.gettempdir()})
    moment = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet, row, sheets = None, XLSX_MAX_ROWS, 0
    for cells in rows:
        if row == XLSX_MAX_ROWS:
            sheets += 1
            sheet = workbook.add_worksheet(title if sheets == 1 else f"{title} ({sheets})")
            sheet.set_column(2, 2, 19)  # the time, whole
            sheet.write_row(0, 0, headers)
            row = 1
        sheet.write_row(row, 0, cells[:2])
        if cells[2] is not None:
            sheet.write_datetime(row, 2, cells[2], moment)
        sheet.write_row(row, 3, cells[3:])
        row += 1
    if sheet is None:  # no texts in the range: the headers alone
        workbook.add_worksheet(title).write_row(0, 0, headers)
    workbook.close()


def _sheet_title(shop: Shop) -> str:
    with translation.override(shop.language):
        return _("SMS report")[:31]  # Excel's limit for a sheet's name
