"""Customer import: every row is checked and shown before anything is written, a file with an
error writes nothing, the Is Member rule, consent only with its proof, duplicates refused."""

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from shop import customer_import
from shop.customer_import import (
    CustomerFileError,
    CustomerImportRejected,
    customer_import_confirm,
    customer_import_preview,
    problem_text,
)
from shop.models import ConsentSource, Customer, CustomerImport, CustomerImportStatus, MarketingConsent
from tests.factories import CustomerFactory, make_shop

pytestmark = pytest.mark.django_db

HEADER = ("Mobile Number,International Calling Code,Is Member,First Name,Last Name,Email,Birthday,"
          "Marketing Consent,Marketing Consent Date,Marketing Consent Source")


def upload(text: str, name: str = "customers.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def csv_file(*rows: str, header: str = HEADER) -> SimpleUploadedFile:
    return upload("\n".join([header, *rows]) + "\n")


@pytest.fixture
def polish(db):
    return make_shop(name="Bałtyk", country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")


def problems(result: CustomerImport) -> dict[int, set[str]]:
    """line → the codes of its errors."""
    return {row["line"]: {p["code"] for p in row["errors"]} for row in result.report["shown"] if row["errors"]}


def notes(result: CustomerImport, line: int) -> set[str]:
    return next({p["code"] for p in row["notes"]} for row in result.report["shown"] if row["line"] == line)


def shown(result: CustomerImport, line: int) -> dict:
    return next(row["values"] for row in result.report["shown"] if row["line"] == line)


# --- a good file -----------------------------------------------------------------------------------


def test_a_good_file_is_shown_first_then_writes_exactly_its_rows(polish):
    CustomerFactory(shop=polish, phone="+48600100200")  # someone else, untouched
    result = customer_import_preview(shop=polish, upload=csv_file(
        "538506896,+48,Y,Anna,Nowak,anna@example.com,1990-04-12,Y,2024-05-01 10:00,checkout box",
        "+48 601 234 567,,Y,Jan,Kowalski,,,,,",
        "512345678,0048,Y,Ewa,Lis,EWA@example.com,12.04.1985,N,,",
    ))
    assert result.status == CustomerImportStatus.PREVIEW
    assert result.report["rows"] == 3 and result.report["to_import"] == 3 and result.report["rows_with_errors"] == 0
    assert shown(result, 2)["phone"] == "+48538506896"
    assert Customer.objects.filter(shop=polish).count() == 1  # the preview wrote nothing

    customer_import_confirm(customer_import=result)

    assert result.status == CustomerImportStatus.IMPORTED and result.imported == 3 and result.content == ""
    made = {c.email or c.first_name: c for c in Customer.objects.filter(shop=polish).exclude(phone="+48600100200")}
    assert set(made) == {"anna@example.com", "Jan", "EWA@example.com"}
    anna = made["anna@example.com"]
    assert (str(anna.phone), anna.first_name, anna.last_name, anna.birthday) == \
        ("+48538506896", "Anna", "Nowak", dt.date(1990, 4, 12))
    assert anna.marketing_consent == MarketingConsent.GRANTED
    assert anna.marketing_consent_at == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)  # 10:00 in Warsaw
    assert (anna.marketing_consent_source, anna.marketing_consent_text) == (ConsentSource.IMPORT, "checkout box")
    assert str(made["Jan"].phone) == "+48601234567"  # no calling code: the shop's country
    assert made["Jan"].marketing_consent == MarketingConsent.UNKNOWN
    ewa = made["EWA@example.com"]
    assert (str(ewa.phone), ewa.birthday, ewa.marketing_consent) == \
        ("+48512345678", dt.date(1985, 4, 12), MarketingConsent.REVOKED)


def test_the_calling_code_reads_the_number_in_its_country_not_the_shops(polish):
    result = customer_import_preview(shop=polish, upload=csv_file(
        "2025550143,+1,Y,,,a@example.com,,,,", "07911 123456,44,Y,,,b@example.com,,,,", "601234567,PL,Y,,,,,,,"))
    customer_import_confirm(customer_import=result)
    assert sorted(str(c.phone) for c in Customer.objects.filter(shop=polish)) == \
        ["+12025550143", "+447911123456", "+48601234567"]


def test_importing_sends_no_registration_event(polish):
    from shop import events

    received = []

    def listener(**kwargs):
        received.append(kwargs)

    events.customer_registered.connect(listener)
    try:
        customer_import_confirm(customer_import=customer_import_preview(
            shop=polish, upload=csv_file("538506896,+48,Y,Anna,,,,,,")))
    finally:
        events.customer_registered.disconnect(listener)
    assert Customer.objects.filter(shop=polish).count() == 1
    assert received == []  # no welcome text to a whole imported list


# --- bad rows: every kind, and nothing written ---------------------------------------------------


def test_each_kind_of_bad_row_is_reported_on_its_line_and_nothing_is_written(polish):
    CustomerFactory(shop=polish, phone="+48609876543", email="taken@example.com")
    result = customer_import_preview(shop=polish, upload=csv_file(
        "538506896,+48,Y,Good,Row,,,,,",                      # 2: fine on its own
        "12345,+48,Y,,,,,,,",                                  # 3: not a number
        "538506896,+999,Y,,,,,,,",                             # 4: unknown calling code
        "225550100,+48,Y,,,,,,,",                              # 5: a landline
        "+1 202 555 0143,+48,Y,,,,,,,",                        # 6: written with another +code
        "601234567,+48,maybe,,,,,,,",                          # 7: Is Member neither Y nor N
        ",+48,Y,No,Number,,,,,",                               # 8: a member without a number
        "538 506 896,+48,Y,,,,,,,",                            # 9: the number of line 2 again
        "601234568,+48,Y,,,one@example.com,,,,",               # 10
        "601234569,+48,Y,,,ONE@example.com,,,,",               # 11: line 10's email again
        "609876543,+48,Y,,,,,,,",                              # 12: a customer of the shop has it
        "601234570,+48,Y,,,Taken@Example.com,,,,",             # 13: so has this email
        "601234571,+48,Y,,,not-an-email,,,,",                  # 14
        "601234572,+48,Y,,,,1990-13-45,,,",                    # 15: no such date
        "601234573,+48,Y,,,,2999-01-01,,,",                    # 16: born in the future
        "601234574,+48,Y,,,,,perhaps,,",                       # 17: consent neither Y nor N
        "601234575,+48,Y,,,,,Y,yesterday,shop",                # 18: not a date
        "601234576,+48,Y,,,,,Y,2999-01-01,shop",               # 19: consent in the future
        "601234577,+48,Y," + "x" * 81 + ",,,,,,",              # 20: a name too long
    ))
    assert problems(result) == {
        3: {"number_invalid"}, 4: {"calling_code_unknown"}, 5: {"number_not_mobile"}, 6: {"calling_code_mismatch"},
        7: {"member_invalid"}, 8: {"number_missing"}, 9: {"number_twice_in_file"}, 11: {"email_twice_in_file"},
        12: {"number_in_shop"}, 13: {"email_in_shop"}, 14: {"email_invalid"}, 15: {"date_invalid"},
        16: {"date_future"}, 17: {"consent_invalid"}, 18: {"date_invalid"}, 19: {"date_future"}, 20: {"too_long"},
    }
    assert result.status == CustomerImportStatus.ERRORS
    assert result.rows == 19 and result.rows_with_errors == 17
    assert result.content == ""  # a file that can never be imported is not kept
    with pytest.raises(CustomerImportRejected):
        customer_import_confirm(customer_import=result)
    assert Customer.objects.filter(shop=polish).count() == 1  # the good rows were not written either


def test_problems_read_as_sentences_naming_the_value(polish):
    result = customer_import_preview(shop=polish, upload=csv_file("538506896,+999,Y,,,,,,,", "1,,Y,,,,,,,",
                                                                  "538506897,+48,Y,,,,,,,"))
    texts = [problem_text(p) for row in result.report["shown"] for p in row["errors"]]
    assert texts == ["+999 is not an international calling code.", "1 is not a valid phone number."]
    assert [row["line"] for row in result.report["shown"]] == [2, 3]  # only the rows with errors
    assert shown(result, 2)["phone"] == "+999 538506896"  # a wrong number as the file has it, to find it


def test_reimporting_the_same_file_reports_every_row_as_already_in_the_shop(polish):
    rows = ("538506896,+48,Y,Anna,,anna@example.com,,,,", "601234567,+48,Y,Jan,,,,,,")
    customer_import_confirm(customer_import=customer_import_preview(shop=polish, upload=csv_file(*rows)))
    again = customer_import_preview(shop=polish, upload=csv_file(*rows))
    assert problems(again) == {2: {"number_in_shop", "email_in_shop"}, 3: {"number_in_shop"}}
    assert Customer.objects.filter(shop=polish).count() == 2


def test_a_customer_added_after_the_preview_stops_the_confirmation(polish):
    result = customer_import_preview(shop=polish, upload=csv_file("538506896,+48,Y,Anna,,,,,,",
                                                                  "601234567,+48,Y,Jan,,,,,,"))
    CustomerFactory(shop=polish, phone="+48601234567")
    with pytest.raises(CustomerImportRejected):
        customer_import_confirm(customer_import=result)
    result.refresh_from_db()
    assert result.status == CustomerImportStatus.ERRORS and problems(result) == {3: {"number_in_shop"}}
    assert Customer.objects.filter(shop=polish).count() == 1  # Anna was not written


def test_a_file_is_imported_once(polish):
    result = customer_import_preview(shop=polish, upload=csv_file("538506896,+48,Y,Anna,,,,,,"))
    stale = CustomerImport.objects.get(pk=result.pk)  # a second tab, or a double click
    customer_import_confirm(customer_import=result)
    with pytest.raises(CustomerImportRejected):
        customer_import_confirm(customer_import=stale)
    assert Customer.objects.filter(shop=polish).count() == 1


# --- the Is Member rule -------------------------------------------------------------------------


def test_is_member_y_imports_the_number_n_does_not(polish):
    result = customer_import_preview(shop=polish, upload=csv_file(
        "538506896,+48,Y,Member,,,,,,",
        "601234567,+48,N,Guest,,guest@example.com,,,,",
        "not a number,+48,no,Also guest,,,,,,",  # an N number is not imported, so not checked
        "601234568,+48,n,,,,,,,",  # nothing left to import
    ))
    assert result.status == CustomerImportStatus.PREVIEW, problems(result)
    assert shown(result, 2)["phone"] == "+48538506896"
    assert shown(result, 3)["phone"] == "" and notes(result, 3) == {"number_not_imported"}
    assert shown(result, 4)["phone"] == ""
    assert notes(result, 5) == {"number_not_imported", "nothing_to_import"}
    assert result.report["numbers_not_imported"] == 3 and result.report["skipped"] == 1
    assert result.report["to_import"] == 3

    customer_import_confirm(customer_import=result)
    phones = {c.first_name: str(c.phone) for c in Customer.objects.filter(shop=polish)}
    assert phones == {"Member": "+48538506896", "Guest": "", "Also guest": ""}


def test_is_member_must_be_given(polish):
    result = customer_import_preview(shop=polish, upload=csv_file("538506896,+48,,Anna,,,,,,"))
    assert problems(result) == {2: {"member_invalid"}}


# --- consent only with its proof ----------------------------------------------------------------


@pytest.mark.parametrize("cells,expected", [
    ("Y,2024-05-01,newsletter form", MarketingConsent.GRANTED),
    ("Y,,newsletter form", MarketingConsent.UNKNOWN),  # no date
    ("Y,2024-05-01,", MarketingConsent.UNKNOWN),  # no source
    ("Y,,", MarketingConsent.UNKNOWN),
    ("N,,", MarketingConsent.REVOKED),  # a refusal needs no proof
    (",2024-05-01,newsletter form", MarketingConsent.UNKNOWN),
])
def test_consent_is_granted_only_with_its_date_and_source(polish, cells, expected):
    result = customer_import_preview(shop=polish, upload=csv_file(f"538506896,+48,Y,Anna,,,,{cells}"))
    assert result.status == CustomerImportStatus.PREVIEW, problems(result)
    unproven = "consent_unproven" in notes(result, 2)
    assert unproven == (cells.startswith("Y") and expected == MarketingConsent.UNKNOWN)
    customer_import_confirm(customer_import=result)
    customer = Customer.objects.get(shop=polish)
    assert customer.marketing_consent == expected
    if expected == MarketingConsent.GRANTED:
        assert customer.marketing_consent_at.astimezone(polish.zone) == \
            dt.datetime(2024, 5, 1, tzinfo=polish.zone)
        assert customer.marketing_consent_text == "newsletter form"
    if expected == MarketingConsent.UNKNOWN:
        assert customer.marketing_consent_at is None and customer.marketing_consent_source == ""


@pytest.mark.parametrize("moment", ["0001-01-01", "0001-01-01T00:00+00:00", "1899-12-31"])
def test_a_consent_date_before_texting_existed_is_a_row_error_not_a_crash(polish, moment):
    result = customer_import_preview(shop=polish, upload=csv_file(f"538506896,+48,Y,Anna,,,,Y,{moment},form"))
    assert problems(result) == {2: {"date_invalid"}}


def test_a_broken_utf16_file_is_a_file_error(polish):
    with pytest.raises(CustomerFileError):
        customer_import_preview(shop=polish, upload=SimpleUploadedFile("customers.csv", b"\xff\xfeA\x00B"))


@time_machine.travel(dt.datetime(2025, 3, 1, 12, tzinfo=dt.timezone.utc), tick=False)
def test_a_refusal_without_a_date_counts_from_the_import(polish):
    customer_import_confirm(customer_import=customer_import_preview(
        shop=polish, upload=csv_file("538506896,+48,Y,Anna,,,,N,,")))
    customer = Customer.objects.get(shop=polish)
    assert customer.marketing_consent_at == timezone.now()
    assert customer.marketing_consent_source == ConsentSource.IMPORT


# --- the file as a whole -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1250", "utf-16"])
def test_polish_letters_survive_every_encoding_a_spreadsheet_saves(polish, encoding):
    text = HEADER.replace(",", ";") + "\n538506896;+48;Y;Łucja;Żółć-Gęślą;;;;;\n"
    result = customer_import_preview(shop=polish, upload=upload(text, encoding=encoding))
    assert shown(result, 2)["last_name"] == "Żółć-Gęślą" and shown(result, 2)["first_name"] == "Łucja"


def test_a_western_shop_reads_a_non_utf8_file_as_windows_1252(db):
    shop = make_shop(country="PT", language="pt")
    result = customer_import_preview(shop=shop, upload=upload(
        HEADER + "\n912345678,+351,Y,João,Conceição,,,,,\n", encoding="cp1252"))
    assert shown(result, 2)["last_name"] == "Conceição" and result.encoding == "cp1252"


def test_columns_are_found_by_name_in_any_order_and_case(polish):
    result = customer_import_preview(shop=polish, upload=upload(
        "first name,IS_MEMBER,Notes,mobile number,International calling code\nAnna,Y,vip,538506896,48\n"))
    assert shown(result, 2)["phone"] == "+48538506896" and shown(result, 2)["first_name"] == "Anna"
    assert result.report["ignored_columns"] == ["Notes"]


@pytest.mark.parametrize("name,content,code", [
    ("customers.pdf", b"%PDF-1.4", "file_type"),
    ("customers.xlsx", b"PK\x03\x04whatever", "spreadsheet"),
    ("customers.csv", b"PK\x03\x04an xlsx renamed", "spreadsheet"),
    ("customers.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    ("customers.csv", b"   \n\n", "empty"),
    ("customers.csv", HEADER.encode(), "no_rows"),
    ("customers.csv", b"Name,Phone\nAnna,538506896\n", "columns_missing"),
    ("customers.csv", (HEADER + ",Is Member\n1,2,3,4,5,6,7,8,9,10,11\n").encode(), "column_twice"),
])
def test_a_file_that_cannot_be_read_is_refused_with_its_reason_and_kept_nowhere(polish, name, content, code):
    with pytest.raises(CustomerFileError) as refused:
        customer_import_preview(shop=polish, upload=SimpleUploadedFile(name, content))
    assert refused.value.code == code
    assert CustomerImport.objects.count() == 0


def test_missing_columns_are_named(polish):
    with pytest.raises(CustomerFileError) as refused:
        customer_import_preview(shop=polish, upload=upload("Mobile Number,First Name\n538506896,Anna\n"))
    assert "“International Calling Code”, “Is Member”" in refused.value.messages[0]


def test_limits_of_size_and_rows(polish, monkeypatch):
    monkeypatch.setattr(customer_import, "MAX_ROWS", 2)
    with pytest.raises(CustomerFileError) as refused:
        customer_import_preview(shop=polish, upload=csv_file(*[f"60123456{n},+48,Y,,,,,,," for n in range(3)]))
    assert refused.value.code == "too_many_rows"
    assert customer_import_preview(shop=polish, upload=csv_file(
        *[f"60123456{n},+48,Y,,,,,,," for n in range(2)])).rows == 2

    monkeypatch.setattr(customer_import, "MAX_BYTES", 100)
    with pytest.raises(CustomerFileError) as refused:
        customer_import_preview(shop=polish, upload=csv_file("538506896,+48,Y,Anna,,,,,,"))
    assert refused.value.code == "too_large"


def test_an_apostrophe_that_keeps_a_spreadsheet_from_reading_a_formula_is_dropped(polish):
    result = customer_import_preview(shop=polish, upload=csv_file("'0048538506896,'+48,Y,'=Anna,,,,,,"))
    assert shown(result, 2)["phone"] == "+48538506896" and shown(result, 2)["first_name"] == "=Anna"


# --- tenancy --------------------------------------------------------------------------------------


def test_an_import_never_reads_nor_touches_another_shop(polish):
    other = make_shop(country="PL")
    theirs = CustomerFactory(shop=other, phone="+48538506896", email="anna@example.com", first_name="Theirs")
    result = customer_import_preview(shop=polish, upload=csv_file("538506896,+48,Y,Anna,,anna@example.com,,,,"))
    assert result.status == CustomerImportStatus.PREVIEW  # another shop's customer is no duplicate here
    customer_import_confirm(customer_import=result)
    assert Customer.objects.get(shop=polish).first_name == "Anna"
    assert list(Customer.objects.filter(shop=other)) == [theirs]
    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
