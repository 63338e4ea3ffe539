"""A shop's customer list in and out of the admin, as a CSV file (what every spreadsheet saves).

Import is two steps. ``customer_import_preview`` reads the file, checks every row and keeps the
result for the merchant to read before anything is written; ``customer_import_confirm`` checks
again and writes every customer of the file, or none when any row has an error. The rules:

- Mobile Number + International Calling Code are one number, stored in E.164; with no calling
  code the number is read in the shop's country.
- Is Member "Y": a member, imported with the number; "N": the number is not imported.
- Marketing consent is imported as granted only with its date and its source (the proof a
  carrier or a regulator asks for); without them it is imported as not asked.
- A number or an email twice in the file, or already a customer's of the shop, is an error.

shop/customer_export.py writes the same columns, so an exported file imports again.

The columns' names are English whatever the shop's language (a file moves between systems);
the preview names them in the reader's language. What a check found is stored as codes and
values and translated when shown.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import CharField
from django.db.models.functions import Cast, Lower
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy

from . import phones
from .money import format_number
from .models import ConsentSource, Customer, CustomerImport, CustomerImportStatus, MarketingConsent, Shop

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
_SHOWN_ERRORS = 500  # rows with errors the preview lists (the counts cover all)
_SHOWN_ROWS = 100  # rows a file without errors shows before it is imported
_SOURCE_MAX = 500
_QUERY_CHUNK = 1000


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # as files spell it
    label: str  # as the preview names it (lazy)
    required: bool = False


COLUMNS = (
    Column("phone", "Mobile Number", gettext_lazy("mobile number"), required=True),
    Column("calling_code", "International Calling Code", gettext_lazy("international calling code"), required=True),
    Column("member", "Is Member", gettext_lazy("member"), required=True),
    Column("first_name", "First Name", gettext_lazy("first name")),
    Column("last_name", "Last Name", gettext_lazy("last name")),
    Column("email", "Email", gettext_lazy("email")),
    Column("birthday", "Birthday", gettext_lazy("birthday")),
    Column("consent", "Marketing Consent", gettext_lazy("marketing consent")),
    Column("consent_at", "Marketing Consent Date", gettext_lazy("marketing consent date")),
    Column("consent_source", "Marketing Consent Source", gettext_lazy("marketing consent source")),
)
HEADERS = [column.header for column in COLUMNS]
LABELS = {column.key: column.label for column in COLUMNS}

# What a row's check can find: errors stop the whole file; notes say what is imported otherwise
# than the file says. Keyed by code, filled with the stored values when shown.
PROBLEMS = {
    "number_invalid": gettext_lazy("%(value)s is not a valid phone number."),
    "number_not_mobile": gettext_lazy("%(value)s cannot receive text messages: it is not a mobile number."),
    "calling_code_unknown": gettext_lazy("%(value)s is not an international calling code."),
    "calling_code_mismatch": gettext_lazy("%(value)s does not belong to calling code +%(code)s."),
    "number_missing": gettext_lazy("A member (Is Member: Y) needs a mobile number."),
    "member_invalid": gettext_lazy("Is Member must be Y or N, not “%(value)s”."),
    "number_twice_in_file": gettext_lazy("The same mobile number is on line %(line)s."),
    "email_twice_in_file": gettext_lazy("The same email is on line %(line)s."),
    "number_in_shop": gettext_lazy("A customer of the shop already has this mobile number."),
    "email_in_shop": gettext_lazy("A customer of the shop already has this email."),
    "email_invalid": gettext_lazy("%(value)s is not a valid email address."),
    "date_invalid": gettext_lazy("%(value)s is not a date: write it as YYYY-MM-DD."),
    "date_future": gettext_lazy("%(value)s is in the future."),
    "consent_invalid": gettext_lazy("Marketing Consent must be Y, N or empty, not “%(value)s”."),
    "too_long": gettext_lazy("Longer than %(max)s characters."),
    # notes
    "number_not_imported": gettext_lazy("Not a member: the number is not imported."),
    "consent_unproven": gettext_lazy("Consent without its date and source: imported as not asked."),
    "nothing_to_import": gettext_lazy("No number, name or email to import: the row is skipped."),
}


def problem_text(problem: dict) -> str:
    """A stored problem in the active language."""
    return str(PROBLEMS[problem["code"]]) % problem.get("params", {})


class CustomerFileError(ValidationError):
    """The file as a whole cannot be read (type, size, encoding, columns): nothing is kept."""


class CustomerImportRejected(ValidationError):
    """Confirming found errors (or nothing waiting): nothing was written."""


# --- the file -------------------------------------------------------------------------------------

_SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".numbers"}
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"  # xlsx / ods, and old .xls
# Where spreadsheets save "CSV" in Windows-1250 rather than Windows-1252 (Western Europe, the Americas).
_CP1250_COUNTRIES = {"PL", "CZ", "SK", "HU", "SI", "HR", "RO", "AL", "BA", "RS", "ME", "MK"}


def _save_as_csv() -> str:
    return _("Save the sheet as CSV (in Excel: File → Save As → “CSV UTF-8”) and upload that file.")


def customer_file_read(*, upload, shop: Shop) -> tuple[str, str]:
    """The uploaded file's text and the encoding it was read in.

    UTF-8 (with or without the byte-order mark Excel writes) first; a file that is not UTF-8 is
    read as the shop's Windows code page (1250 in Central Europe, else 1252), which is what a
    spreadsheet saves as plain "CSV" there; Latin-1 reads anything left."""
    suffix = PurePath(upload.name or "").suffix.lower()
    if suffix in _SPREADSHEET_SUFFIXES:
        raise CustomerFileError(_("This is a spreadsheet, not a CSV file.") + " " + _save_as_csv(), code="spreadsheet")
    if suffix not in _TEXT_SUFFIXES:
        raise CustomerFileError(_("Upload a CSV file (.csv)."), code="file_type")
    if upload.size > MAX_BYTES:
        raise CustomerFileError(_("The file is larger than %(size)s MB: split it into smaller files.")
                                % {"size": MAX_BYTES // (1024 * 1024)}, code="too_large")
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:  # a size the client lied about
        raise CustomerFileError(_("The file is larger than %(size)s MB: split it into smaller files.")
                                % {"size": MAX_BYTES // (1024 * 1024)}, code="too_large")
    if data.startswith((_ZIP, _OLE)):
        raise CustomerFileError(_("This is a spreadsheet, not a CSV file.") + " " + _save_as_csv(), code="spreadsheet")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise CustomerFileError(_("This is not a text file.") + " " + _save_as_csv(), code="binary") from None
    elif b"\x00" in data:
        raise CustomerFileError(_("This is not a text file.") + " " + _save_as_csv(), code="binary")
    else:
        text, encoding = _decode(data, shop)
    if not text.strip():
        raise CustomerFileError(_("The file is empty."), code="empty")
    return text, encoding


def _decode(data: bytes, shop: Shop) -> tuple[str, str]:
    code_page = "cp1250" if shop.country in _CP1250_COUNTRIES else "cp1252"
    for encoding in ("utf-8-sig", code_page):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _header_key(text: str) -> str:
    return " ".join(text.replace("\ufeff", "").replace("_", " ").replace("-", " ").split()).casefold()


_BY_HEADER = {_header_key(column.header): column.key for column in COLUMNS}


@dataclass
class _Table:
    delimiter: str
    columns: dict[str, int]  # column key → its index in a row
    ignored: list[str]
    rows: list[tuple[int, list[str]]]  # (line in the file, cells)


def _table(text: str) -> _Table:
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    # Spreadsheets save ";" where the decimal mark is a comma (Poland, Portugal, Brazil); the
    # header names no commas or semicolons, so it shows which one separates the columns.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, rows = None, []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, a spreadsheet's empty rows at the end
            if header is None:
                header = cells
                continue
            if len(rows) == MAX_ROWS:
                raise CustomerFileError(
                    _("The file has more than %(rows)s customers: split it into smaller files.")
                    % {"rows": format_number(MAX_ROWS)}, code="too_many_rows")
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise CustomerFileError(_("The file cannot be read as CSV (line %(line)s): %(error)s")
                                % {"line": reader.line_num, "error": exc}, code="csv") from None
    columns, ignored = {}, []
    for index, name in enumerate(header or []):
        key = _BY_HEADER.get(_header_key(name))
        if key is None:
            if name.strip():
                ignored.append(name.strip())
        elif key in columns:
            raise CustomerFileError(_("The column “%(column)s” appears twice.") % {"column": name.strip()},
                                    code="column_twice")
        else:
            columns[key] = index
    missing = [column.header for column in COLUMNS if column.required and column.key not in columns]
    if missing:
        raise CustomerFileError(
            _("The file lacks the columns %(columns)s. Its first line must name the columns: %(expected)s.")
            % {"columns": ", ".join(f"“{name}”" for name in missing), "expected": ", ".join(HEADERS)},
            code="columns_missing")
    if not rows:
        raise CustomerFileError(_("The file has no customers, only the line of column names."), code="no_rows")
    return _Table(delimiter, columns, ignored, rows)


# --- one row ------------------------------------------------------------------------------------

_YES = {"y", "yes", "t", "tak", "s", "sim", "true", "1"}  # "T"/"S": Polish and Portuguese spreadsheets
_NO = {"n", "no", "nie", "não", "nao", "false", "0"}
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_FORMULA_GUARD = re.compile(r"'(?=[=+\-@\d])")  # the apostrophe an export puts before a formula-like cell


@dataclass
class RowCheck:
    line: int
    fields: dict = field(default_factory=dict)  # what a Customer would be made of
    number: phonenumbers.PhoneNumber | None = None  # the mobile number, parsed
    number_as_written: str = ""  # calling code and number as the file has them, shown when wrong
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    skip: bool = False

    def problem(self, kind: list, column: str, code: str, /, **params) -> None:
        kind.append({"column": column, "code": code, "params": params})

    def error(self, column: str, code: str, /, **params) -> None:
        self.problem(self.errors, column, code, **params)

    def note(self, column: str, code: str, /, **params) -> None:
        self.problem(self.notes, column, code, **params)


def _yes_no(text: str) -> bool | None:
    """True, False, or None for an empty cell; ValueError for anything else."""
    word = text.strip().casefold()
    if not word:
        return None
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise ValueError(text)


def _moment(text: str) -> dt.datetime:
    """A date or a date and time as spreadsheets write them: ISO 8601 or day.month.year."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _DOTTED.fullmatch(text)
    if match is None:
        raise ValueError(text)
    day, month, year, hour, minute, second = (int(part) if part else 0 for part in match.groups())
    return dt.datetime(year, month, day, hour, minute, second)


