"""The two-way inbox: incoming texts filed per number, the thread with both directions, replies
(charged, refused when they cannot go), read / unread / close / reopen, the filters, the
automatic answer outside opening hours, and tenancy."""

import datetime as dt
import re
import uuid

import pytest
import time_machine
from django.urls import reverse
from django.utils.http import urlencode
from django.utils import timezone

from campaigns.models import Conversation, ConversationStatus, InboxSettings, OptOut
from credits.selectors import credit_balance
from credits.pricing import domestic_segment_cost
from shop.models import ConsentSource, MarketingConsent, OrderItem, OrderStatus
from smsnotify.gateways.base import InboundSms
from smsnotify.inbound import inbound_receive
from smsnotify.models import Direction, Kind, Message, SmsSettings, Status
from smsnotify.outbox import message_schedule
from tests.delivery import deliver
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, fund, make_merchant, make_shop

pytestmark = pytest.mark.django_db

NUMBER = "+12025550123"
STRANGER = "+12025550987"
# A Tuesday, 15:00 UTC = 10:00 in New York; 03:00 UTC is 22:00 the evening before.
OPEN = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc)
CLOSED = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.timezone.utc)


def receive(shop, body, *, sender=NUMBER, opt_out_type=""):
    return inbound_receive(shop=shop, sms=InboundSms(sender=sender, to="TestShop", body=body,
                                                     provider_id=f"SIM{uuid.uuid4().hex}", gateway="simulated",
                                                     opt_out_type=opt_out_type))


def conversation(shop, number=NUMBER):
    return Conversation.objects.get(shop=shop, phone=number)


def thread_url(conv):
    return reverse("admin:campaigns_conversation_change", args=[conv.pk])


LIST_URL = "/admin/campaigns/conversation/"


@pytest.fixture
def texting(db):
    shop = make_shop(name="Inbox shop", credits=10_000)
    shop.time_zone = "America/New_York"
    shop.save(update_fields=["time_zone"])
    return shop


@pytest.fixture
def merchant(client, texting):
    client.force_login(make_merchant(texting))
    return client


def reply(client, conv, body="Thanks, it ships today.", key=None, **extra):
    return client.post(thread_url(conv), {"inbox_action": "reply", "body": body,
                                          "send_key": key or uuid.uuid4().hex, **extra})


# --- incoming texts ----------------------------------------------------------------------------------


def test_a_text_from_a_customer_opens_their_conversation_unread(texting):
    customer = CustomerFactory(shop=texting, phone=NUMBER)
    received = receive(texting, "Where is my parcel?")
    conv = conversation(texting)
    assert (conv.customer, conv.unread, conv.status, conv.last_text) == (
        customer, 1, ConversationStatus.OPEN, "Where is my parcel?")
    assert conv.last_inbound_at == conv.last_message_at == received.created_at
    receive(texting, "Hello?")
    conv.refresh_from_db()
    assert conv.unread == 2 and conv.last_text == "Hello?"
    assert Conversation.objects.count() == 1


def test_an_unknown_number_gets_a_conversation_without_customer(texting):
    CustomerFactory(shop=texting, phone=NUMBER)
    receive(texting, "Hi, who is this?", sender=STRANGER)
    conv = conversation(texting, STRANGER)
    assert conv.customer is None and conv.unread == 1


def test_a_customer_given_the_number_later_is_linked_when_the_thread_opens(texting, merchant):
    receive(texting, "hi")
    customer = CustomerFactory(shop=texting, phone=NUMBER, first_name="Late", last_name="Comer")
    OrderFactory(shop=texting, customer=customer, number="L-1")
    page = merchant.get(thread_url(conversation(texting))).content.decode()
    assert "Late Comer" in page and "#L-1" in page
    assert conversation(texting).customer == customer


def test_an_empty_reply_box_says_nothing_of_its_cost_yet(texting, merchant):
    receive(texting, "hi")
    page = merchant.get(thread_url(conversation(texting))).content.decode()
    assert '<span class="reply-estimate" id="reply-estimate"></span>' in page  # not "None"


