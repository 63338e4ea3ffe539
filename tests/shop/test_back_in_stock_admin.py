"""The merchant's list of back-in-stock notifications: who waits for what, searched, filtered, deleted."""

import pytest
from django.urls import reverse

from shop.models import BackInStockSubscription, StockStatus, SubscriptionStatus
from tests.factories import BackInStockSubscriptionFactory, CustomerFactory, ProductFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

LIST = reverse("admin:shop_backinstocksubscription_changelist")


@pytest.fixture
def merchant(client, shop):
    client.force_login(make_merchant(shop))
    return client


@pytest.fixture
def rows(shop):
    tent = ProductFactory(shop=shop, name="Trail tent", sku="TT-1", stock_status=StockStatus.OUT_OF_STOCK)
    stove = ProductFactory(shop=shop, pk=987654, name="Camping stove", stock_status=StockStatus.OUT_OF_STOCK)
    ada = CustomerFactory(shop=shop, first_name="Ada", last_name="Lovelace", phone="+12025550101")
    return {
        "ada_tent": BackInStockSubscriptionFactory(shop=shop, product=tent, customer=ada, phone="+12025550101"),
        "bob_tent": BackInStockSubscriptionFactory(shop=shop, product=tent, phone="+12025550102",
                                                   status=SubscriptionStatus.SENT),
        "ada_stove": BackInStockSubscriptionFactory(shop=shop, product=stove, customer=ada, phone="+12025550101"),
        "theirs": BackInStockSubscriptionFactory(shop=make_shop(name="Other shop"), phone="+12025550199"),
    }


def listed(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def test_the_list_shows_the_shops_own_notifications_with_their_columns(merchant, rows):
    response = merchant.get(LIST)
    assert response.status_code == 200
    assert listed(response) == {rows["ada_tent"].pk, rows["bob_tent"].pk, rows["ada_stove"].pk}
    html = response.content.decode()
    for text in ("+12025550101", "Ada Lovelace", "Trail tent", "Camping stove", "Waiting", "Sent",
                 str(rows["ada_tent"].product_id)):
        assert text in html
    assert "+12025550199" not in html and "Other shop" not in html
    assert "Add back-in-stock notification" not in html  # visitors sign up on the storefront


@pytest.mark.parametrize("query,expected", [
    ("202555010", {"ada_tent", "bob_tent", "ada_stove"}),
    ("+12025550102", {"bob_tent"}),
    ("stove", {"ada_stove"}),
    ("TT-1", {"ada_tent", "bob_tent"}),
    ("Lovelace", {"ada_tent", "ada_stove"}),
    ("+12025550199", set()),  # another shop's number finds nothing
])
def test_search_by_phone_product_and_customer(merchant, rows, query, expected):
    assert listed(merchant.get(LIST, {"q": query})) == {rows[name].pk for name in expected}


def test_search_by_product_id(merchant, rows):
    product_id = rows["ada_stove"].product_id
    assert listed(merchant.get(LIST, {"q": str(product_id)})) == {rows["ada_stove"].pk}


def test_filter_by_status(merchant, rows):
    assert listed(merchant.get(LIST, {"status__exact": "sent"})) == {rows["bob_tent"].pk}
    assert listed(merchant.get(LIST, {"status__exact": "waiting"})) == {rows["ada_tent"].pk, rows["ada_stove"].pk}


def test_select_all_matching_and_delete(merchant, rows):
    data = {"action": "delete_selected", "select_across": "1", "index": "0",
            "_selected_action": [rows["ada_tent"].pk]}
    confirm = merchant.post(LIST + "?q=Lovelace", data)
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    done = merchant.post(LIST + "?q=Lovelace", {**data, "post": "yes"})
    assert done.status_code == 302
    assert set(BackInStockSubscription.objects.values_list("pk", flat=True)) == {rows["bob_tent"].pk,
                                                                                 rows["theirs"].pk}


def test_select_all_never_reaches_another_shop(merchant, rows):
    data = {"action": "delete_selected", "select_across": "1", "index": "0", "post": "yes",
            "_selected_action": [rows["theirs"].pk]}
    merchant.post(LIST, data)
    assert list(BackInStockSubscription.objects.values_list("pk", flat=True)) == [rows["theirs"].pk]


def test_cancel_stops_only_those_still_waiting(merchant, rows):
    ids = [rows[name].pk for name in ("ada_tent", "bob_tent", "theirs")]
    response = merchant.post(LIST, {"action": "cancel_waiting", "index": "0", "_selected_action": ids}, follow=True)
    assert "1 notification cancelled." in response.content.decode()
    statuses = dict(BackInStockSubscription.objects.values_list("pk", "status"))
    assert statuses == {rows["ada_tent"].pk: "cancelled", rows["bob_tent"].pk: "sent",
                        rows["ada_stove"].pk: "waiting", rows["theirs"].pk: "waiting"}


def test_a_notification_is_read_only(merchant, rows):
    url = reverse("admin:shop_backinstocksubscription_change", args=[rows["ada_tent"].pk])
    response = merchant.get(url)
    assert response.status_code == 200 and b"+12025550101" in response.content
    assert merchant.post(url, {"phone": "+12025550999"}).status_code == 403
    rows["ada_tent"].refresh_from_db()
    assert str(rows["ada_tent"].phone) == "+12025550101"
    foreign = reverse("admin:shop_backinstocksubscription_change", args=[rows["theirs"].pk])
    assert merchant.get(foreign).status_code == 404


def test_the_operator_sees_every_shop(client, rows, admin_user):
    client.force_login(admin_user)
    response = client.get(LIST)
    assert len(listed(response)) == 4 and "Other shop" in response.content.decode()
