"""The SMS report (smsnotify/report.py) and its admin page: columns, the shop's dates and time
zone, CSV and XLSX alike, tenancy, bad ranges, and memory that does not grow with the rows."""

import csv
import datetime as dt
import io
import tracemalloc
import zoneinfo

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from smsnotify import report
from smsnotify.models import Direction, Kind, Message, Status
from tests.factories import MessageFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

REPORT = "admin:smsnotify_message_report"
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
HEADERS = ["International calling code", "Number", "Sent at", "SMS agent", "Sender", "Message type", "SMS count",
           "Destination", "Status", "Error code", "Credits"]


def at(text: str, zone=NEW_YORK) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.fixture
def us_shop(db):
    return make_shop(name="Acme", country="US", language="en", time_zone="America/New_York")


def sent(shop, when: dt.datetime, **kwargs) -> Message:
    values = dict(shop=shop, recipient="+12025550123", kind=Kind.ORDER_STATUS, status=Status.DELIVERED,
                  gateway="twilio", sender="Acme", segments=1, credits_charged=12, send_at=when, sent_at=when,
                  created_at=when)
    return MessageFactory(**{**values, **kwargs})


def csv_rows(shop, start, end) -> list[list[str]]:
    text = "".join(report.report_csv(shop=shop, messages=report.report_messages(shop=shop, start=start, end=end)))
    assert text.startswith("\ufeff")
    delimiter = ";" if shop.language in ("pl", "pt") else ","
    return list(csv.reader(io.StringIO(text[1:]), delimiter=delimiter))


def xlsx_rows(shop, start, end) -> list[list]:
    file = io.BytesIO()
    report.report_xlsx(shop=shop, messages=report.report_messages(shop=shop, start=start, end=end), file=file)
    workbook = openpyxl.load_workbook(io.BytesIO(file.getvalue()), read_only=True)
    return [[sheet.title, *row] for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]


def test_every_column_of_a_row(us_shop):
    day = dt.date(2026, 3, 10)
    sent(us_shop, at("2026-03-10 09:15:00"), recipient="+12025550123", segments=3, credits_charged=36,
         kind=Kind.ORDER_STATUS)
    # +44 7911 … parses as Guernsey (GG), +1 416 is Canada: by calling code, 44 is abroad and +1 is home
    sent(us_shop, at("2026-03-10 10:00:00"), recipient="+447911123456", credits_charged=30, kind=Kind.BULK,
         sender="", gateway="sandbox")
    sent(us_shop, at("2026-03-10 11:00:00"), recipient="+14165550123", kind=Kind.MANUAL)
    # never left: refused by the provider; counted on the day it was due, no sent time
    sent(us_shop, at("2026-03-10 12:00:00"), recipient="+48538506896", status=Status.FAILED, sent_at=None,
         error_code="21211", credits_charged=0, kind=Kind.GATEWAY_TEST)
    # received texts are not sent texts
    sent(us_shop, at("2026-03-10 13:00:00"), direction=Direction.INBOUND, kind=Kind.INBOUND, recipient="+12025550199")

    rows = csv_rows(us_shop, day, day)

    assert rows == [
        HEADERS,
        ["+1", "2025550123", "2026-03-10 09:15:00", "Twilio", "Acme", "Order status", "3", "Domestic", "Delivered",
         "", "36"],
        ["+44", "7911123456", "2026-03-10 10:00:00", "Sandbox", "", "Bulk send", "1", "International", "Delivered",
         "", "30"],
        ["+1", "4165550123", "2026-03-10 11:00:00", "Twilio", "Acme", "Sent by hand", "1", "Domestic", "Delivered",
         "", "12"],
        ["+48", "538506896", "", "Twilio", "Acme", "Test text", "1", "International", "Failed", "21211", "0"],
    ]