def test_the_same_number_in_two_shops_is_two_conversations(texting):
    other = make_shop(name="Other")
    receive(texting, "one")
    receive(other, "two")
    assert conversation(texting).last_text == "one" and conversation(other).last_text == "two"


def test_a_keyword_is_filed_too_and_its_confirmation_is_in_the_thread(texting):
    receive(texting, "STOP")
    conv = conversation(texting)
    assert conv.unread == 1
    kinds = [m.kind for m in conv_thread(conv)]
    assert kinds == [Kind.INBOUND, Kind.KEYWORD_REPLY]


def conv_thread(conv):
    from campaigns.inbox import conversation_thread

    return list(conversation_thread(conversation=conv))


def test_a_new_text_reopens_a_closed_conversation(texting, merchant):
    receive(texting, "first")
    conv = conversation(texting)
    merchant.post(thread_url(conv), {"inbox_action": "close"})
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.CLOSED
    receive(texting, "again")
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.OPEN and conv.unread == 2


# --- the list and the thread ---------------------------------------------------------------------------


def test_the_list_shows_unread_in_bold_with_the_count_newest_first(texting, merchant):
    with time_machine.travel(OPEN - dt.timedelta(days=1), tick=False):
        receive(texting, "older", sender=STRANGER)
    Conversation.objects.filter(phone=STRANGER).update(unread=0)
    CustomerFactory(shop=texting, phone=NUMBER, first_name="Ann", last_name="Lee")
    with time_machine.travel(OPEN, tick=False):
        receive(texting, "newer")
        receive(texting, "and again")
    page = merchant.get(LIST_URL).content.decode()
    assert '<strong class="inbox-unread">Ann Lee (2)</strong>' in page
    assert page.index("Ann Lee") < page.index(STRANGER)
    assert "2 unread texts" in page and "2 conversations" in page
    assert 'id="inbox-badge" data-unread="2"' in page  # the header's link on every page
    index = merchant.get("/admin/").content.decode()
    assert "Inbox (2)" in index  # the header's link
    assert 'Inbox <strong class="inbox-count">(2)</strong>' in index  # and the app list's entry


def test_opening_the_thread_marks_it_read_and_shows_both_directions_oldest_first(texting, merchant):
    customer = CustomerFactory(shop=texting, phone=NUMBER, marketing_consent=MarketingConsent.GRANTED,
                               marketing_consent_source=ConsentSource.CHECKOUT,
                               marketing_consent_at=dt.datetime(2026, 11, 3, 14, 5, tzinfo=dt.timezone.utc))
    order = OrderFactory(shop=texting, customer=customer, number="A-77", status=OrderStatus.SHIPPED, total=12345)
    with time_machine.travel(OPEN, tick=False):
        message_schedule(shop=texting, to=NUMBER, body="Your order A-77 has shipped.", kind=Kind.ORDER_STATUS,
                         order=order, customer=customer)
    with time_machine.travel(OPEN + dt.timedelta(minutes=5), tick=False):
        receive(texting, "Thanks! When will it arrive?")
    conv = conversation(texting)
    assert conv.unread == 1
    response = merchant.get(thread_url(conv))
    assert response.status_code == 200
    page = response.content.decode()
    conv.refresh_from_db()
    assert conv.unread == 0
    automatic, received = page.index("Your order A-77 has shipped."), page.index("Thanks! When will it arrive?")
    assert automatic < received
    assert 'class="bubble out" data-kind="order_status"' in page and 'class="bubble in"' in page
    incoming = re.search(r'<li class="bubble in".*?</li>', page, re.S).group(0)
    assert "&middot; Received</span>" in incoming and "Delivered" not in incoming  # a text in is received
    assert "10:00" in page and "10:05" in page  # New York time, not UTC
    assert "Granted" in page and "Checkout" in page  # consent, its source…
    assert "11/03/2026" in page or "Nov. 3, 2026" in page or "11/3/2026" in page  # …and its date
    assert "$123.45" in page and "Shipped" in page
    assert reverse("admin:shop_order_change", args=[order.pk]) in page
    assert reverse("admin:shop_customer_change", args=[customer.pk]) in page
    assert 'class="opted-out-state">no' in page


