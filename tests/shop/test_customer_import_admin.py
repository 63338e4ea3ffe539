"""The customer list's Import and Export, and its search by mobile number, through the admin
as a merchant (and the operator) uses them."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shop.customer_import import HEADERS
from shop.models import ConsentSource, Customer, CustomerImport, CustomerImportStatus, MarketingConsent
from tests.factories import CustomerFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

HEADER = ",".join(HEADERS)
CHANGELIST = reverse("admin:shop_customer_changelist")
UPLOAD = reverse("admin:shop_customerimport_add")
EXPORT = reverse("admin:shop_customer_export")


@pytest.fixture
def polish(db):
    # A Polish shop whose merchant reads English: the assertions below read the English wording.
    return make_shop(name="Bałtyk", country="PL", currency="PLN", language="en", time_zone="Europe/Warsaw")


@pytest.fixture
def merchant(client, polish):
    client.force_login(make_merchant(polish))
    return client


def csv_upload(*rows: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join([HEADER, *rows]) + "\n").encode(), content_type="text/csv")


def exported(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(text[1:]), delimiter=";" if ";" in text.split("\n", 1)[0] else ","))


# --- import ---------------------------------------------------------------------------------------


def test_the_customer_list_offers_import_and_export(merchant):
    page = merchant.get(CHANGELIST).content.decode()
    assert f'href="{UPLOAD}"' in page and f'href="{EXPORT}' in page


def test_upload_preview_confirm(merchant, polish):
    page = merchant.get(UPLOAD)
    assert page.status_code == 200 and "Mobile Number" in page.content.decode()
    assert "shop" not in page.context["form"].fields  # a merchant imports into their own shop only

    response = merchant.post(UPLOAD, {"file": csv_upload("538506896,+48,Y,Anna,Nowak,,,Y,2024-05-01,form",
                                                         "601234567,+48,N,Jan,Kowalski,,,,,")})
    job = CustomerImport.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:shop_customerimport_change", args=[job.pk])
    assert (job.shop, job.status) == (polish, CustomerImportStatus.PREVIEW)
    assert not Customer.objects.exists()

    preview = merchant.get(response.url).content.decode()
    assert "+48538506896" in preview and "Nowak" in preview
    assert "Not a member: the number is not imported." in preview
    assert "601234567" not in preview  # Is Member N: the number shows empty
    confirm = reverse("admin:shop_customerimport_confirm", args=[job.pk])
    assert f'action="{confirm}"' in preview

    assert merchant.get(confirm).status_code == 405  # only a POST writes
    done = merchant.post(confirm)
    assert done.status_code == 302 and done.url == CHANGELIST
    assert sorted((c.last_name, str(c.phone)) for c in Customer.objects.filter(shop=polish)) == \
        [("Kowalski", ""), ("Nowak", "+48538506896")]
    assert "2 customers imported." in merchant.get(CHANGELIST).content.decode()
    assert "import-confirm" not in merchant.get(response.url).content.decode()  # done: no second button
    # the record of where these customers came from stays
    assert merchant.post(reverse("admin:shop_customerimport_delete", args=[job.pk]), {"post": "yes"}).status_code == 403
    assert CustomerImport.objects.filter(pk=job.pk).exists()


def test_a_waiting_import_can_be_cancelled(merchant, polish):
    merchant.post(UPLOAD, {"file": csv_upload("538506896,+48,Y,Anna,,,,,,")})
    job = CustomerImport.objects.get()
    assert "Cancel this import" in merchant.get(reverse("admin:shop_customerimport_change", args=[job.pk])).content.decode()
    merchant.post(reverse("admin:shop_customerimport_delete", args=[job.pk]), {"post": "yes"})
    assert not CustomerImport.objects.exists() and not Customer.objects.exists()


def test_a_file_with_errors_shows_them_and_offers_no_confirmation(merchant, polish):
    response = merchant.post(UPLOAD, {"file": csv_upload("538506896,+999,Y,Anna,,,,,,", "601234567,+48,Y,Jan,,,,,,")},
                             follow=True)
    page = response.content.decode()
    assert "+999 is not an international calling code." in page
    assert "1 row has errors: nothing can be imported" in page
    assert "import-confirm" not in page
    job = CustomerImport.objects.get()
    assert merchant.post(reverse("admin:shop_customerimport_confirm", args=[job.pk])).status_code == 302
    assert not Customer.objects.exists()


@pytest.mark.parametrize("name,content,message", [
    ("customers.xlsx", b"PK\x03\x04", "This is a spreadsheet, not a CSV file."),
    ("customers.pdf", b"%PDF", "Upload a CSV file (.csv)."),
    ("customers.csv", b"Name,Phone\nAnna,1\n", "The file lacks the columns"),
])
def test_a_bad_file_is_a_form_error_not_a_500(merchant, name, content, message):
    response = merchant.post(UPLOAD, {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 200
    assert message in str(response.context["form"].errors["file"])
    assert not CustomerImport.objects.exists()


def test_no_file_is_a_form_error(merchant):
    response = merchant.post(UPLOAD, {})
    assert response.status_code == 200 and "file" in response.context["form"].errors


def test_the_example_file_imports(merchant, polish):
    example = merchant.get(reverse("admin:shop_customerimport_example"))
    assert example["Content-Type"].startswith("text/csv")
    upload = SimpleUploadedFile("example.csv", example.content)
    merchant.post(UPLOAD, {"file": upload})
    job = CustomerImport.objects.get()
    assert job.status == CustomerImportStatus.PREVIEW and job.report["to_import"] == 2, job.report


def test_another_shops_import_is_out_of_reach(merchant, polish):
    other = make_shop()
    foreign = CustomerImport.objects.create(shop=other, file_name="theirs.csv", encoding="utf-8",
                                            content=HEADER + "\n2025550143,+1,Y,Secret,,,,,,\n")
    for url in (reverse("admin:shop_customerimport_change", args=[foreign.pk]),
                reverse("admin:shop_customerimport_confirm", args=[foreign.pk])):
        assert merchant.post(url).status_code == 404
    assert merchant.get(reverse("admin:shop_customerimport_change", args=[foreign.pk])).status_code == 404
    assert "theirs.csv" not in merchant.get(reverse("admin:shop_customerimport_changelist")).content.decode()
    foreign.refresh_from_db()
    assert foreign.status == CustomerImportStatus.PREVIEW and not Customer.objects.exists()


def test_a_merchant_cannot_import_into_another_shop_by_naming_it(merchant, polish):
    other = make_shop()
    merchant.post(UPLOAD, {"file": csv_upload("538506896,+48,Y,Anna,,,,,,"), "shop": other.pk})
    assert CustomerImport.objects.get().shop == polish


def test_the_operator_picks_the_shop(admin_client, polish):
    page = admin_client.get(UPLOAD)
    assert "shop" in page.context["form"].fields
    admin_client.post(UPLOAD, {"file": csv_upload("538506896,+48,Y,Anna,,,,,,"), "shop": polish.pk})
    job = CustomerImport.objects.get()
    assert job.shop == polish
    admin_client.post(reverse("admin:shop_customerimport_confirm", args=[job.pk]))
    assert Customer.objects.get().shop == polish


# --- export ---------------------------------------------------------------------------------------


def test_export_writes_the_import_columns_for_the_shops_own_customers_only(merchant, polish):
    CustomerFactory(shop=polish, phone="+48538506896", first_name="Anna", last_name="Nowak", email="a@example.com",
                    birthday=dt.date(1990, 4, 12), marketing_consent=MarketingConsent.GRANTED,
                    marketing_consent_at=dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc),
                    marketing_consent_source=ConsentSource.IMPORT, marketing_consent_text="checkout box")
    CustomerFactory(shop=polish, phone="", first_name="=HYPERLINK()", last_name="Guest", email="")
    CustomerFactory(shop=make_shop(name="Other shop"), first_name="Stranger", phone="+48601234567")

    response = merchant.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = exported(response)
    assert rows[0] == HEADERS
    assert rows[1:] == [
        ["538506896", "+48", "Y", "Anna", "Nowak", "a@example.com", "1990-04-12", "Y", "2024-05-01 10:00",
         "checkout box"],
        ["", "", "N", "'=HYPERLINK()", "Guest", "", "", "", "", ""],  # a formula is quoted, not run
    ]


def test_export_follows_the_lists_search(merchant, polish):
    CustomerFactory(shop=polish, last_name="Nowak", phone="+48538506896")
    CustomerFactory(shop=polish, last_name="Kowalski", phone="+48601234567")
    rows = exported(merchant.get(EXPORT + "?q=Nowak"))
    assert [row[4] for row in rows[1:]] == ["Nowak"]


def test_an_exported_file_imports_into_another_shop_as_it_was(merchant, polish, client):
    CustomerFactory(shop=polish, phone="+48538506896", first_name="Anna", birthday=dt.date(1990, 4, 12),
                    email="anna@example.com", marketing_consent=MarketingConsent.GRANTED,
                    marketing_consent_at=dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc),
                    marketing_consent_source=ConsentSource.STOREFRONT)
    content = b"".join(merchant.get(EXPORT).streaming_content)
    sister = make_shop(country="PL", time_zone="Europe/Warsaw")
    client.force_login(make_merchant(sister))
    client.post(UPLOAD, {"file": SimpleUploadedFile("export.csv", content)})
    job = CustomerImport.objects.get(shop=sister)
    client.post(reverse("admin:shop_customerimport_confirm", args=[job.pk]))
    copy = Customer.objects.get(shop=sister)
    assert (str(copy.phone), copy.first_name, copy.birthday, copy.email, copy.marketing_consent) == \
        ("+48538506896", "Anna", dt.date(1990, 4, 12), "anna@example.com", MarketingConsent.GRANTED)
    assert copy.marketing_consent_at == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.timezone.utc)
    assert copy.marketing_consent_text == "storefront"


def test_the_operators_export_names_each_rows_shop(admin_client, polish):
    CustomerFactory(shop=polish, first_name="Anna")
    CustomerFactory(shop=make_shop(name="Acme"), first_name="Bob")
    rows = exported(admin_client.get(EXPORT))
    assert rows[0] == ["Shop", *HEADERS]
    assert sorted((row[0], row[4]) for row in rows[1:]) == [("Acme", "Bob"), ("Bałtyk", "Anna")]


# --- search by mobile in any format -----------------------------------------------------------------


@pytest.fixture
def searchable(polish):
    anna = CustomerFactory(shop=polish, first_name="Anna", last_name="Nowak", email="anna@example.com",
                           phone="+48538506896")
    CustomerFactory(shop=polish, first_name="Jan", last_name="Kowalski", email="jan@example.com", phone="+48601234567")
    # digits of Anna's number in another order, and her number in another shop
    CustomerFactory(shop=polish, first_name="Decoy", last_name="Decoy", email="d@example.com", phone="+48896506538")
    CustomerFactory(shop=make_shop(country="PL"), first_name="Anna", last_name="Elsewhere", phone="+48538506896")
    return anna


def found(client, term: str) -> list[str]:
    response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200
    return sorted(c.last_name for c in response.context["cl"].result_list)


@pytest.mark.parametrize("term", ["+48 538 506 896", "538506896", "0048538506896", "538-506-896", "+48538506896",
                                  "(+48) 538 506 896", "  538 506 896 "])
def test_search_finds_a_customer_by_mobile_in_any_format(merchant, searchable, term):
    assert found(merchant, term) == ["Nowak"]


def test_search_by_part_of_a_number(merchant, searchable):
    assert found(merchant, "506 896") == ["Nowak"]
    assert found(merchant, "601") == ["Kowalski"]


def test_search_by_name_and_email_still_works(merchant, searchable):
    assert found(merchant, "Nowak") == ["Nowak"]
    assert found(merchant, "anna nowak") == ["Nowak"]
    assert found(merchant, "jan@example.com") == ["Kowalski"]


def test_one_word_of_digits_also_finds_emails_and_names(merchant, polish):
    CustomerFactory(shop=polish, last_name="Year", email="jan2024@example.com", phone="+48601234567")
    CustomerFactory(shop=polish, last_name="Number", email="x@example.com", phone="+48602024111")
    assert found(merchant, "2024") == ["Number", "Year"]


def test_a_national_number_is_read_in_the_shops_country(client, db):
    acme = make_shop(country="US")
    CustomerFactory(shop=acme, last_name="Smith", phone="+12025550143")
    CustomerFactory(shop=acme, last_name="Other", phone="+12025550144")
    client.force_login(make_merchant(acme))
    for term in ("(202) 555-0143", "202.555.0143", "+1 202 555 0143", "001 202 555 0143"):
        assert found(client, term) == ["Smith"], term


def test_the_customer_autocomplete_searches_numbers_too(merchant, searchable):
    response = merchant.get(reverse("admin:autocomplete"), {
        "app_label": "shop", "model_name": "order", "field_name": "customer", "term": "0048 538 506 896"})
    assert [int(row["id"]) for row in response.json()["results"]] == [searchable.pk]
