"""campaigns/service_texts.py through the store's services: order confirmation and the new-order
alert, status texts with the merchant's delays and product rules (and the rule that cancels a
delayed text the order has moved past), the tracking-code text, tickets."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone, translation

from campaigns.models import OrderStatusRule
from campaigns.selectors import order_messages
from shop import services as shop_services
from shop.models import OrderStatus
from smsnotify import history
from smsnotify.models import EventType, Kind, Message, SmsSettings, Status
from smsnotify.outbox import messages_dispatch_due
from templates_sms import services as template_services
from templates_sms.models import SmsTemplate
from tests.delivery import deliver
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, make_shop

pytestmark = pytest.mark.django_db

MERCHANT = "+12025550199"  # make_shop's merchant number


def _template(shop, event, audience="customer"):
    return SmsTemplate.objects.get(shop=shop, event=event, audience=audience, is_standard=True)


def _switch(shop, event, active, audience="customer"):
    template_services.template_update(template=_template(shop, event, audience), active=active)


def _place(shop, *, items=(), **kwargs):
    customer = kwargs.pop("customer", None) or CustomerFactory(shop=shop, first_name="Ada", phone="+12025550123")
    return shop_services.order_create(shop=shop, number=kwargs.pop("number", "A-1"), customer=customer,
                                      items=list(items), **kwargs)


def _status_texts(order):
    return Message.objects.filter(order=order, kind=Kind.ORDER_STATUS).order_by("pk")


def _reason(message):
    stopped = message.events.get(type=EventType.STOPPED)
    with translation.override("en"):
        return history.event_text(stopped)


# --- a new order -------------------------------------------------------------------------------


def test_a_new_order_texts_the_customer_a_confirmation_and_the_merchant_an_alert(shop, sms_outbox, on_commit):
    with on_commit():
        order = _place(shop, items=[(ProductFactory(shop=shop, price=2500), 2)], shipping_cost=500)
    confirmation = Message.objects.get(kind=Kind.ORDER_PLACED)
    alert = Message.objects.get(kind=Kind.MERCHANT_ALERT)
    assert (confirmation.recipient, confirmation.order, confirmation.dedupe_key) == (
        "+12025550123", order, f"order:{order.pk}:new")
    assert "thank you for your order A-1! Total: $55.00." in confirmation.body
    assert (alert.recipient, alert.order, alert.dedupe_key) == (MERCHANT, order, f"order:{order.pk}:new:merchant")
    assert alert.customer is None  # it went to the merchant's phone, not the customer's
    assert alert.body.startswith("New order A-1 from Ada")
    assert sorted(sms.to for sms in sms_outbox) == sorted(["+12025550123", MERCHANT])


def test_without_a_merchants_number_no_alert_is_written_and_the_settings_page_says_why(shop, client):
    from tests.factories import make_merchant

    SmsSettings.objects.filter(shop=shop).update(merchant_number="")
    _place(shop)
    assert list(Message.objects.values_list("kind", flat=True)) == [Kind.ORDER_PLACED]
    client.force_login(make_merchant(shop))
    page = client.get(f"/admin/smsnotify/smssettings/{shop.sms_settings.pk}/change/").content.decode()
    assert "No merchant&#x27;s number: alerts to you (new order, new ticket) are not texted." in page


def test_a_switched_off_confirmation_or_alert_writes_nothing(shop):
    _switch(shop, "order:new", False)
    _switch(shop, "order:new", False, audience="merchant")
    _place(shop)
    assert not Message.objects.exists()


def test_an_order_line_of_another_shop_is_refused_and_nothing_is_written(shop):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _place(shop, items=[(ProductFactory(shop=make_shop()), 1)])
    assert not Message.objects.exists()


# --- status texts, delays and rules ------------------------------------------------------------


def test_a_status_without_a_rule_is_texted_at_once(shop):
    order = OrderFactory(shop=shop)
    before = timezone.now()
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    (text,) = _status_texts(order)
    assert before <= text.send_at <= timezone.now()


def test_a_delayed_status_text_waits_for_its_delay_then_leaves(shop, sms_outbox, on_commit):
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=2, delay_hours=3,
                                   delay_minutes=4)
    order = OrderFactory(shop=shop)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    (text,) = _status_texts(order)
    assert text.send_at == start + dt.timedelta(days=2, hours=3, minutes=4)
    with time_machine.travel(text.send_at - dt.timedelta(seconds=1), tick=False):
        assert messages_dispatch_due() == 0
    with time_machine.travel(text.send_at + dt.timedelta(seconds=1), tick=False), on_commit():
        assert messages_dispatch_due() == 1
    text.refresh_from_db()
    assert text.status == Status.SENT and [sms.body for sms in sms_outbox] == [text.body]


def test_a_status_change_before_a_delayed_text_leaves_cancels_it_and_says_why(shop, sms_outbox, on_commit):
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=2)
    _switch(shop, "order_status:cancelled", True)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    with on_commit():
        shop_services.order_change_status(order=order, status=OrderStatus.CANCELLED)
    shipped, cancelled = _status_texts(order)
    assert (shipped.status, shipped.error_code) == (Status.CANCELLED, "status_changed")
    assert _reason(shipped) == "Not sent: the order moved to another status before it was due."
    assert cancelled.status == Status.SENT  # the new status's own text is not touched
    with time_machine.travel(timezone.now() + dt.timedelta(days=3)), on_commit():
        messages_dispatch_due()
    assert [sms.body for sms in sms_outbox] == [cancelled.body]


def test_coming_back_to_the_status_writes_the_text_again_with_a_fresh_delay(shop):
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=2)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    shop_services.order_change_status(order=order, status=OrderStatus.RETURNED)
    later = timezone.now() + dt.timedelta(hours=5)
    with time_machine.travel(later, tick=False):
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    first, again = _status_texts(order)
    assert (first.status, first.dedupe_key) == (Status.CANCELLED, None)  # its key went to the new text
    assert (again.status, again.dedupe_key) == (Status.SCHEDULED, f"order:{order.pk}:status:shipped")
    assert again.send_at == later + dt.timedelta(days=2)


def test_a_status_already_texted_is_not_texted_again_and_its_text_says_so(shop, on_commit, client):
    from tests.factories import make_merchant

    order = OrderFactory(shop=shop)
    for status in (OrderStatus.SHIPPED, OrderStatus.RETURNED, OrderStatus.SHIPPED):
        with on_commit():
            shop_services.order_change_status(order=order, status=status)
    (text,) = _status_texts(order)
    assert text.status == Status.SENT
    assert text.events.filter(type=EventType.REPEATED).count() == 1
    client.force_login(make_merchant(shop))
    rows = client.get(f"/admin/shop/order/{order.pk}/change/").context["order_messages"]
    (row,) = rows
    assert row["note"].startswith("The order came back to this status at ")
    assert row["note"].endswith(": already texted for it, not sent again.")


def test_the_policy_stops_a_status_text_whose_order_moved_on_without_the_event(shop, sms_outbox):
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    (text,) = _status_texts(order)
    type(order).objects.filter(pk=order.pk).update(status=OrderStatus.RETURNED)  # e.g. a bulk fix in the database
    deliver([text.pk])
    text.refresh_from_db()
    assert (text.status, text.error_code) == (Status.CANCELLED, "status_changed")
    assert text.credits_charged == 0 and sms_outbox == []


def test_a_status_text_for_the_current_status_passes_the_policy(shop, sms_outbox):
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    (text,) = _status_texts(order)
    deliver([text.pk])
    text.refresh_from_db()
    assert text.status == Status.SENT and len(sms_outbox) == 1


def test_a_product_rule_wins_over_the_shop_wide_rule_for_orders_containing_the_product(shop):
    tent, cup = ProductFactory(shop=shop, name="Tent"), ProductFactory(shop=shop, name="Cup")
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=1)
    own = SmsTemplate.objects.create(shop=shop, event="order_status:shipped", audience="customer", name="Tent shipped",
                                     body="Your tent {order_id} is on its way.", active=False)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, product=tent, delay_hours=2, template=own)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        with_tent = _place(shop, number="T-1", items=[(cup, 1), (tent, 1)])
        without = _place(shop, number="C-1", items=[(cup, 1)])
        for order in (with_tent, without):
            shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    (tent_text,), (cup_text,) = _status_texts(with_tent), _status_texts(without)
    # the rule's own template is its choice, even while that template is off for the shop as a whole
    assert (tent_text.body, tent_text.send_at) == ("Your tent T-1 is on its way.", start + dt.timedelta(hours=2))
    assert cup_text.send_at == start + dt.timedelta(days=1)
    assert "has been shipped" in cup_text.body


def test_of_two_product_rules_the_oldest_wins(shop):
    first, second = ProductFactory(shop=shop), ProductFactory(shop=shop)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, product=second, delay_days=5)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, product=first, delay_days=1)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        order = _place(shop, items=[(first, 1), (second, 1)])
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert _status_texts(order).get().send_at == start + dt.timedelta(days=5)


def test_a_rule_switched_off_texts_nothing_for_its_orders_only(shop):
    quiet = ProductFactory(shop=shop)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, product=quiet, active=False)
    silent, loud = _place(shop, number="Q-1", items=[(quiet, 1)]), _place(shop, number="L-1")
    for order in (silent, loud):
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert not _status_texts(silent).exists()
    assert _status_texts(loud).count() == 1


def test_another_shops_rule_does_not_apply(shop):
    other = make_shop()
    OrderStatusRule.objects.create(shop=other, status=OrderStatus.SHIPPED, active=False)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert _status_texts(order).count() == 1


def test_a_shop_wide_rule_on_a_switched_off_template_texts_nothing(shop):
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.ACCEPTED, delay_hours=1)  # "accepted" starts off
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.ACCEPTED)
    assert not _status_texts(order).exists()


def test_the_delay_reads_as_the_merchant_set_it():
    with translation.override("en"):
        assert OrderStatusRule(status="shipped").delay_text == "at once"
        assert OrderStatusRule(status="shipped", delay_days=2, delay_minutes=1).delay_text == "after 2 days 1 minute"
        assert OrderStatusRule(status="shipped", delay_hours=1).delay_text == "after 1 hour"


# --- the tracking code -------------------------------------------------------------------------


def test_a_tracking_code_set_later_is_texted_at_once_and_a_new_code_again(shop, sms_outbox, on_commit):
    _switch(shop, "order:tracking", True)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    with on_commit():
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="1Z1")
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="1Z2")
    texts = Message.objects.filter(kind=Kind.TRACKING).order_by("pk")
    assert [t.body.rsplit(" ", 1)[1] for t in texts] == ["1Z1", "1Z2"]
    assert [t.dedupe_key for t in texts] == [f"order:{order.pk}:tracking:1Z1", f"order:{order.pk}:tracking:1Z2"]
    assert all(t.status == Status.SENT for t in texts)


def test_shipping_with_a_code_texts_once_when_the_status_text_carries_it(shop):
    _switch(shop, "order:tracking", True)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="1Z9")
    assert list(Message.objects.values_list("kind", flat=True)) == [Kind.ORDER_STATUS]


def test_a_code_in_a_delayed_status_text_is_still_texted_on_its_own(shop):
    """The delayed shipped text may yet be cancelled (the order delivered first): it carries nothing."""
    _switch(shop, "order:tracking", True)
    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_hours=2)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="1Z9")
    assert sorted(Message.objects.values_list("kind", flat=True)) == sorted([Kind.ORDER_STATUS, Kind.TRACKING])


def test_a_code_inside_another_number_is_not_carried(shop):
    _switch(shop, "order:tracking", True)
    order = OrderFactory(shop=shop, number="1234")
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="123")
    assert Message.objects.filter(kind=Kind.TRACKING).count() == 1


def test_the_tracking_text_is_off_by_default(shop):
    order = OrderFactory(shop=shop, status=OrderStatus.SHIPPED)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="1Z3")
    assert not Message.objects.exists()


# --- tickets -----------------------------------------------------------------------------------


def test_a_new_ticket_alerts_the_merchant_and_each_answer_texts_the_customer(shop):
    customer = CustomerFactory(shop=shop, first_name="Ada", last_name="Byron", phone="+12025550124")
    ticket = shop_services.ticket_open(shop=shop, customer=customer, subject="Broken zip")
    alert = Message.objects.get(kind=Kind.MERCHANT_ALERT)
    assert (alert.recipient, alert.dedupe_key) == (MERCHANT, f"ticket:{ticket.pk}:new")
    assert alert.body == f"New ticket #{ticket.pk} from Ada Byron: Broken zip"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)):
        shop_services.ticket_answer(ticket=ticket, answer="We send a new one.")
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        shop_services.ticket_answer(ticket=ticket, answer="It left today.")
    answers = Message.objects.filter(kind=Kind.TICKET_ANSWERED)
    assert [m.recipient for m in answers] == ["+12025550124"] * 2
    assert all('answered your message "Broken zip"' in m.body for m in answers)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.answer) == ("answered", "It left today.")


def test_an_empty_answer_is_refused_and_texts_nothing(shop):
    from django.core.exceptions import ValidationError

    ticket = shop_services.ticket_open(shop=shop, customer=CustomerFactory(shop=shop), subject="?")
    with pytest.raises(ValidationError):
        shop_services.ticket_answer(ticket=ticket, answer="  ")
    assert not Message.objects.filter(kind=Kind.TICKET_ANSWERED).exists()


def test_a_ticket_without_a_customer_phone_is_answered_to_the_orders_phone(shop):
    order = OrderFactory(shop=shop, customer=None, phone="+12025550177")
    ticket = shop_services.ticket_open(shop=shop, order=order, subject="Late")
    shop_services.ticket_answer(ticket=ticket, answer="Today.")
    assert Message.objects.get(kind=Kind.TICKET_ANSWERED).recipient == "+12025550177"


def test_answering_in_the_admin_texts_the_customer(shop, client):
    from tests.admin_forms import change_form_data
    from tests.factories import make_merchant

    client.force_login(make_merchant(shop))
    ticket = shop_services.ticket_open(shop=shop, customer=CustomerFactory(shop=shop), subject="Size?")
    url = f"/admin/shop/ticket/{ticket.pk}/change/"
    response = client.post(url, change_form_data(client.get(url), answer="M fits."))
    assert response.status_code == 302
    assert Message.objects.filter(kind=Kind.TICKET_ANSWERED, customer=ticket.customer).count() == 1
    response = client.post(url, change_form_data(client.get(url)))  # saved again, answer unchanged
    assert Message.objects.filter(kind=Kind.TICKET_ANSWERED).count() == 1


def test_a_ticket_added_in_the_admin_alerts_the_merchant(shop, client):
    from tests.factories import make_merchant

    client.force_login(make_merchant(shop))
    customer = CustomerFactory(shop=shop)
    response = client.post("/admin/shop/ticket/add/", {"subject": "Hello", "customer": customer.pk, "body": "",
                                                       "answer": ""})
    assert response.status_code == 302
    assert Message.objects.get(kind=Kind.MERCHANT_ALERT).dedupe_key.startswith("ticket:")


def test_the_order_page_lists_a_cancelled_text_with_why(shop, client):
    from tests.factories import make_merchant

    OrderStatusRule.objects.create(shop=shop, status=OrderStatus.SHIPPED, delay_days=1)
    order = OrderFactory(shop=shop)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    shop_services.order_change_status(order=order, status=OrderStatus.RETURNED)
    client.force_login(make_merchant(shop))
    rows = client.get(f"/admin/shop/order/{order.pk}/change/").context["order_messages"]
    assert [row["note"] for row in rows] == ["Not sent: the order moved to another status before it was due."]
    assert list(order_messages(order=order)) == [rows[0]["message"]]