def test_latest_five_orders_in_the_panel(texting, merchant):
    customer = CustomerFactory(shop=texting, phone=NUMBER)
    for n in range(7):
        OrderFactory(shop=texting, customer=customer, number=f"N{n}",
                     placed_at=timezone.now() - dt.timedelta(days=10 - n))
    receive(texting, "hi")
    page = merchant.get(thread_url(conversation(texting))).content.decode()
    assert "#N6" in page and "#N2" in page and "#N1" not in page


def test_mark_unread_close_and_reopen(texting, merchant):
    receive(texting, "hi")
    conv = conversation(texting)
    merchant.get(thread_url(conv))
    response = merchant.post(thread_url(conv), {"inbox_action": "unread"})
    assert response.status_code == 302 and response["Location"] == LIST_URL
    conv.refresh_from_db()
    assert conv.unread == 1
    merchant.post(thread_url(conv), {"inbox_action": "read"})
    conv.refresh_from_db()
    assert conv.unread == 0
    merchant.post(thread_url(conv), {"inbox_action": "close"})
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.CLOSED
    assert "Reopen" in merchant.get(thread_url(conv)).content.decode()
    merchant.post(thread_url(conv), {"inbox_action": "reopen"})
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.OPEN


def test_an_unknown_action_is_a_400(texting, merchant):
    receive(texting, "hi")
    assert merchant.post(thread_url(conversation(texting)), {"inbox_action": "explode"}).status_code == 400


# --- replies ----------------------------------------------------------------------------------------------


def test_a_reply_is_written_sent_and_charged(texting, merchant, sms_outbox, on_commit):
    receive(texting, "Is it in stock?")
    conv = conversation(texting)
    before = credit_balance(texting)
    response = reply(merchant, conv, "Yes, two left.")
    assert response.status_code == 302 and response["Location"] == thread_url(conv)
    message = Message.objects.get(kind=Kind.REPLY)
    assert (message.recipient, message.body, message.direction, message.lane) == (
        NUMBER, "Yes, two left.", Direction.OUTBOUND, "service")
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.SENT and message.credits_charged == domestic_segment_cost(texting)
    assert credit_balance(texting) == before - message.credits_charged
    assert [sms.body for sms in sms_outbox] == ["Yes, two left."]
    conv.refresh_from_db()
    assert conv.last_text == "Yes, two left." and conv.unread == 0
    page = merchant.get(thread_url(conv)).content.decode()
    assert page.index("Is it in stock?") < page.index("Yes, two left.")


def test_a_double_submit_sends_once(texting, merchant):
    receive(texting, "hi")
    conv = conversation(texting)
    key = uuid.uuid4().hex
    assert reply(merchant, conv, key=key).status_code == 302
    assert reply(merchant, conv, key=key).status_code == 302
    assert Message.objects.filter(kind=Kind.REPLY).count() == 1


def refused(response):
    assert response.status_code == 200
    assert not Message.objects.filter(kind=Kind.REPLY).exists()
    return response.content.decode()


def test_no_reply_to_a_number_that_opted_out(texting, merchant):
    receive(texting, "hi")
    OptOut.objects.create(shop=texting, phone=NUMBER)
    conv = conversation(texting)
    page = merchant.get(thread_url(conv)).content.decode()
    assert "opted out (STOP)" in page and 'id="reply-form"' not in page
    assert "opted out (STOP)" in refused(reply(merchant, conv))  # a forged or stale form too


def test_no_reply_while_sms_is_off(texting, merchant):
    receive(texting, "hi")
    SmsSettings.objects.filter(shop=texting).update(active=False)
    assert "SMS is switched off" in refused(reply(merchant, conversation(texting)))


