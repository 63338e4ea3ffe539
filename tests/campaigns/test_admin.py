"""The send pages: one text from an order or customer page (with its per-recipient preview),
and the bulk action on customers."""

import datetime as dt

import pytest
from django.utils import timezone
from django.urls import reverse

from campaigns import sending
from campaigns.models import BulkSend
from campaigns.sending import send_target
from credits.estimate import sms_estimate
from smsnotify.models import Message, SmsSettings, Status
from templates_sms.models import SmsTemplate
from tests.campaigns.conftest import consenting, customers_of
from tests.factories import CustomerFactory, OrderFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

BUY_URL = "/admin/credits/purchase/buy/"


def send_url(obj, suffix="send_sms"):
    return reverse(f"admin:shop_{obj._meta.model_name}_{suffix}", args=[obj.pk])


def test_order_page_shows_the_button_and_the_send_page_sends(merchant, funded, sms_outbox,
                                                             django_capture_on_commit_callbacks):
    order = OrderFactory(shop=funded)
    page = merchant.get(reverse("admin:shop_order_change", args=[order.pk]))
    assert b"Send text message" in page.content
    url = send_url(order)
    assert url == f"/admin/shop/order/{order.pk}/send-sms/"
    form = merchant.get(url).context["form"]
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(url, {"body": "Hello from the shop", "send_key": form["send_key"].value()})
    message = Message.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:smsnotify_message_change", args=[message.pk])
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


def test_customer_page_sends_too(merchant, funded, sms_outbox, django_capture_on_commit_callbacks):
    customer = CustomerFactory(shop=funded, first_name="Ann")
    page = merchant.get(reverse("admin:shop_customer_change", args=[customer.pk])).content.decode()
    assert send_url(customer) in page
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(send_url(customer), {"body": "Hi {firstname}", "send_key": sending.send_key_new()})
    assert [(sms.to, sms.body) for sms in sms_outbox] == [(str(customer.phone), "Hi Ann")]


def test_empty_text_is_a_form_error(merchant, funded):
    order = OrderFactory(shop=funded)
    response = merchant.post(send_url(order), {"body": "", "send_key": sending.send_key_new()})
    assert response.status_code == 200
    assert "body" in response.context["form"].errors
    assert Message.objects.count() == 0


def test_send_page_of_another_shops_order_is_404(merchant):
    foreign = OrderFactory(shop=make_shop())
    assert merchant.get(send_url(foreign)).status_code == 404
    assert merchant.post(send_url(foreign), {"body": "x", "send_key": sending.send_key_new()}).status_code == 404
    assert merchant.post(send_url(foreign, "send_sms_preview"), {"body": "x"}).status_code == 404


def test_button_is_replaced_by_the_reason_and_a_link_to_buy_at_zero_balance(client, db):
    shop = make_shop()  # no credits
    client.force_login(make_merchant(shop))
    customer = CustomerFactory(shop=shop)
    page = client.get(reverse("admin:shop_customer_change", args=[customer.pk])).content.decode()
    assert "send-sms-link" not in page
    assert "sms-blocked" in page
    assert f'<a href="{BUY_URL}" class="buy-credits-link">Buy credits</a>' in page
    changelist = client.get(reverse("admin:shop_customer_changelist"))
    assert "send_sms_selected" not in dict(changelist.context["action_form"].fields["action"].choices)
    assert "sms-blocked" in changelist.content.decode()
    assert f'href="{BUY_URL}"' in changelist.content.decode()
    send_page = client.get(send_url(customer)).content.decode()
    assert "Not enough credits" in send_page and f'href="{BUY_URL}"' in send_page
    response = client.post(send_url(customer), {"body": "x", "send_key": sending.send_key_new()})
    assert response.status_code == 200 and Message.objects.count() == 0


def test_sms_off_is_a_reason_without_a_link_to_buy(merchant, funded):
    SmsSettings.objects.filter(shop=funded).update(active=False)
    page = merchant.get(reverse("admin:shop_order_change", args=[OrderFactory(shop=funded).pk])).content.decode()
    assert "SMS is switched off" in page and "buy-credits-link" not in page


