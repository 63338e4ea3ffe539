"""Tenant isolation in the admin: staff of one shop never see or change another shop's rows."""

import re

import pytest
from django.urls import reverse

from shop.models import Customer, Order, OrderStatus
from smsnotify import outbox
from smsnotify.models import Kind, Message, SmsSettings, Status
from tests.admin_forms import change_form_data
from tests.factories import CustomerFactory, OrderFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_shops(db):
    shop_a, shop_b = make_shop(name="Shop A"), make_shop(name="Shop B")
    return shop_a, shop_b


@pytest.fixture
def merchant_a(client, two_shops):
    user = make_merchant(two_shops[0])
    client.force_login(user)
    return client


def _rows_of(shop):
    order = OrderFactory(shop=shop)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="hi", kind=Kind.MANUAL)
    return {"customer": order.customer, "order": order, "message": message,
            "smssettings": SmsSettings.objects.get(shop=shop), "shop": shop}


@pytest.mark.parametrize("model,view", [
    (model, view) for model in ["customer", "order", "message", "smssettings", "shop"] for view in ["change", "history"]
] + [("customer", "delete"), ("order", "delete")])
def test_foreign_rows_are_404(merchant_a, two_shops, model, view):
    foreign = _rows_of(two_shops[1])[model]
    app = foreign._meta.app_label
    response = merchant_a.get(reverse(f"admin:{app}_{model}_{view}", args=[foreign.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("model", ["message", "smssettings", "shop"])
def test_rows_merchants_cannot_delete_answer_alike_for_own_and_foreign(merchant_a, two_shops, model):
    own, foreign = _rows_of(two_shops[0])[model], _rows_of(two_shops[1])[model]
    codes = {merchant_a.get(reverse(f"admin:{row._meta.app_label}_{model}_delete", args=[row.pk])).status_code
             for row in (own, foreign)}
    assert codes == {403}  # the same answer: a 403 here does not reveal that the foreign row exists


@pytest.mark.parametrize("model", ["customer", "order", "message", "smssettings", "shop"])
def test_own_rows_open(merchant_a, two_shops, model):
    own = _rows_of(two_shops[0])[model]
    response = merchant_a.get(reverse(f"admin:{own._meta.app_label}_{model}_change", args=[own.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("model", ["customer", "order", "message"])
def test_lists_show_only_own_rows(merchant_a, two_shops, model):
    own, foreign = _rows_of(two_shops[0])[model], _rows_of(two_shops[1])[model]
    response = merchant_a.get(reverse(f"admin:{own._meta.app_label}_{model}_changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert own.pk in shown and foreign.pk not in shown


def test_forged_action_ids_of_another_shop_are_ignored(merchant_a, two_shops):
    foreign_order = OrderFactory(shop=two_shops[1])
    response = merchant_a.post(reverse("admin:shop_order_changelist"),
                               {"action": "mark_shipped", "_selected_action": [foreign_order.pk]})
    assert response.status_code in (200, 302)
    foreign_order.refresh_from_db()
    assert foreign_order.status == OrderStatus.PLACED
    assert Message.objects.count() == 0


def test_customer_choices_are_scoped_to_the_shop(merchant_a, two_shops):
    own, foreign = CustomerFactory(shop=two_shops[0]), CustomerFactory(shop=two_shops[1])
    response = merchant_a.post(reverse("admin:shop_order_add"), {
        "number": "X1", "customer": foreign.pk, "phone": "+12025550111", "status": "placed",
        "subtotal": 0, "shipping_cost": 0, "total": 0, "currency": "USD", "placed_at_0": "2026-11-20",
        "placed_at_1": "10:00:00",
    })
    assert response.status_code == 200
    assert "customer" in response.context["adminform"].form.errors
    assert not Order.objects.filter(number="X1").exists()
    choices = response.context["adminform"].form.fields["customer"].queryset
    assert own in choices and foreign not in choices


def test_merchant_adds_a_customer_to_their_own_shop(merchant_a, two_shops):
    response = merchant_a.post(reverse("admin:shop_customer_add"), {
        "first_name": "Ann", "last_name": "Lee", "phone": "(202) 555-0177", "registered_at_0": "2026-11-20",
        "registered_at_1": "10:00:00", "marketing_consent": "unknown",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer = Customer.objects.get(first_name="Ann")
    assert customer.shop == two_shops[0]
    assert str(customer.phone) == "+12025550177"


def test_unparseable_phone_is_a_form_error(merchant_a):
    response = merchant_a.post(reverse("admin:shop_customer_add"), {
        "first_name": "Bad", "phone": "call me maybe", "registered_at_0": "2026-11-20",
        "registered_at_1": "10:00:00", "marketing_consent": "unknown",
    })
    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    assert not Customer.objects.filter(first_name="Bad").exists()


def test_duplicate_order_number_is_a_form_error_not_a_500(merchant_a, two_shops):
    OrderFactory(shop=two_shops[0], number="777")
    OrderFactory(shop=two_shops[1], number="778")
    data = {"phone": "+12025550111", "status": "placed", "subtotal": 0, "shipping_cost": 0, "total": 0,
            "currency": "USD", "placed_at_0": "2026-11-20", "placed_at_1": "10:00:00"}
    response = merchant_a.post(reverse("admin:shop_order_add"), {**data, "number": "777"})
    assert response.status_code == 200
    assert "__all__" in response.context["adminform"].form.errors
    response = merchant_a.post(reverse("admin:shop_order_add"), {**data, "number": "778"})  # another shop's number
    assert response.status_code == 302


def test_changing_status_in_the_admin_schedules_the_sms(merchant_a, two_shops, sms_outbox,
                                                         django_capture_on_commit_callbacks):
    fund(two_shops[0], 1000)
    order = OrderFactory(shop=two_shops[0])
    url = reverse("admin:shop_order_change", args=[order.pk])
    data = change_form_data(merchant_a.get(url), status="shipped", tracking_code="TRK1")
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant_a.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    order.refresh_from_db()
    assert (order.status, order.tracking_code) == (OrderStatus.SHIPPED, "TRK1")
    message = Message.objects.get(order=order)
    assert message.status == Status.SENT
    assert "TRK1" in message.body
    assert len(sms_outbox) == 1


def test_merchant_cannot_see_users_or_beat_tasks(merchant_a):
    assert merchant_a.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert merchant_a.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 403


def test_operator_sees_every_shop(client, two_shops, admin_user):
    client.force_login(admin_user)
    for shop in two_shops:
        OrderFactory(shop=shop)
    response = client.get(reverse("admin:shop_order_changelist"))
    assert len(response.context["cl"].result_list) == 2


def test_staff_without_a_shop_sees_nothing(client, django_user_model):
    user = django_user_model.objects.create_user("lost", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:shop_order_changelist")).status_code == 403


def test_consent_changed_in_the_admin_is_stamped(merchant_a, two_shops):
    customer = CustomerFactory(shop=two_shops[0])
    url = reverse("admin:shop_customer_change", args=[customer.pk])
    response = merchant_a.post(url, {
        "first_name": customer.first_name, "last_name": customer.last_name, "phone": str(customer.phone),
        "registered_at_0": "2026-11-20", "registered_at_1": "10:00:00", "marketing_consent": "granted",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert (customer.marketing_consent, customer.marketing_consent_source) == ("granted", "admin")
    assert customer.marketing_consent_at is not None


@pytest.mark.parametrize("model", ["order", "message", "customer"])
def test_operator_lists_name_the_shop_of_each_row(client, two_shops, admin_user, model):
    for shop in two_shops:
        _rows_of(shop)
    client.force_login(admin_user)
    app = "smsnotify" if model == "message" else "shop"
    response = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].list_display[2] == "shop"  # after the checkbox and the row's link
    cells = set(re.findall(r'<td class="field-shop[^"]*">([^<]*)</td>', response.content.decode()))
    assert cells == {"Shop A", "Shop B"}


def test_merchant_lists_have_no_shop_column(merchant_a, two_shops):
    _rows_of(two_shops[0])
    response = merchant_a.get(reverse("admin:shop_order_changelist"))
    assert "shop" not in response.context["cl"].list_display
    assert "field-shop" not in response.content.decode()