def test_no_reply_without_credits(merchant, texting):
    receive(texting, "hi")
    poor = make_shop(name="Poor")
    merchant.force_login(make_merchant(poor))
    receive(poor, "hello")
    assert "Not enough credits" in refused(reply(merchant, conversation(poor)))


def test_no_reply_the_balance_cannot_pay_for(client):
    shop = make_shop(name="Tight")
    fund(shop, domestic_segment_cost(shop))  # one part
    client.force_login(make_merchant(shop))
    receive(shop, "hi")
    page = refused(reply(client, conversation(shop), "Long answer " * 20))
    assert "balance is" in page and "This reply: 2 SMS" in page


def test_the_reply_preview_tells_parts_and_credits(texting, merchant):
    receive(texting, "hi")
    url = reverse("admin:campaigns_conversation_reply_preview", args=[conversation(texting).pk])
    cost = domestic_segment_cost(texting)
    assert merchant.post(url, {"body": "Short."}).json() == {"line": f"This reply: 1 SMS, {cost} credits."}
    assert merchant.post(url, {"body": "x" * 161}).json() == {"line": f"This reply: 2 SMS, {2 * cost} credits."}
    assert merchant.post(url, {"body": " "}).json() == {"line": ""}
    assert merchant.get(url).status_code == 405
    theirs = receive(make_shop(name="Other"), "hi")
    other_url = reverse("admin:campaigns_conversation_reply_preview",
                        args=[Conversation.objects.get(shop=theirs.shop).pk])
    assert merchant.post(other_url, {"body": "x"}).status_code == 404


def test_a_sender_that_cannot_be_texted_back_is_a_form_error(texting, merchant):
    receive(texting, "Your code is 1234", sender="TWILIO")  # an alphanumeric sender
    conv = conversation(texting, "TWILIO")
    assert merchant.get(thread_url(conv)).status_code == 200
    response = reply(merchant, conv)
    assert response.status_code == 200 and response.context["form"].errors
    assert not Message.objects.filter(kind=Kind.REPLY).exists()


def test_the_operator_reads_without_marking_read(texting, client):
    from django.contrib.auth import get_user_model

    receive(texting, "hi")
    client.force_login(get_user_model().objects.create_superuser("operator", password="pw-operator-1"))
    assert client.get(thread_url(conversation(texting))).status_code == 200
    assert conversation(texting).unread == 1


def test_an_empty_or_stale_reply_is_a_form_error(texting, merchant):
    receive(texting, "hi")
    conv = conversation(texting)
    assert "This field is required" in refused(reply(merchant, conv, "   "))
    assert "expired" in refused(reply(merchant, conv, key="not-a-key"))


# --- filters and search -------------------------------------------------------------------------------------


def listed(client, query=""):
    response = client.get(f"{LIST_URL}?{query}")
    assert response.status_code == 200
    return {str(c.phone) for c in response.context["cl"].result_list}


def test_filters_by_product_order_status_date_status_and_unread(texting, merchant):
    shoes, hats = ProductFactory(shop=texting, name="Shoes"), ProductFactory(shop=texting, name="Hats")
    buyer = CustomerFactory(shop=texting, phone=NUMBER)
    order = OrderFactory(shop=texting, customer=buyer, status=OrderStatus.SHIPPED)
    OrderItem.objects.create(order=order, product=shoes, name="Shoes")
    with time_machine.travel(OPEN - dt.timedelta(days=40), tick=False):
        receive(texting, "old question", sender=STRANGER)
    receive(texting, "new question")
    merchant.post(thread_url(conversation(texting, STRANGER)), {"inbox_action": "close"})
    assert listed(merchant) == {NUMBER, STRANGER}
    assert listed(merchant, f"product={shoes.pk}") == {NUMBER}
    assert listed(merchant, f"product={hats.pk}") == set()
    assert listed(merchant, "order_status=shipped") == {NUMBER}
    assert listed(merchant, "order_status=placed") == set()
    since = urlencode({"last_message_at__gte": str(timezone.now() - dt.timedelta(days=7))})  # as the filter links
    assert listed(merchant, since) == {NUMBER}
    assert listed(merchant, "status__exact=closed") == {STRANGER}
    assert listed(merchant, "unread=yes") == {NUMBER, STRANGER}
    merchant.get(thread_url(conversation(texting)))
    assert listed(merchant, "unread=yes") == {STRANGER}
    assert listed(merchant, "q=" + buyer.last_name) == {NUMBER}
    assert listed(merchant, "q=0987") == {STRANGER}
    page = merchant.get(LIST_URL).content.decode()
    assert "Shoes" in page and "Awaiting delivery" in page  # the choices of both filters