def test_the_range_is_the_shops_dates_in_its_time_zone(us_shop):
    # 23:30 on the last day of February in New York is 04:30 on 1 March in UTC
    sent(us_shop, at("2026-02-28 23:30:00"), recipient="+12025550101")
    sent(us_shop, at("2026-03-01 00:00:00"), recipient="+12025550102")  # the first moment of the first day
    sent(us_shop, at("2026-03-02 23:59:59"), recipient="+12025550103")  # the last second of the last day
    sent(us_shop, at("2026-03-03 00:00:00"), recipient="+12025550104")  # the next day

    rows = csv_rows(us_shop, dt.date(2026, 3, 1), dt.date(2026, 3, 2))

    assert [(row[1], row[2]) for row in rows[1:]] == [("2025550102", "2026-03-01 00:00:00"),
                                                      ("2025550103", "2026-03-02 23:59:59")]
    assert report.report_bounds(shop=us_shop, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 2)) == (
        dt.datetime(2026, 3, 1, 5, tzinfo=dt.timezone.utc), dt.datetime(2026, 3, 3, 5, tzinfo=dt.timezone.utc))


def test_a_polish_shop_reads_polish_headers_warsaw_time_and_semicolons(db):
    shop = make_shop(country="PL", language="pl", currency="PLN", time_zone="Europe/Warsaw")
    sent(shop, dt.datetime(2026, 7, 1, 10, tzinfo=dt.timezone.utc), recipient="+48538506896", segments=2)

    header, row = csv_rows(shop, dt.date(2026, 7, 1), dt.date(2026, 7, 1))

    assert header[:3] == ["Międzynarodowy numer kierunkowy", "Numer", "Wysłano"]
    assert row[:3] == ["+48", "538506896", "2026-07-01 12:00:00"]  # summer time: UTC+2
    assert row[5:8] == ["Status zamówienia", "2", "Krajowy"]


def test_the_xlsx_has_the_same_rows_as_the_csv(us_shop):
    sent(us_shop, at("2026-03-10 09:15:00"), segments=2, credits_charged=24)
    sent(us_shop, at("2026-03-10 12:00:00"), recipient="+447911123456", status=Status.FAILED, sent_at=None,
         error_code="21612", credits_charged=0)
    day = dt.date(2026, 3, 10)

    from_csv = csv_rows(us_shop, day, day)
    from_xlsx = xlsx_rows(us_shop, day, day)

    assert [row[0] for row in from_xlsx] == ["SMS report"] * 3
    assert from_xlsx[1][3] == dt.datetime(2026, 3, 10, 9, 15)  # a date cell, in the shop's time, naive
    as_text = [["" if cell is None else cell.strftime("%Y-%m-%d %H:%M:%S") if isinstance(cell, dt.datetime)
                else str(cell) for cell in row[1:]] for row in from_xlsx]
    assert as_text == from_csv


def test_a_report_longer_than_a_worksheet_goes_on_to_the_next_sheet(us_shop, monkeypatch):
    monkeypatch.setattr(report, "XLSX_MAX_ROWS", 3)  # the header and two texts a sheet
    for minute in range(5):
        sent(us_shop, at(f"2026-03-10 09:0{minute}:00"), recipient=f"+1202555010{minute}")

    rows = xlsx_rows(us_shop, dt.date(2026, 3, 10), dt.date(2026, 3, 10))

    assert [(row[0], row[2]) for row in rows] == [
        ("SMS report", "Number"), ("SMS report", "2025550100"), ("SMS report", "2025550101"),
        ("SMS report (2)", "Number"), ("SMS report (2)", "2025550102"), ("SMS report (2)", "2025550103"),
        ("SMS report (3)", "Number"), ("SMS report (3)", "2025550104")]


def test_an_empty_range_is_the_headers_alone(us_shop):
    assert csv_rows(us_shop, dt.date(2026, 1, 1), dt.date(2026, 1, 31)) == [HEADERS]
    assert [row[1:] for row in xlsx_rows(us_shop, dt.date(2026, 1, 1), dt.date(2026, 1, 31))] == [HEADERS]


def test_only_the_shops_own_texts(us_shop):
    other = make_shop(country="US")
    sent(other, at("2026-03-10 09:00:00"), recipient="+12025550177")
    sent(us_shop, at("2026-03-10 09:00:00"), recipient="+12025550123")

    rows = csv_rows(us_shop, dt.date(2026, 3, 10), dt.date(2026, 3, 10))

    assert [row[1] for row in rows[1:]] == ["2025550123"]


# --- memory: the rows are read in chunks and written as they come -------------------------------