def test_us_shop_send_page_prices_a_polish_number_as_the_ledger_will(merchant, funded,
                                                                   django_capture_on_commit_callbacks):
    # The demo showed "Cost: 12 credits per message" for a +48 number and the ledger took 30.
    customer = CustomerFactory(shop=funded, first_name="Ola", phone="+48601234567")
    body = "Hi {firstname}, " + "your parcel is on its way. " * 7  # 2 parts
    SmsTemplate.objects.filter(shop=funded, event="custom").update(body=body)
    page = merchant.get(send_url(customer))
    estimate = sms_estimate(shop=funded, text=sending.manual_text_render(target=send_target(customer=customer),
                                                                          body=body),
                            recipient="+48601234567")
    assert estimate.segments == 2 and estimate.credits == 30 * 2
    assert page.context["editor"]["preview"].cost == estimate.credits
    assert "Cost: 60 credits per message" in page.content.decode()
    preview = merchant.post(send_url(customer, "send_sms_preview"), {"body": body}).json()
    assert (preview["cost"], preview["segments"], preview["text"]) == (60, 2, estimate.text)
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(send_url(customer), {"body": body, "send_key": page.context["form"]["send_key"].value()})
    assert Message.objects.get().credits_charged == estimate.credits  # what the page said is what the ledger took


def test_a_text_over_the_parts_limit_is_a_form_error_and_nothing_is_sent(merchant, funded):
    order = OrderFactory(shop=funded)
    response = merchant.post(send_url(order), {"body": "Hello there, " + "x" * 500,
                                               "send_key": sending.send_key_new()})
    assert response.status_code == 200
    assert "your shop allows 3 parts" in str(response.context["form"].errors["body"])
    assert Message.objects.count() == 0


def test_the_order_page_texts_the_orders_tokens(merchant, funded, sms_outbox, django_capture_on_commit_callbacks):
    order = OrderFactory(shop=funded, number="8080", total=4500, tracking_code="1Z77")
    page = merchant.get(send_url(order))
    assert "{order_id}" in [token["display"] for token in page.context["editor"]["tokens"]]
    preview = merchant.post(send_url(order, "send_sms_preview"), {"body": "Order {order_id}: {total_cost}"}).json()
    assert (preview["text"], preview["errors"]) == ("Order 8080: $45.00", [])
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(send_url(order), {"body": "Order {order_id}: {total_cost}. {tracking}",
                                                   "send_key": sending.send_key_new()})
    assert response.status_code == 302
    assert [sms.body for sms in sms_outbox] == ["Order 8080: $45.00. Tracking: 1Z77"]


def test_the_customer_page_refuses_order_tokens(merchant, funded):
    customer = CustomerFactory(shop=funded)
    preview = merchant.post(send_url(customer, "send_sms_preview"), {"body": "Order {order_id}"}).json()
    assert preview["errors"] == ["The token {order_id} is not available for this event."]
    response = merchant.post(send_url(customer), {"body": "Order {order_id}", "send_key": sending.send_key_new()})
    assert response.status_code == 200 and Message.objects.count() == 0


def test_send_page_starts_from_the_custom_template(merchant, funded):
    SmsTemplate.objects.filter(shop=funded, event="custom").update(body="Hello [[firstname]] from the shop")
    order = OrderFactory(shop=funded)
    page = merchant.get(send_url(order))
    assert page.context["form"]["body"].value() == "Hello [[firstname]] from the shop"
    assert 'id="sms-counter"' in page.content.decode()


def test_send_page_previews_the_text_for_its_real_recipient(merchant, funded):
    SmsTemplate.objects.filter(shop=funded, event="custom").update(body="Hi [[firstname]]!")
    order = OrderFactory(shop=funded, customer=CustomerFactory(shop=funded, first_name="Zed"))
    page = merchant.get(send_url(order))
    assert page.context["editor"]["preview"].text == "Hi Zed!"
    content = page.content.decode()
    assert "This is the text the customer will get." in content
    assert f'data-preview-url="{send_url(order, "send_sms_preview")}"' in content
    preview = merchant.post(send_url(order, "send_sms_preview"), {"body": "Hello [[firstname]], {shop_nme}?"}).json()
    assert preview["text"] == "Hello Zed, {shop_nme}?"
    assert preview["errors"]  # not a token