def _row_check(cells: list[str], table: _Table, line: int, shop: Shop, now: dt.datetime) -> RowCheck:
    row = RowCheck(line)

    def cell(key: str) -> str:
        index = table.columns.get(key)
        text = cells[index].strip() if index is not None and index < len(cells) else ""
        return _FORMULA_GUARD.sub("", text, count=1) if text.startswith("'") else text

    for key, limit in (("first_name", 80), ("last_name", 80), ("email", 254)):
        value = cell(key)
        if len(value) > limit:
            row.error(key, "too_long", max=limit)
        row.fields[key] = value[:limit]
    if row.fields["email"]:
        try:
            validate_email(row.fields["email"])
        except ValidationError:
            row.error("email", "email_invalid", value=row.fields["email"])
    _phone_check(row, cell, shop)
    _birthday_check(row, cell("birthday"), shop, now)
    _consent_check(row, cell, shop, now)
    if not any(row.fields[key] for key in ("phone", "first_name", "last_name", "email")) and not row.errors:
        row.skip = True
        row.note("phone", "nothing_to_import")
    return row


def _phone_check(row: RowCheck, cell, shop: Shop) -> None:
    row.fields["phone"] = ""
    number, code_text, member_text = cell("phone"), cell("calling_code"), cell("member")
    try:
        member = _yes_no(member_text)
    except ValueError:
        row.error("member", "member_invalid", value=member_text)
        return
    if member is None:
        row.error("member", "member_invalid", value=member_text)
        return
    if not member:
        # The rule of the file format: a non-member's number is not imported (nor checked).
        if number:
            row.note("phone", "number_not_imported")
        return
    if not number:
        row.error("phone", "number_missing")
        return
    row.number_as_written = f"{code_text} {number}".strip()
    try:
        calling_code = phones.calling_code_read(code_text)
        row.number = phones.mobile_parse(number, calling_code=calling_code, region=shop.country)
        row.fields["phone"] = phonenumbers.format_number(row.number, phonenumbers.PhoneNumberFormat.E164)
    except ValidationError as exc:
        column = "calling_code" if exc.code == "calling_code_unknown" else "phone"
        row.error(column, exc.code, **exc.params)