def test_bad_filter_values_are_no_error(texting, merchant):
    ProductFactory(shop=texting)  # the filter is offered once the shop has a product
    receive(texting, "hi")
    assert listed(merchant, "product=abc") == set()
    assert listed(merchant, "order_status=nonsense") == set()


# --- tenancy ---------------------------------------------------------------------------------------------------


def test_another_shops_conversation_is_404_and_a_forged_post_changes_nothing(texting, merchant):
    other = make_shop(name="Other", credits=10_000)
    receive(other, "private")
    theirs = conversation(other)
    assert merchant.get(thread_url(theirs)).status_code == 404
    for data in ({"inbox_action": "close"}, {"inbox_action": "unread"},
                 {"inbox_action": "reply", "body": "hi", "send_key": uuid.uuid4().hex}):
        assert merchant.post(thread_url(theirs), data).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.unread, theirs.status) == (1, ConversationStatus.OPEN)
    assert not Message.objects.filter(kind=Kind.REPLY).exists()
    assert listed(merchant) == set()
    assert 'data-unread="0"' in merchant.get(LIST_URL).content.decode()


def test_the_product_filter_offers_only_the_shops_products(texting, merchant):
    ProductFactory(shop=make_shop(name="Other"), name="Their secret product")
    ProductFactory(shop=texting, name="Our product")
    page = merchant.get(LIST_URL).content.decode()
    assert "Our product" in page and "Their secret product" not in page


# --- translations --------------------------------------------------------------------------------------------


def test_a_polish_merchant_reads_polish(client):
    shop = make_shop(name="Sklep", language="pl", country="PL", currency="PLN", credits=10_000)
    client.force_login(make_merchant(shop))
    receive(shop, "Dzień dobry", sender="+48601234567")
    page = client.get(LIST_URL).content.decode()
    assert "Skrzynka odbiorcza" in page and "1 rozmowa" in page and "1 nieprzeczytana wiadomość" in page
    page = client.get(thread_url(conversation(shop, "+48601234567"))).content.decode()
    assert "Wyślij odpowiedź" in page and "Oznacz jako nieprzeczytane" in page and "Ostatnie zamówienia" in page


# --- the automatic answer outside opening hours -------------------------------------------------------------


@pytest.fixture
def answering(texting):
    InboxSettings.objects.filter(shop=texting).update(
        auto_reply_active=True, auto_reply_text="We are closed; we answer tomorrow from 9:00.",
        open_from=dt.time(9), open_until=dt.time(17), open_days="0,1,2,3,4")
    return texting


def auto_replies(shop):
    return list(Message.objects.filter(shop=shop, kind=Kind.AUTO_REPLY).order_by("pk"))


def test_outside_opening_hours_a_text_is_answered_once_in_12_hours(answering):
    with time_machine.travel(CLOSED, tick=False):
        receive(answering, "Anyone there?")
        receive(answering, "Hello??")
    [answer] = auto_replies(answering)
    assert (answer.recipient, answer.body, answer.status, answer.lane) == (
        NUMBER, "We are closed; we answer tomorrow from 9:00.", Status.SCHEDULED, "service")
    with time_machine.travel(CLOSED + dt.timedelta(hours=11), tick=False):  # Wednesday 9:00 NY... minus one hour
        receive(answering, "still closed?")
    assert len(auto_replies(answering)) == 1
    with time_machine.travel(CLOSED + dt.timedelta(days=4), tick=False):  # Saturday night: closed, 4 days on
        receive(answering, "weekend")
    assert len(auto_replies(answering)) == 2