def test_preview_for_another_shops_customer_is_404_and_needs_post(merchant, funded):
    foreign = CustomerFactory(shop=make_shop())
    assert merchant.post(send_url(foreign, "send_sms_preview"), {"body": "Hi [[firstname]]"}).status_code == 404
    mine = CustomerFactory(shop=funded)
    assert merchant.get(send_url(mine, "send_sms_preview")).status_code == 405


def test_the_template_preview_no_longer_reads_orders_or_customers(merchant, funded):
    customer = CustomerFactory(shop=funded, first_name="Zed")
    preview = merchant.post(reverse("admin:templates_sms_smstemplate_preview"),
                            {"body": "Hi [[firstname]]", "customer": customer.pk}).json()
    assert preview["text"] != "Hi Zed"  # sample data: the send pages have their own preview


@pytest.mark.usefixtures("daytime")
def test_bulk_action_confirmation_then_send(merchant, funded, sms_outbox, django_capture_on_commit_callbacks):
    customers = [consenting(funded) for _ in range(2)]
    CustomerFactory(shop=funded)  # no consent: skipped
    url = reverse("admin:shop_customer_changelist")
    selected = [c.pk for c in customers_of(funded)]
    page = merchant.post(url, {"action": "send_sms_selected", "_selected_action": selected})
    assert page.status_code == 200
    assert page.context["plan"].excluded == {"no_consent": 1}
    key = page.context["form"]["send_key"].value()
    data = {"action": "send_sms_selected", "_selected_action": selected, "body": "Sale today", "send_key": key,
            "confirm": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = merchant.post(url, data)
        merchant.post(url, data)  # the browser re-submits
    sent = BulkSend.objects.get()  # one, whatever the double submit
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_bulksend_change", args=[sent.pk])
    assert sorted(sms.to for sms in sms_outbox) == sorted(str(c.phone) for c in customers)
    page = merchant.get(response["Location"])
    assert page.status_code == 200 and 'id="bulk-progress"' in page.content.decode()
    progress = merchant.get(reverse("admin:campaigns_bulksend_progress", args=[sent.pk])).json()
    assert (progress["percent"], progress["sent"], progress["status"]) == (100, 2, "finished")
    BulkSend.objects.filter(pk=sent.pk).update(status=BulkSend.State.SENDING)
    merchant.get(reverse("admin:campaigns_bulksend_progress", args=[sent.pk]))
    assert BulkSend.objects.get(pk=sent.pk).status == BulkSend.State.SENDING  # reading the progress writes nothing


def test_bulk_page_shows_the_estimated_cost_of_each_number(merchant, funded):
    consenting(funded)
    consenting(funded, phone="+48601234567")
    page = merchant.post(reverse("admin:shop_customer_changelist"), {
        "action": "send_sms_selected", "_selected_action": [c.pk for c in customers_of(funded)], "body": "Sale",
        "preview": "1", "send_key": sending.send_key_new()})
    assert '<strong class="bulk-cost">42</strong>' in page.content.decode()


def test_bulk_text_over_the_parts_limit_is_a_form_error(merchant, funded):
    consenting(funded)
    url = reverse("admin:shop_customer_changelist")
    data = {"action": "send_sms_selected", "_selected_action": [c.pk for c in customers_of(funded)],
            "body": "Sale " + "x" * 500, "send_key": sending.send_key_new()}
    page = merchant.post(url, data)
    assert "bulk-too-long" in page.content.decode()
    response = merchant.post(url, {**data, "confirm": "1"})
    assert response.status_code == 200
    assert "your shop allows 3 parts" in str(response.context["form"].errors["body"])
    assert Message.objects.count() == 0


@pytest.mark.usefixtures("daytime")
def test_bulk_action_with_forged_foreign_ids_texts_nobody_else(merchant, funded, sms_outbox,
                                                                django_capture_on_commit_callbacks):
    foreign = consenting(make_shop())
    mine = consenting(funded)
    url = reverse("admin:shop_customer_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(url, {"action": "send_sms_selected", "_selected_action": [mine.pk, foreign.pk], "body": "Hi",
                            "send_key": sending.send_key_new(), "confirm": "1"})
    assert [sms.to for sms in sms_outbox] == [str(mine.phone)]