def _birthday_check(row: RowCheck, text: str, shop: Shop, now: dt.datetime) -> None:
    row.fields["birthday"] = None
    if not text:
        return
    try:
        birthday = _moment(text).date()
        if birthday.year < 1900:
            raise ValueError(text)
    except ValueError:
        row.error("birthday", "date_invalid", value=text)
        return
    if birthday > now.astimezone(shop.zone).date():
        row.error("birthday", "date_future", value=text)
        return
    row.fields["birthday"] = birthday


def _consent_check(row: RowCheck, cell, shop: Shop, now: dt.datetime) -> None:
    row.fields.update(marketing_consent=MarketingConsent.UNKNOWN, marketing_consent_at=None,
                      marketing_consent_source="", marketing_consent_text="")
    text, at_text, source = cell("consent"), cell("consent_at"), cell("consent_source")
    try:
        given = _yes_no(text)
    except ValueError:
        row.error("consent", "consent_invalid", value=text)
        return
    if given is None:
        return
    at = None
    if at_text:
        try:
            at = _moment(at_text)
            if at.year < 1990:  # before texting had consent to give (and out of the time zones' range near year 1)
                raise ValueError(at_text)
        except ValueError:
            row.error("consent_at", "date_invalid", value=at_text)
            return
        at = timezone.make_aware(at, shop.zone) if timezone.is_naive(at) else at  # the shop's clock
        if at > now:
            row.error("consent_at", "date_future", value=at_text)
            return
    if len(source) > _SOURCE_MAX:
        row.error("consent_source", "too_long", max=_SOURCE_MAX)
        return
    if given and (at is None or not source):
        # Never granted without proof: a text sent on it could not be defended.
        row.note("consent", "consent_unproven")
        return
    row.fields.update(
        marketing_consent=MarketingConsent.GRANTED if given else MarketingConsent.REVOKED,
        marketing_consent_at=at or now,  # a refusal counts from when it is known at the latest
        marketing_consent_source=ConsentSource.IMPORT,
        # Where the file says the consent came from, kept as its proof (the wording field holds
        # a storefront's proof the same way).
        marketing_consent_text=source,
    )


