"""The admin speaks the merchant's shop: its time zone and, unless the user picked another, its language."""

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import OrderFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

PLACED = dt.datetime(2026, 1, 15, 3, 30, tzinfo=dt.timezone.utc)  # 22:30 on the 14th in New York


@pytest.fixture
def new_york(db):
    return make_shop(name="Acme", time_zone="America/New_York")


@pytest.fixture
def baltyk(db):
    return make_shop(name="Sklep Bałtyk", country="PL", currency="PLN", language="pl", time_zone="Europe/Warsaw")


def login(client, shop):
    client.force_login(make_merchant(shop))
    return client


def test_times_in_the_admin_are_the_shops(client, new_york):
    OrderFactory(shop=new_york, number="1001", placed_at=PLACED)
    page = login(client, new_york).get(reverse("admin:shop_order_changelist")).content.decode()
    assert "Jan. 14, 2026, 10:30 p.m." in page
    assert "3:30 a.m." not in page


def test_the_operator_keeps_utc(client, new_york, admin_user):
    OrderFactory(shop=new_york, number="1001", placed_at=PLACED)
    client.force_login(admin_user)
    page = client.get(reverse("admin:shop_order_changelist")).content.decode()
    assert "Jan. 15, 2026, 3:30 a.m." in page


def test_a_polish_shop_gets_a_polish_admin(client, baltyk):
    OrderFactory(shop=baltyk, number="1001", total=5890, phone="+48601234567")
    merchant = login(client, baltyk)
    index = merchant.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")  # the shop's language wins
    page = index.content.decode()
    assert '<html lang="pl"' in page
    assert "Wyloguj" in page  # Django's own catalog
    assert "Ustawienia SMS" in page  # ours, locale/pl
    assert index["Content-Language"] == "pl"
    orders = merchant.get(reverse("admin:shop_order_changelist")).content.decode()
    assert "58,90 zł" in orders


def test_a_language_the_user_picked_wins_over_the_shops(client, baltyk):
    merchant = login(client, baltyk)
    page = merchant.get(reverse("admin:index")).content.decode()
    assert 'action="/i18n/setlang/"' in page  # the picker in the header
    response = merchant.post(reverse("set_language"), {"language": "en", "next": reverse("admin:index")})
    assert response.status_code == 302
    assert merchant.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = merchant.get(reverse("admin:index")).content.decode()
    assert "Log out" in page and "Wyloguj" not in page


def test_nothing_leaks_past_the_request(client, baltyk):
    login(client, baltyk).get(reverse("admin:index"))
    assert translation.get_language() != "pl"
    assert timezone.get_current_timezone_name() == "UTC"