def test_the_operator_gets_no_link_to_a_purchase_page_they_cannot_use(admin_client, db):
    shop = make_shop()
    page = admin_client.get(reverse("admin:shop_order_change", args=[OrderFactory(shop=shop).pk])).content.decode()
    assert "Not enough credits" in page and "buy-credits-link" not in page


@pytest.mark.usefixtures("daytime")
def test_select_all_matching_sends_to_the_filtered_list_without_listing_ids(merchant, funded, sms_outbox,
                                                                             django_capture_on_commit_callbacks):
    # Bob's other fields are fixed too: a random surname or address with "ann" in it (Mann, joann@…) matched the search.
    ann = consenting(funded, first_name="Ann")
    consenting(funded, first_name="Bob", last_name="Smith", email="bob@example.com")
    others = [consenting(funded, first_name="Ann") for _ in range(2)]  # on another page, say
    url = reverse("admin:shop_customer_changelist") + "?q=Ann"
    page = merchant.post(url, {"action": "send_sms_selected", "select_across": "1", "_selected_action": [ann.pk]})
    assert page.context["plan"].count == 3
    html = page.content.decode()
    assert 'name="select_across" value="1"' in html
    data = {"action": "send_sms_selected", "select_across": "1", "_selected_action": [ann.pk], "body": "Sale",
            "confirm": "1",
            "send_key": page.context["form"]["send_key"].value()}
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(url, data)
    assert sorted(sms.to for sms in sms_outbox) == sorted(str(c.phone) for c in [ann, *others])  # not Bob


def test_the_order_list_sends_to_the_orders_numbers_as_a_service_text(merchant, funded,
                                                                      django_capture_on_commit_callbacks):
    orders = [OrderFactory(shop=funded) for _ in range(2)]
    url = reverse("admin:shop_order_changelist")
    data = {"action": "send_sms_selected", "_selected_action": [o.pk for o in orders], "purpose": "service",
            "body": "Order {order_id}: we ship tomorrow", "send_key": sending.send_key_new()}
    page = merchant.post(url, data)
    assert page.context["plan"].count == 2
    assert f"Order {orders[0].number}: we ship tomorrow" in page.content.decode()  # the first recipients' texts
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(url, {**data, "confirm": "1"})
    sent = BulkSend.objects.get()
    assert (sent.source, sent.purpose, sent.recipients) == ("orders", "service", 2)
    assert set(Message.objects.values_list("order", flat=True)) == {o.pk for o in orders}