def _many(shop, count: int) -> None:
    when = at("2026-03-10 09:00:00")
    Message.objects.bulk_create([
        Message(shop=shop, recipient=f"+1202{n:07d}", body="Hello", kind=Kind.BULK, status=Status.DELIVERED,
                gateway="twilio", sender="Acme", send_at=when, sent_at=when + dt.timedelta(seconds=n), created_at=when)
        for n in range(count)], batch_size=1000)


def _peak(consume) -> int:
    tracemalloc.start()
    try:
        consume()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_memory_does_not_grow_with_the_rows(us_shop, monkeypatch, file_format):
    """Ten times the rows, not ten times the memory: what a list of every row would cost."""
    monkeypatch.setattr(report, "CHUNK_ROWS", 100)
    small, large = make_shop(time_zone="America/New_York"), us_shop
    _many(small, 400)
    _many(large, 4000)
    day = dt.date(2026, 3, 10)

    def consume(shop):
        messages = report.report_messages(shop=shop, start=day, end=day)
        if file_format == "csv":
            for _line in report.report_csv(shop=shop, messages=messages):
                pass
        else:
            report.report_xlsx(shop=shop, messages=messages, file=_Sink())

    consume(small)  # imports, translations and caches warmed up
    peak_small, peak_large = _peak(lambda: consume(small)), _peak(lambda: consume(large))

    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)
    # the control: holding the rows at once does grow tenfold, so the measure can tell
    rows = lambda shop: list(report.report_messages(shop=shop, start=day, end=day).values_list())  # noqa: E731
    assert _peak(lambda: rows(large)) > 5 * _peak(lambda: rows(small))


class _Sink(io.RawIOBase):
    """A file that forgets what is written to it (the zip's bytes would grow with the rows)."""

    def __init__(self):
        self.position = 0

    def writable(self):
        return True

    def seekable(self):
        return False

    def tell(self):
        return self.position

    def write(self, data):
        self.position += len(data)
        return len(data)


# --- the admin page ---------------------------------------------------------------------------


@pytest.fixture
def merchant(client, us_shop):
    client.force_login(make_merchant(us_shop))
    return client


def download(client, **params):
    return client.get(reverse(REPORT), params)


def test_the_page_is_reached_from_the_message_list_and_the_navigation(merchant):
    url = reverse(REPORT)
    assert url in merchant.get(reverse("admin:smsnotify_message_changelist")).content.decode()
    assert url in merchant.get(reverse("admin:index")).content.decode()
    page = merchant.get(url)
    assert page.status_code == 200
    assert "shop" not in page.context["form"].fields  # a merchant's report is their shop's


def test_the_report_is_the_messages_own_page_not_the_sending_errors(merchant):
    url = reverse(REPORT)
    assert url == "/admin/smsnotify/message/report/"  # the error and scheduled lists' copies once took its name
    assert reverse("admin:smsnotify_message_receive") == "/admin/smsnotify/message/receive/"
    page = merchant.get(url).content.decode()
    breadcrumbs = page.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert reverse("admin:smsnotify_message_changelist") in breadcrumbs and "SMS report" in breadcrumbs
    assert "Sending errors" not in breadcrumbs and "failedmessage/report" not in page
    # in the menu the report, not the messages above it, is the current page
    assert 'class="sms-report-nav" aria-current="page"' in page
    assert f'<a href="{reverse("admin:smsnotify_message_changelist")}" aria-current="page">' not in page
    assert f'<a href="{reverse("admin:smsnotify_message_changelist")}" aria-current="page">' in \
        merchant.get(reverse("admin:smsnotify_message_changelist")).content.decode()


@pytest.mark.parametrize("old_list", ["failedmessage", "scheduledmessage"])
def test_the_reports_old_address_under_a_message_list_leads_to_it(merchant, old_list):
    response = merchant.get(f"/admin/campaigns/{old_list}/report/?start=2026-03-10&end=2026-03-10&format=csv")
    assert response.status_code == 302
    assert response["Location"] == reverse(REPORT) + "?start=2026-03-10&end=2026-03-10&format=csv"
    assert merchant.get(f"/admin/campaigns/{old_list}/receive/")["Location"] == \
        reverse("admin:smsnotify_message_receive")


