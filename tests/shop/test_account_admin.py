"""Storefront accounts in the admin: the Verified / Not yet verified label of a customer's mobile,
the shop's code rules, and the refused code requests."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from shop.models import AccountSettings, CodeRefusal
from tests.factories import CustomerFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("admin:shop_customer_changelist")


@pytest.fixture
def merchant(client, shop):
    client.force_login(make_merchant(shop))
    return client


@pytest.fixture
def customers(shop):
    return {
        "verified": CustomerFactory(shop=shop, last_name="Alpha", phone="+12025550101",
                                    verified_mobile="+12025550101", mobile_verified_at=timezone.now()),
        "unverified": CustomerFactory(shop=shop, last_name="Bravo", phone="+12025550102"),
        # proved a number they no longer have (the merchant changed it): not verified
        "changed": CustomerFactory(shop=shop, last_name="Charlie", phone="+12025550103",
                                   verified_mobile="+12025550109", mobile_verified_at=timezone.now()),
    }


def label_of(html: str, name: str) -> str:
    row = next(row for row in html.split("<tr") if f" {name}</a>" in row)
    found = re.search(r'class="mobile-(verified|unverified)"[^>]*style="([^"]*)">([^<]+)<', row)
    return f"{found.group(3)} ({'green' if '#2a7a3a' in found.group(2) else 'orange'})"


def test_the_customer_list_labels_each_mobile_verified_or_not(merchant, customers):
    html = merchant.get(CUSTOMERS).content.decode()
    assert label_of(html, "Alpha") == "Verified (green)"
    assert label_of(html, "Bravo") == "Not yet verified (orange)"
    assert label_of(html, "Charlie") == "Not yet verified (orange)"


def test_the_customer_page_shows_the_label(merchant, customers):
    page = merchant.get(reverse("admin:shop_customer_change", args=[customers["verified"].pk])).content.decode()
    assert 'class="mobile-verified"' in page and ">Verified<" in page
    page = merchant.get(reverse("admin:shop_customer_change", args=[customers["unverified"].pk])).content.decode()
    assert 'class="mobile-unverified"' in page and ">Not yet verified<" in page


def test_the_customer_form_never_shows_or_takes_the_password_hash(merchant, customers):
    customer = customers["verified"]
    customer.password = "pbkdf2_sha256$1$salt$hash"
    customer.save()
    url = reverse("admin:shop_customer_change", args=[customer.pk])
    assert "pbkdf2_sha256" not in merchant.get(url).content.decode()


def test_the_merchant_sets_the_countries_and_the_ceiling_of_their_codes(merchant, shop):
    rules = AccountSettings.objects.get(shop=shop)
    assert rules.allowed_countries() == ["US"]  # by default the shop's own country
    url = reverse("admin:shop_accountsettings_change", args=[rules.pk])
    assert merchant.get(url).status_code == 200
    response = merchant.post(url, {"code_countries": ["US", "CA"], "codes_per_hour": "25"})
    assert response.status_code == 302
    rules.refresh_from_db()
    assert (sorted(rules.code_countries), rules.codes_per_hour) == (["CA", "US"], 25)
    listed = merchant.get(reverse("admin:shop_accountsettings_changelist")).context["cl"].result_list
    assert [row.shop_id for row in listed] == [shop.pk]


def test_the_merchant_reads_their_shops_refused_code_requests_only(merchant, shop):
    mine = CodeRefusal.objects.create(shop=shop, reason="range", channel="sms", purpose="signup",
                                      address="+12025550104", ip="203.0.113.9", times=3)
    CodeRefusal.objects.create(shop=make_shop(), reason="country", channel="sms", purpose="signup",
                               address="+48601234567")
    response = merchant.get(reverse("admin:shop_coderefusal_changelist"))
    assert [row.pk for row in response.context["cl"].result_list] == [mine.pk]
    assert "Consecutive numbers of one range" in response.content.decode()
    filtered = merchant.get(reverse("admin:shop_coderefusal_changelist") + "?reason__exact=country")
    assert list(filtered.context["cl"].result_list) == []