def test_a_send_time_is_read_in_the_shops_time_zone(merchant, funded, django_capture_on_commit_callbacks):
    funded.time_zone = "Europe/Warsaw"
    funded.save(update_fields=["time_zone"])
    consenting(funded)
    url = reverse("admin:shop_customer_changelist")
    data = {"action": "send_sms_selected", "_selected_action": [c.pk for c in customers_of(funded)], "body": "Sale",
            "send_key": sending.send_key_new(), "send_at": "2099-06-01T09:00", "confirm": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        merchant.post(url, data)
    assert BulkSend.objects.get().send_at.isoformat() == "2099-06-01T07:00:00+00:00"
    past = merchant.post(url, {**data, "send_at": "2001-01-01T09:00", "send_key": sending.send_key_new()})
    assert past.status_code == 200 and past.context["form"].errors["send_at"]


def test_a_bulk_send_the_balance_cannot_cover_is_refused_on_the_page(merchant, funded):
    for _ in range(3):
        consenting(funded)
    from credits.ledger import account_adjust
    from django.contrib.auth.models import User
    account_adjust(shop=funded, amount=-980, reason="test", user=User.objects.first())
    url = reverse("admin:shop_customer_changelist")
    data = {"action": "send_sms_selected", "_selected_action": [c.pk for c in customers_of(funded)], "body": "Sale",
            "send_key": sending.send_key_new()}
    assert "bulk-unaffordable" in merchant.post(url, data).content.decode()
    page = merchant.post(url, {**data, "confirm": "1"})
    assert page.status_code == 200 and "36" in str(page.context["form"].non_field_errors())
    assert not BulkSend.objects.exists()


def test_cancel_from_the_bulk_sends_page(merchant, funded, django_capture_on_commit_callbacks):
    from campaigns import bulk

    for _ in range(2):
        consenting(funded)
    sent = bulk.bulk_send_create(shop=funded, selection=customers_of(funded), body="Sale",
                                 send_key=sending.send_key_new(), send_at=timezone.now() + dt.timedelta(days=1))
    bulk.bulk_fan_out(bulk_id=sent.pk)
    url = reverse("admin:campaigns_bulksend_cancel", args=[sent.pk])
    assert merchant.get(url).status_code == 405
    response = merchant.post(url)
    assert response.status_code == 302
    sent.refresh_from_db()
    assert sent.status == BulkSend.State.CANCELLED
    assert set(Message.objects.values_list("status", flat=True)) == {Status.CANCELLED}
    assert merchant.get(reverse("admin:campaigns_bulksend_changelist")).status_code == 200


def test_a_bulk_send_held_by_quiet_hours_says_why_and_until_when_in_the_shops_language(client, on_commit):
    import time_machine
    from unittest import mock

    from campaigns import bulk
    from smsnotify.delivery import messages_deliver
    from tests.factories import fund

    shop = make_shop(language="pl", country="PL", time_zone="Europe/Warsaw")
    fund(shop, 1000)
    client.force_login(make_merchant(shop))
    consenting(shop, phone="+48601234567")
    with time_machine.travel(dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC), tick=False):  # 6:00 in Warsaw
        with mock.patch("campaigns.tasks.bulk_fan_out_task.delay"), on_commit():
            sent = bulk.bulk_send_create(shop=shop, selection=customers_of(shop), body="Wyprzedaż",
                                         send_key=sending.send_key_new())
        with mock.patch("smsnotify.outbox.messages_ring"):
            bulk.bulk_fan_out(bulk_id=sent.pk)
        messages_deliver(message_ids=list(Message.objects.values_list("pk", flat=True)))
        page = client.get(reverse("admin:campaigns_bulksend_change", args=[sent.pk])).content.decode()
        progress = client.get(reverse("admin:campaigns_bulksend_progress", args=[sent.pk])).json()
    note = "Czekamy na koniec godzin ciszy. Początek wysyłki: 08:00."  # 8:00 Warsaw time, today
    assert f'<p class="bulk-waiting" data-field="waiting_note">{note}</p>' in page
    assert progress["waiting_note"] == note
    with time_machine.travel(dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC), tick=False):  # the day before
        progress = client.get(reverse("admin:campaigns_bulksend_progress", args=[sent.pk])).json()
    assert progress["waiting_note"] == "Czekamy na koniec godzin ciszy. Początek wysyłki: 01-12-2026 08:00."


def test_each_reason_a_bulk_send_waits_reads_in_words():
    from django.utils import translation

    import time_machine

    from campaigns.admin_bulk import waiting_text
    from campaigns.bulk import BulkWait

    at = dt.datetime(2026, 12, 1, 13, 0, tzinfo=dt.UTC)
    with translation.override("en"), timezone.override("America/New_York"), time_machine.travel(dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        assert waiting_text(None) == ""
        assert waiting_text(BulkWait("scheduled", at)) == "Scheduled: sending starts at 08:00."
        assert waiting_text(BulkWait("outside_hours", at + dt.timedelta(days=1))) == \
            "Waiting for quiet hours to end: sending starts at 12/02/2026 08:00."
        assert waiting_text(BulkWait("paced", at, {"rate": "1000"})) == \
            "Sending at your sender's rate of 1,000 SMS parts per second: the texts leave one after another."
        assert waiting_text(BulkWait("frequency_cap", at, {})) == ("Waiting until 08:00: the customer already got as "
                                                                   "many marketing texts as the shop allows in this time.")
    with translation.override("pt"):
        assert "0,5" in waiting_text(BulkWait("paced", at, {"rate": "0.5"}))