def test_inside_opening_hours_no_automatic_answer(answering):
    with time_machine.travel(OPEN, tick=False):
        receive(answering, "Anyone there?")
    assert auto_replies(answering) == []


def test_a_closed_day_gets_the_answer(answering):
    saturday_noon = dt.datetime(2026, 12, 5, 17, 0, tzinfo=dt.timezone.utc)  # 12:00 in New York
    with time_machine.travel(saturday_noon, tick=False):
        receive(answering, "open today?")
    assert len(auto_replies(answering)) == 1


@pytest.mark.parametrize("body", ["STOP", "start", "HELP"])
def test_keywords_never_get_the_automatic_answer(answering, body):
    with time_machine.travel(CLOSED, tick=False):
        receive(answering, body)
    assert auto_replies(answering) == []


def test_switched_off_or_opted_out_no_automatic_answer(answering):
    OptOut.objects.create(shop=answering, phone=NUMBER)
    with time_machine.travel(CLOSED, tick=False):
        receive(answering, "hi")
        InboxSettings.objects.filter(shop=answering).update(auto_reply_active=False)
        receive(answering, "hi", sender=STRANGER)
    assert auto_replies(answering) == []


def test_the_webhook_answers_empty_twiml_and_the_answer_goes_through_the_outbox(answering, client, settings):
    from tests.fakes.twilio_server import sign

    SmsSettings.objects.filter(shop=answering).update(sender="+12025550100")
    params = {"MessageSid": "SM" + "1" * 32, "AccountSid": settings.TWILIO_ACCOUNT_SID, "From": NUMBER,
              "To": "+12025550100", "Body": "Are you open?", "NumMedia": "0"}
    url = "https://sms.example.com/webhooks/twilio/inbound/"
    with time_machine.travel(CLOSED, tick=False):
        response = client.post(reverse("webhooks:twilio-inbound"), params,
                               HTTP_X_TWILIO_SIGNATURE=sign(url, params, settings.TWILIO_AUTH_TOKEN))
    assert response.status_code == 200 and response.content.decode().endswith("<Response />")
    assert len(auto_replies(answering)) == 1 and conversation(answering).unread == 1


def test_the_merchant_sets_the_automatic_answer(texting, merchant):
    settings_row = InboxSettings.objects.get(shop=texting)
    url = reverse("admin:campaigns_inboxsettings_change", args=[settings_row.pk])
    assert merchant.get(url).status_code == 200
    data = {"auto_reply_active": "on", "auto_reply_text": "Closed now.", "open_from": "08:00",
            "open_until": "16:00", "open_days": ["0", "2", "5"]}
    assert merchant.post(url, data).status_code == 302
    settings_row.refresh_from_db()
    assert (settings_row.open_days, settings_row.days, settings_row.open_from) == ("0,2,5", {0, 2, 5}, dt.time(8))
    bad = merchant.post(url, {**data, "open_until": "07:00", "auto_reply_text": ""})
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors.keys() == {"open_until", "auto_reply_text"}


# --- the sandbox's simulation, back to the inbox ----------------------------------------------------------


def test_the_simulation_returns_to_the_inbox_and_never_to_another_site(texting, merchant):
    receive_url = reverse("admin:smsnotify_message_receive")
    assert f"{receive_url}?next=" in merchant.get(LIST_URL).content.decode()
    response = merchant.post(receive_url, {"sender": NUMBER, "body": "hi", "next": LIST_URL})
    assert response["Location"] == LIST_URL
    assert conversation(texting).unread == 1
    response = merchant.post(receive_url, {"sender": NUMBER, "body": "hi", "next": "https://evil.example/"})
    assert response["Location"].startswith("/admin/smsnotify/message/")