# --- the whole file ---------------------------------------------------------------------------


@dataclass
class Check:
    table: _Table
    rows: list[RowCheck]

    @property
    def error_rows(self) -> list[RowCheck]:
        return [row for row in self.rows if row.errors]

    @property
    def to_import(self) -> list[RowCheck]:
        return [row for row in self.rows if not row.errors and not row.skip]

    def report(self, shop: Shop) -> dict:
        errors = self.error_rows
        shown = errors[:_SHOWN_ERRORS] if errors else self.rows[:_SHOWN_ROWS]
        return {
            "delimiter": self.table.delimiter,
            "ignored_columns": self.table.ignored,
            "rows": len(self.rows),
            "rows_with_errors": len(errors),
            "to_import": len(self.to_import),
            "skipped": sum(row.skip for row in self.rows),
            "numbers_not_imported": sum(any(n["code"] == "number_not_imported" for n in row.notes) for row in self.rows),
            "consent_unproven": sum(any(n["code"] == "consent_unproven" for n in row.notes) for row in self.rows),
            "shown": [_shown(row, shop) for row in shown],
        }


def _shown(row: RowCheck, shop: Shop) -> dict:
    fields = row.fields
    at = fields.get("marketing_consent_at")
    wrong_number = any(p["column"] in ("phone", "calling_code") for p in row.errors)
    return {
        "line": row.line, "errors": row.errors, "notes": row.notes, "skip": row.skip,
        "values": {
            # what will be stored; for a number in error, what the file says (to find and fix it)
            "phone": row.number_as_written if wrong_number else str(fields.get("phone") or ""),
            "first_name": fields.get("first_name", ""), "last_name": fields.get("last_name", ""),
            "email": fields.get("email", ""),
            "birthday": fields["birthday"].isoformat() if fields.get("birthday") else "",
            "consent": fields.get("marketing_consent", MarketingConsent.UNKNOWN),
            "consent_at": at.astimezone(shop.zone).strftime("%Y-%m-%d %H:%M") if at else "",
            "consent_source": fields.get("marketing_consent_text", ""),
        },
    }


def _check(*, shop: Shop, text: str) -> Check:
    table = _table(text)
    now = timezone.now()
    rows = [_row_check(cells, table, line, shop, now) for line, cells in table.rows]
    _duplicates_check(rows, shop)
    return Check(table, rows)