def test_the_csv_download_streams_the_shops_rows(merchant, us_shop):
    sent(us_shop, at("2026-03-10 09:15:00"))

    response = download(merchant, start="2026-03-10", end="2026-03-10", format="csv")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="sms-report-{us_shop.slug}-20260310-20260310.csv"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 and lines[1].startswith("+1,2025550123,2026-03-10 09:15:00,Twilio")


def test_the_xlsx_download_is_a_workbook(merchant, us_shop):
    sent(us_shop, at("2026-03-10 09:15:00"))

    response = download(merchant, start="2026-03-10", end="2026-03-10", format="xlsx")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    assert [row[:2] for row in workbook.active.iter_rows(values_only=True)] == [
        ("International calling code", "Number"), ("+1", "2025550123")]


@pytest.mark.parametrize("params,field,words", [
    ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "The last day cannot be before the first."),
    ({"start": "2025-01-01", "end": "2026-03-01"}, "end", "At most 367 days at once"),
    ({"start": "yesterday", "end": "2026-03-01"}, "start", "Enter a valid date."),
    ({"start": "2026-03-01", "end": "9999-12-31"}, "end", "Choose a day between 2000-01-01 and 2099-12-31."),
    ({"start": "2026-03-01", "end": "2026-03-01", "format": "pdf"}, "format", "Select a valid choice."),
    ({"start": "", "end": ""}, "start", "This field is required."),
])
def test_a_bad_range_is_a_form_error_on_the_page(merchant, params, field, words):
    response = download(merchant, **{"format": "csv", **params})

    assert response.status_code == 200 and not getattr(response, "streaming", False)
    assert any(words in error for error in response.context["form"].errors[field])
    assert words.replace("'", "&#x27;") in response.content.decode()


def test_an_excel_file_too_large_to_write_in_time_asks_for_csv(merchant, us_shop, settings):
    settings.SMS_REPORT_XLSX_MAX_ROWS = 1
    for minute in range(2):
        sent(us_shop, at(f"2026-03-10 09:0{minute}:00"))

    refused = download(merchant, start="2026-03-10", end="2026-03-10", format="xlsx")
    as_csv = download(merchant, start="2026-03-10", end="2026-03-10", format="csv")
    shorter = download(merchant, start="2026-03-09", end="2026-03-09", format="xlsx")

    assert refused.context["form"].errors["format"] == [
        "2 texts are too many for one Excel file (at most 1): choose CSV, or a shorter period."]
    assert as_csv.streaming and shorter.streaming


def test_a_merchant_cannot_ask_for_another_shops_report(merchant, us_shop):
    other = make_shop(country="US")
    sent(other, at("2026-03-10 09:00:00"), recipient="+12025550177")

    response = download(merchant, start="2026-03-10", end="2026-03-10", format="csv", shop=other.pk)

    assert b"2025550177" not in b"".join(response.streaming_content)


def test_the_operator_picks_the_shop(client, us_shop, django_user_model):
    other = make_shop(country="US")
    sent(other, at("2026-03-10 09:00:00"), recipient="+12025550177")
    sent(us_shop, at("2026-03-10 09:00:00"), recipient="+12025550123")
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-123"))

    missing = download(client, start="2026-03-10", end="2026-03-10", format="csv")
    assert missing.status_code == 200 and missing.context["form"].errors["shop"]
    response = download(client, start="2026-03-10", end="2026-03-10", format="csv", shop=other.pk)
    body = b"".join(response.streaming_content)
    assert b"2025550177" in body and b"2025550123" not in body
    assert download(client, start="2026-03-10", end="2026-03-10", format="csv", shop="x").context["form"].errors["shop"]


def test_an_outsider_gets_the_login_page(client):
    response = client.get(reverse(REPORT), {"start": "2026-03-10", "end": "2026-03-10", "format": "csv"})
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_the_page_offers_this_month_in_the_shops_time_zone(merchant):
    with time_machine.travel(dt.datetime(2026, 3, 1, 2, tzinfo=dt.timezone.utc)):  # still 28 February in New York
        form = merchant.get(reverse(REPORT)).context["form"]
    assert (form["start"].initial, form["end"].initial) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
