"""A merchant imports a customer file from the customer list: a file with a bad row is shown with
its problem and imports nothing; the corrected file is previewed, confirmed, and its customers
are found by their mobile number in another format."""

import os

import pytest

from shop.models import Customer
from tests.factories import make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = ("Mobile Number;International Calling Code;Is Member;First Name;Last Name;Email;Birthday;"
          "Marketing Consent;Marketing Consent Date;Marketing Consent Source")


def _shot(page, name):
    if os.environ.get("IMPORT_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["IMPORT_SHOTS"], name), full_page=True)


def test_import_a_customer_file(page, live_server, admin_login, tmp_path):
    shop = make_shop(name="Import Shop", country="PL", time_zone="Europe/Warsaw")
    make_merchant(shop, username="import-m", password="pw-import-1")
    bad = tmp_path / "customers.csv"
    bad.write_bytes((HEADER + "\n538506896;+48;Y;Anna;Nowak;anna@example.com;1990-04-12;Y;2024-05-01 10:00;"
                     "checkout box\n601234567;+999;Y;Jan;Kowalski;;;;;\n512345678;+48;N;Ewa;Lis;;;Y;;\n")
                    .encode("cp1250"))
    admin_login("import-m", "pw-import-1")
    page.goto(f"{live_server.url}/admin/shop/customer/")
    page.click("#customer-import")
    _shot(page, "customer-import-upload.png")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#customer-import-form input[type=submit]")
    page.wait_for_selector("#import-rows")
    assert "+999 is not an international calling code." in page.locator("#import-rows").inner_text()
    assert page.locator("#import-confirm").count() == 0
    _shot(page, "customer-import-errors.png")
    assert not Customer.objects.exists()

    good = tmp_path / "customers-fixed.csv"
    good.write_bytes(bad.read_bytes().replace(b"+999", b"+48"))
    page.goto(f"{live_server.url}/admin/shop/customerimport/add/")
    page.set_input_files("input[name=file]", str(good))
    page.click("#customer-import-form input[type=submit]")
    page.wait_for_selector("#import-confirm")
    table = page.locator("#import-rows").inner_text()
    assert "+48538506896" in table and "Not a member: the number is not imported." in table
    _shot(page, "customer-import-preview.png")
    page.click("#import-confirm input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "3 customers imported." in page.locator(".messagelist").inner_text()
    assert sorted(str(c.phone) for c in Customer.objects.filter(shop=shop)) == ["", "+48538506896", "+48601234567"]

    page.fill("#searchbar", "0048 538 506 896")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Nowak" in rows.inner_text()