def _duplicates_check(rows: list[RowCheck], shop: Shop) -> None:
    """The same customer twice: by mobile number or by email (any case), in the file or in the shop."""
    for key, code in (("phone", "number_twice_in_file"), ("email", "email_twice_in_file")):
        first_line = {}
        for row in rows:
            value = row.fields.get(key, "")
            value = value.lower() if key == "email" else value
            if not value:
                continue
            if value in first_line:
                row.error(key, code, line=first_line[value])
            else:
                first_line[value] = row.line
    customers = Customer.objects.filter(shop=shop)
    numbers = {row.fields["phone"] for row in rows if row.fields.get("phone")}
    emails = {row.fields["email"].lower() for row in rows if row.fields.get("email")}
    # The number compared as the text it is stored as: PhoneNumberField would parse and validate
    # every value of the query again (seconds for a large file).
    taken_numbers = set(_existing(customers.annotate(phone_text=Cast("phone", output_field=CharField())),
                                  "phone_text", numbers))
    taken_emails = set(_existing(customers.annotate(email_folded=Lower("email")), "email_folded", emails))
    for row in rows:
        if row.fields.get("phone") and row.fields["phone"] in taken_numbers:
            row.error("phone", "number_in_shop")
        if row.fields.get("email") and row.fields["email"].lower() in taken_emails:
            row.error("email", "email_in_shop")


def _existing(customers, field_name: str, values: set[str]) -> Iterator[str]:
    """Which of ``values`` the (annotated) column holds."""
    ordered = sorted(values)
    for start in range(0, len(ordered), _QUERY_CHUNK):
        chunk = ordered[start:start + _QUERY_CHUNK]
        yield from customers.filter(**{f"{field_name}__in": chunk}).order_by().values_list(field_name, flat=True)


# --- the services ------------------------------------------------------------------------------


def customer_import_preview(*, shop: Shop, upload, user=None) -> CustomerImport:
    """Read and check ``upload`` for ``shop``; nothing is written but the import's record.

    Raises CustomerFileError when the file as a whole cannot be read (then nothing is kept).
    A file with an error in any row is kept only as its report: it can never be imported."""
    text, encoding = customer_file_read(upload=upload, shop=shop)
    check = _check(shop=shop, text=text)
    errors = len(check.error_rows)
    return CustomerImport.objects.create(
        shop=shop, created_by=user, file_name=PurePath(upload.name or "").name[:255], encoding=encoding,
        content="" if errors else text,
        status=CustomerImportStatus.ERRORS if errors else CustomerImportStatus.PREVIEW,
        rows=len(check.rows), rows_with_errors=errors, report=check.report(shop),
    )


def customer_import_confirm(*, customer_import: CustomerImport) -> CustomerImport:
    """Write the customers of a checked file: all of them, or none when the check finds an
    error now (a customer added since the preview, another import). Raises
    CustomerImportRejected then, with the new report kept on the import."""
    shop = customer_import.shop
    with transaction.atomic():
        # One import of a shop at a time, so that two files cannot both add the same number.
        list(Shop.objects.select_for_update().filter(pk=shop.pk).values_list("pk", flat=True))
        now = timezone.now()
        claimed = CustomerImport.objects.filter(pk=customer_import.pk, shop=shop,
                                                status=CustomerImportStatus.PREVIEW)
        text = claimed.values_list("content", flat=True).first()
        if text is None or not claimed.update(status=CustomerImportStatus.IMPORTED, imported_at=now):
            raise CustomerImportRejected(_("This file is not waiting to be imported: upload it again."),
                                         code="not_waiting")
        check = _check(shop=shop, text=text)
        errors = len(check.error_rows)
        if errors:
            CustomerImport.objects.filter(pk=customer_import.pk).update(
                status=CustomerImportStatus.ERRORS, imported_at=None, content="", rows=len(check.rows),
                rows_with_errors=errors, report=check.report(shop))
        else:
            customers = [Customer(shop=shop, registered_at=now, **{
                **row.fields, "phone": phones.CheckedPhoneNumber.of(row.number) if row.number else ""})
                for row in check.to_import]
            # bulk_create sends no customer_registered: these customers did not sign up now, and a
            # welcome text must never go to a whole imported list.
            Customer.objects.bulk_create(customers, batch_size=_QUERY_CHUNK)
            CustomerImport.objects.filter(pk=customer_import.pk).update(
                content="", imported=len(customers), rows=len(check.rows), rows_with_errors=0,
                report=check.report(shop))
    customer_import.refresh_from_db()
    if errors:
        raise CustomerImportRejected(
            _("Nothing was imported: the file has errors now (see below). Correct the file and upload it again."),
            code="errors")
    return customer_import
