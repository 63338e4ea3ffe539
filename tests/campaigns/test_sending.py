"""Texts sent by hand: one from an order or customer page, or in bulk to ticked customers."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns import sending
from shop.models import MarketingConsent
from smsnotify.models import Kind, Message, SmsSettings, Status
from tests.factories import CustomerFactory, OrderFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(db):
    shop = make_shop(name="Funded")
    fund(shop, 1000)
    return shop


def consenting(shop, **kwargs):
    return CustomerFactory(shop=shop, marketing_consent=MarketingConsent.GRANTED, **kwargs)


def test_send_to_the_customer_of_an_order(funded, sms_outbox, on_commit):
    order = OrderFactory(shop=funded)
    key = sending.new_send_key()
    with on_commit():
        message = sending.send_to_one(shop=funded, body="Your parcel is delayed by a day.", send_key=key, order=order)
        again = sending.send_to_one(shop=funded, body="Your parcel is delayed by a day.", send_key=key, order=order)
    assert message.pk == again.pk  # a double click sends once
    assert (message.kind, message.order, message.customer) == (Kind.MANUAL, order, order.customer)
    assert [sms.to for sms in sms_outbox] == [str(order.phone)]


def test_send_is_blocked_when_sms_is_off(funded):
    SmsSettings.objects.filter(shop=funded).update(active=False)
    with pytest.raises(sending.SendBlocked):
        sending.send_to_one(shop=funded, body="hi", send_key=sending.new_send_key(), customer=CustomerFactory(shop=funded))
    assert Message.objects.count() == 0


def test_send_is_blocked_without_credits(db):
    shop = make_shop()
    with pytest.raises(sending.SendBlocked) as excinfo:
        sending.send_to_one(shop=shop, body="hi", send_key=sending.new_send_key(), customer=CustomerFactory(shop=shop))
    assert "credits" in str(excinfo.value).lower()


def test_forged_send_key_is_refused(funded):
    with pytest.raises(ValidationError):
        sending.send_to_one(shop=funded, body="hi", send_key="../../etc", customer=CustomerFactory(shop=funded))


def test_bulk_plan_skips_and_explains(funded):
    ok = consenting(funded)
    consenting(funded, phone=ok.phone)  # same number twice
    CustomerFactory(shop=funded)  # never asked
    consenting(funded, phone="")
    plan = sending.plan_bulk(shop=funded, customers=funded_customers(funded), body="Sale: -20% today")
    assert [c for c, _number, _text in plan.recipients] == [ok]
    assert sorted(plan.skipped.values()) == [1, 1, 1]
    assert plan.credits == 12


def funded_customers(shop):
    from shop.models import Customer

    return Customer.objects.filter(shop=shop)


def test_bulk_send_schedules_once_per_customer_and_is_idempotent(funded, sms_outbox, on_commit):
    customers = [consenting(funded) for _ in range(3)]
    key = sending.new_send_key()
    with on_commit():
        sending.send_bulk(shop=funded, customers=funded_customers(funded), body="Sale", send_key=key)
        sending.send_bulk(shop=funded, customers=funded_customers(funded), body="Sale", send_key=key)
    assert Message.objects.filter(kind=Kind.BULK).count() == 3
    assert sorted(sms.to for sms in sms_outbox) == sorted(str(c.phone) for c in customers)


def test_bulk_send_refuses_what_the_balance_cannot_pay(db):
    shop = make_shop()
    fund(shop, 20)
    for _ in range(2):
        consenting(shop)
    with pytest.raises(sending.SendBlocked) as excinfo:
        sending.send_bulk(shop=shop, customers=funded_customers(shop), body="Sale", send_key=sending.new_send_key())
    assert "24" in str(excinfo.value)
    assert Message.objects.count() == 0


def test_bulk_send_never_reaches_another_shops_customers(funded):
    other = make_shop()
    consenting(other)
    mine = consenting(funded)
    from shop.models import Customer

    plan = sending.send_bulk(shop=funded, customers=Customer.objects.all(), body="Sale", send_key=sending.new_send_key())
    assert [c for c, _number, _text in plan.recipients] == [mine]


# --- the admin pages ---------------------------------------------------------------------


@pytest.fixture
def merchant(client, funded):
    client.force_login(make_merchant(funded))
    return client


def test_order_page_shows_the_button_and_the_send_page_sends(merchant, funded, sms_outbox,
                                                             django_capture_on_commit_callbacks):
    order = OrderFactory(shop=funded)
    page = merchant.get(reverse("admin:shop_order_change", args=[order.pk]))
    assert b"Send text message" in page.content
    url = reverse("admin:shop_order_send_sms", args=[order.pk])
    form = merchant.get(url).context["form"]
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(url, {"body": "Hello from the shop", "send_key": form["send_key"].value()})
    message = Message.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:smsnotify_message_change", args=[message.pk])
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


def test_empty_text_is_a_form_error(merchant, funded):
    order = OrderFactory(shop=funded)
    response = merchant.post(reverse("admin:shop_order_send_sms", args=[order.pk]),
                             {"body": "", "send_key": sending.new_send_key()})
    assert response.status_code == 200
    assert "body" in response.context["form"].errors
    assert Message.objects.count() == 0


def test_send_page_of_another_shops_order_is_404(merchant):
    foreign = OrderFactory(shop=make_shop())
    assert merchant.get(reverse("admin:shop_order_send_sms", args=[foreign.pk])).status_code == 404
    assert merchant.post(reverse("admin:shop_order_send_sms", args=[foreign.pk]),
                         {"body": "x", "send_key": sending.new_send_key()}).status_code == 404


def test_button_is_replaced_by_the_reason_at_zero_balance(client, db):
    shop = make_shop()  # no credits
    client.force_login(make_merchant(shop))
    customer = CustomerFactory(shop=shop)
    page = client.get(reverse("admin:shop_customer_change", args=[customer.pk])).content.decode()
    assert "send-sms-link" not in page
    assert "sms-blocked" in page
    changelist = client.get(reverse("admin:shop_customer_changelist"))
    assert "send_sms_selected" not in dict(changelist.context["action_form"].fields["action"].choices)
    assert "sms-blocked" in changelist.content.decode()
    response = client.post(reverse("admin:shop_customer_send_sms", args=[customer.pk]),
                           {"body": "x", "send_key": sending.new_send_key()})
    assert response.status_code == 200 and Message.objects.count() == 0


def test_bulk_action_confirmation_then_send(merchant, funded, sms_outbox, django_capture_on_commit_callbacks):
    customers = [consenting(funded) for _ in range(2)]
    CustomerFactory(shop=funded)  # no consent: skipped
    url = reverse("admin:shop_customer_changelist")
    selected = [c.pk for c in funded_customers(funded)]
    page = merchant.post(url, {"action": "send_sms_selected", "_selected_action": selected})
    assert page.status_code == 200
    assert page.context["plan"].skipped
    key = page.context["form"]["send_key"].value()
    data = {"action": "send_sms_selected", "_selected_action": selected, "body": "Sale today", "send_key": key,
            "confirm": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(url, data)
        merchant.post(url, data)  # the browser re-submits
    assert response.status_code == 302
    assert sorted(sms.to for sms in sms_outbox) == sorted(str(c.phone) for c in customers)


def test_bulk_action_with_forged_foreign_ids_texts_nobody_else(merchant, funded, sms_outbox,
                                                                django_capture_on_commit_callbacks):
    foreign = consenting(make_shop())
    mine = consenting(funded)
    url = reverse("admin:shop_customer_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(url, {"action": "send_sms_selected", "_selected_action": [mine.pk, foreign.pk], "body": "Hi",
                            "send_key": sending.new_send_key(), "confirm": "1"})
    assert [sms.to for sms in sms_outbox] == [str(mine.phone)]


def test_text_is_personalised_per_recipient(funded, sms_outbox, on_commit):
    ann = consenting(funded, first_name="Ann")
    bob = consenting(funded, first_name="Bob")
    with on_commit():
        sending.send_bulk(shop=funded, customers=funded_customers(funded), body="Hi [[firstname]], -20% today",
                          send_key=sending.new_send_key())
    assert {sms.to: sms.body for sms in sms_outbox} == {
        str(ann.phone): "Hi Ann, -20% today", str(bob.phone): "Hi Bob, -20% today"}


def test_unknown_token_is_refused_before_anything_is_sent(funded):
    customer = consenting(funded)
    with pytest.raises(ValidationError) as excinfo:
        sending.send_to_one(shop=funded, body="Hi {frstname}", send_key=sending.new_send_key(), customer=customer)
    assert "frstname" in str(excinfo.value)
    with pytest.raises(ValidationError):
        sending.send_bulk(shop=funded, customers=funded_customers(funded), body="Hi {order_id}",
                          send_key=sending.new_send_key())
    assert Message.objects.count() == 0


def test_bulk_cost_counts_each_rendered_text(funded):
    consenting(funded, first_name="Al")
    consenting(funded, first_name="Łucja")  # one Polish letter turns her text into UCS-2: 2 parts
    plan = sending.plan_bulk(shop=funded, customers=funded_customers(funded), body="Hi {firstname}! " + "x" * 65)
    assert plan.credits == 12 + 24
    assert plan.segments == 2


def test_send_page_starts_from_the_custom_template(merchant, funded):
    from templates_sms.models import SmsTemplate

    SmsTemplate.objects.filter(shop=funded, event="custom").update(body="Hello [[firstname]] from the shop")
    order = OrderFactory(shop=funded)
    page = merchant.get(reverse("admin:shop_order_send_sms", args=[order.pk]))
    assert page.context["form"]["body"].value() == "Hello [[firstname]] from the shop"
    assert 'id="sms-counter"' in page.content.decode()


def test_send_page_previews_the_text_for_its_real_recipient(merchant, funded):
    from templates_sms.models import SmsTemplate

    SmsTemplate.objects.filter(shop=funded, event="custom").update(body="Hi [[firstname]]!")
    order = OrderFactory(shop=funded, customer=CustomerFactory(shop=funded, first_name="Zed"))
    page = merchant.get(reverse("admin:shop_order_send_sms", args=[order.pk]))
    assert page.context["editor"]["preview"].text == "Hi Zed!"
    assert "This is the text the customer will get." in page.content.decode()
    preview = merchant.post(reverse("admin:templates_sms_smstemplate_preview"),
                            {"body": "Hello [[firstname]], order {order_id}?", "order": order.pk}).json()
    assert preview["text"] == "Hello Zed, order {order_id}?"
    assert preview["errors"]  # {order_id} is not a token of a hand-written text


def test_preview_for_another_shops_customer_is_404(merchant):
    foreign = CustomerFactory(shop=make_shop())
    response = merchant.post(reverse("admin:templates_sms_smstemplate_preview"),
                             {"body": "Hi [[firstname]]", "customer": foreign.pk})
    assert response.status_code == 404
    response = merchant.post(reverse("admin:templates_sms_smstemplate_preview"), {"body": "x", "customer": "1 or 1"})
    assert response.status_code == 404
