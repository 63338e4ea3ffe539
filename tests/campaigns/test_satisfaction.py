"""Satisfaction surveys (campaigns/satisfaction.py): a date campaign asks for a reply from 1 to 5,
the reply becomes the rating of the order — recorded within the window only, never for a keyword,
once per survey text (the latest answer wins), never for another shop's order — and shows in the
thread, on the order and in the ratings list; the statistics selectors; the campaign form's rules."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse

from campaigns.date_campaigns import date_campaigns_run
from campaigns.keywords import inbound_handle
from campaigns.models import (
    Conversation,
    DateCampaign,
    InboxSettings,
    OptOut,
    SatisfactionRating,
    SatisfactionSurvey,
    asks_for_rating,
)
from campaigns.satisfaction import MAX_REPLY, RATING_WINDOW, rating_of
from campaigns.selectors import satisfaction_average, satisfaction_by_campaign
from shop import services as shop_services
from shop.models import MarketingConsent, OrderStatus
from smsnotify.gateways.base import InboundSms
from smsnotify.inbound import inbound_receive
from smsnotify.models import Kind, Message, Status
from templates_sms import services as template_services
from templates_sms.models import SmsTemplate
from tests.delivery import deliver
from tests.factories import CustomerFactory, MessageFactory, OrderFactory, make_merchant, make_shop

pytestmark = pytest.mark.django_db

NUMBER = "+12025550123"
UTC = dt.timezone.utc
# A Tuesday, 15:00 UTC = 10:00 in New York.
SENT = dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SURVEY_TEXT = "{shop_name}: how was your order {order_id}? Reply with a number from 1 (poor) to 5 (excellent)."


@pytest.fixture
def store(db):
    return make_shop(name="Survey shop", credits=10_000, time_zone="America/New_York")


@pytest.fixture
def merchant(client, store):
    client.force_login(make_merchant(store))
    return client


def _campaign(shop, **fields):
    fields = {"name": "How was it?", "trigger": "after_shipped", "ask_rating": True, **fields}
    return DateCampaign.objects.create(shop=shop, **fields)


def _survey(shop, *, sent_at=SENT, status=Status.DELIVERED, campaign=None, order=None, number=NUMBER):
    """A survey text that reached ``number`` at ``sent_at`` (as the scan and delivery leave it)."""
    order = order or OrderFactory(shop=shop, customer=CustomerFactory(shop=shop, phone=number),
                                  status=OrderStatus.SHIPPED)
    message = MessageFactory(shop=shop, kind=Kind.DATE_CAMPAIGN, recipient=number, order=order,
                             customer=order.customer, body="How was it? Reply 1-5", status=status,
                             sent_at=sent_at if status in (Status.SENT, Status.DELIVERED) else None,
                             created_at=sent_at)
    SatisfactionSurvey.objects.create(shop=shop, message=message, campaign=campaign or _campaign(shop), order=order)
    return message


def receive(shop, body, *, at, sender=NUMBER, opt_out_type=""):
    with time_machine.travel(at, tick=False):
        return inbound_receive(shop=shop, sms=InboundSms(sender=sender, to="TestShop", body=body,
                                                         provider_id=f"SIM{uuid.uuid4().hex}", gateway="simulated",
                                                         opt_out_type=opt_out_type))


# --- what a reply means ---------------------------------------------------------------------------


@pytest.mark.parametrize("body,score", [
    ("4", 4), (" 4 \n", 4), ("1", 1), ("5.", 5), ("4/5", 4), ("4 / 5", 4), ("3 out of 5", 3), ("4 z 5", 4),
    ("4 de 5", 4), ("5 stars", 5), ("5 stars!", 5), ("I'd say 4!", 4), ("Rating: 2", 2), ("#3", 3),
    ("⭐⭐⭐⭐", 4), ("★★★☆☆", 3), ("⭐️⭐️", 2),
])
def test_a_short_reply_whose_only_number_is_1_to_5_is_a_rating(body, score):
    assert rating_of(body) == score


@pytest.mark.parametrize("body", [
    "", "   ", "0", "6", "10", "4.5", "3 or 4", "5pm", "Call me after 5pm", "Order 12345", "5/10", "☆☆☆",
    "⭐⭐⭐⭐⭐⭐", "STOP", "Thanks!", "x" * (MAX_REPLY - 1) + " 5",
])
def test_anything_else_is_not_a_rating(body):
    assert rating_of(body) is None


# --- recording -------------------------------------------------------------------------------------


def test_a_survey_campaign_texts_and_the_reply_becomes_the_orders_rating(store):
    template = SmsTemplate.objects.get(shop=store, event="date:after_shipped", is_standard=True)
    template_services.template_update(template=template, body=SURVEY_TEXT, active=True)
    with time_machine.travel(SENT - dt.timedelta(days=5), tick=False):
        campaign = _campaign(store, delay_days=2, send_hour=10)
    customer = CustomerFactory(shop=store, phone=NUMBER, marketing_consent=MarketingConsent.GRANTED)
    order = OrderFactory(shop=store, customer=customer, number="S-1")
    with time_machine.travel(SENT - dt.timedelta(days=2), tick=False):
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    with time_machine.travel(SENT + dt.timedelta(minutes=1), tick=False):
        assert date_campaigns_run() == 1
        (text,) = Message.objects.filter(kind=Kind.DATE_CAMPAIGN)
        assert SatisfactionSurvey.objects.get().message == text  # written with the text, by the scan
        assert deliver([text.pk]) == {Status.SENT: 1}
    assert "Reply with a number from 1 (poor) to 5" in text.body

    answered = SENT + dt.timedelta(days=1)
    answer = receive(store, "4", at=answered)
    rating = SatisfactionRating.objects.get()
    assert (rating.shop, rating.order, rating.customer, rating.campaign) == (store, order, customer, campaign)
    assert (rating.message, rating.survey_message, rating.score) == (answer, text, 4)
    assert rating.created_at == rating.answered_at == answered and rating.previous_score is None
    conversation = Conversation.objects.get(shop=store, phone=NUMBER)
    assert conversation.unread == 1 and conversation.last_text == "4"  # filed in the inbox as well


def test_inbound_handle_says_a_rating_is_a_rating(store):
    _survey(store)
    with time_machine.travel(SENT + dt.timedelta(hours=2), tick=False):
        message = MessageFactory(shop=store, direction="in", kind=Kind.INBOUND, recipient=NUMBER, body="5",
                                 status=Status.DELIVERED)
        assert inbound_handle(message=message) == "rating"
        other = MessageFactory(shop=store, direction="in", kind=Kind.INBOUND, recipient=NUMBER, body="Hello",
                               status=Status.DELIVERED)
        assert inbound_handle(message=other) is None


def test_the_window_is_seven_days_after_the_survey_was_sent(store):
    assert RATING_WINDOW == dt.timedelta(days=7)  # the option's help text says so
    _survey(store)
    receive(store, "2", at=SENT + RATING_WINDOW + dt.timedelta(minutes=1))
    assert not SatisfactionRating.objects.exists()
    # the text is an ordinary one of the inbox
    assert Conversation.objects.get(shop=store, phone=NUMBER).last_text == "2"
    receive(store, "3", at=SENT + RATING_WINDOW - dt.timedelta(minutes=1))
    assert SatisfactionRating.objects.get().score == 3


def test_a_survey_that_did_not_reach_the_number_asks_nothing(store):
    for status in (Status.SCHEDULED, Status.FAILED, Status.SUPPRESSED, Status.CANCELLED):
        _survey(store, status=status)
    receive(store, "4", at=SENT + dt.timedelta(hours=1))
    assert not SatisfactionRating.objects.exists()


def test_a_date_text_that_did_not_ask_is_no_survey(store):
    """Whether a text asked is settled when it is written: a campaign switched to asking later
    does not turn the texts it sent before into surveys, and one switched off keeps its surveys."""
    campaign = _campaign(store, ask_rating=False)
    order = OrderFactory(shop=store, customer=CustomerFactory(shop=store, phone=NUMBER))
    MessageFactory(shop=store, kind=Kind.DATE_CAMPAIGN, recipient=NUMBER, order=order, status=Status.DELIVERED,
                   sent_at=SENT, dedupe_key=f"date:{campaign.pk}:after_shipped:order:{order.pk}")
    DateCampaign.objects.filter(pk=campaign.pk).update(ask_rating=True)
    receive(store, "4", at=SENT + dt.timedelta(hours=1))
    assert not SatisfactionRating.objects.exists()

    surveyed = _survey(store, sent_at=SENT + dt.timedelta(hours=2))
    DateCampaign.objects.update(ask_rating=False)
    receive(store, "5", at=SENT + dt.timedelta(hours=3))
    assert SatisfactionRating.objects.get().survey_message == surveyed


def test_keywords_come_first(store):
    _survey(store)
    # The provider read HELP in it: a keyword, whatever the digits.
    receive(store, "5", at=SENT + dt.timedelta(hours=1), opt_out_type="HELP")
    receive(store, "STOP", at=SENT + dt.timedelta(hours=2))
    assert not SatisfactionRating.objects.exists()
    assert OptOut.objects.filter(shop=store, phone=NUMBER).exists()
    # after STOP the customer may still answer the survey they got; recording it texts nobody
    receive(store, "4", at=SENT + dt.timedelta(hours=3))
    assert SatisfactionRating.objects.get().score == 4


def test_an_ordinary_reply_is_no_rating_and_gets_the_automatic_answer_a_rating_does_not(store):
    _survey(store)
    InboxSettings.objects.filter(shop=store).update(auto_reply_active=True, auto_reply_text="We are closed.")
    closed = SENT + dt.timedelta(hours=12)  # 22:00 in New York
    receive(store, "5", at=closed)
    assert SatisfactionRating.objects.count() == 1
    assert not Message.objects.filter(kind=Kind.AUTO_REPLY).exists()
    receive(store, "Can I call you after 5pm?", at=closed + dt.timedelta(minutes=1))
    assert SatisfactionRating.objects.get().score == 5  # unchanged
    assert Message.objects.filter(kind=Kind.AUTO_REPLY, recipient=NUMBER).count() == 1


def test_a_second_answer_replaces_the_score_and_says_it_changed(store):
    survey = _survey(store)
    first = receive(store, "3", at=SENT + dt.timedelta(hours=1))
    second = receive(store, "5 stars", at=SENT + dt.timedelta(days=2))
    rating = SatisfactionRating.objects.get()
    assert (rating.score, rating.previous_score, rating.message) == (5, 3, second)
    assert rating.created_at == first.created_at and rating.answered_at == second.created_at
    # the same score again is no change
    receive(store, "5", at=SENT + dt.timedelta(days=3))
    rating.refresh_from_db()
    assert (rating.score, rating.previous_score) == (5, 3)
    # never two ratings for one survey text, whatever writes them
    with pytest.raises(IntegrityError), transaction.atomic():
        SatisfactionRating.objects.create(shop=store, order=rating.order, survey_message=survey, score=1)


def test_the_latest_survey_is_the_one_answered(store):
    customer = CustomerFactory(shop=store, phone=NUMBER)
    older = _survey(store, order=OrderFactory(shop=store, customer=customer), sent_at=SENT)
    newer = _survey(store, order=OrderFactory(shop=store, customer=customer), sent_at=SENT + dt.timedelta(days=1))
    receive(store, "2", at=SENT + dt.timedelta(days=2))
    rating = SatisfactionRating.objects.get()
    assert rating.survey_message == newer and rating.order == newer.order != older.order


def test_a_reply_never_rates_another_shops_order(store):
    other = make_shop(name="Other shop", credits=1000)
    theirs = _survey(other)  # the same number got the other shop's survey
    receive(store, "1", at=SENT + dt.timedelta(hours=1))
    assert not SatisfactionRating.objects.exists()
    # with a survey of each, each shop's reply rates its own order
    ours = _survey(store, sent_at=SENT + dt.timedelta(hours=2))
    receive(store, "4", at=SENT + dt.timedelta(hours=3))
    receive(other, "2", at=SENT + dt.timedelta(hours=4))
    assert {(r.shop, r.order_id, r.score) for r in SatisfactionRating.objects.all()} == {
        (store, ours.order_id, 4), (other, theirs.order_id, 2)}


# --- where a merchant sees it --------------------------------------------------------------------


def test_the_thread_marks_the_answer_with_its_rating(store, merchant):
    _survey(store)
    receive(store, "3", at=SENT + dt.timedelta(hours=1))
    receive(store, "Where is my parcel?", at=SENT + dt.timedelta(hours=2))
    conversation = Conversation.objects.get(shop=store, phone=NUMBER)
    page = merchant.get(reverse("admin:campaigns_conversation_change", args=[conversation.pk])).content.decode()
    assert page.count('class="rating-badge"') == 1
    assert '3<span class="rating-badge">Rated 3/5</span>' in page
    receive(store, "4/5", at=SENT + dt.timedelta(hours=3))
    page = merchant.get(reverse("admin:campaigns_conversation_change", args=[conversation.pk])).content.decode()
    assert page.count('class="rating-badge"') == 1  # the answer that counts
    assert '4/5<span class="rating-badge">Rated 4/5 (changed from 3)</span>' in page


def test_the_order_page_shows_its_rating_with_the_date_in_the_shops_time_zone(store, merchant):
    survey = _survey(store)
    receive(store, "5", at=dt.datetime(2026, 12, 2, 1, 30, tzinfo=UTC))  # 20:30 on 1 December in New York
    page = merchant.get(reverse("admin:shop_order_change", args=[survey.order_id])).content.decode()
    assert 'id="order-ratings"' in page and "Rated 5/5" in page and "How was it?" in page
    assert "12/01/2026 20:30" in page
    unrated = OrderFactory(shop=store)
    page = merchant.get(reverse("admin:shop_order_change", args=[unrated.pk])).content.decode()
    assert 'id="order-ratings"' not in page


def test_the_ratings_list_is_the_shops_own_read_only_and_filters_by_score(store, merchant, admin_client):
    url = reverse("admin:campaigns_satisfactionrating_changelist")
    ours = _survey(store, order=OrderFactory(shop=store, number="OURS-1",
                                             customer=CustomerFactory(shop=store, phone=NUMBER)))
    _survey(store, number="+12025550124", order=OrderFactory(shop=store, number="OURS-2",
                                                            customer=CustomerFactory(shop=store,
                                                                                     phone="+12025550124")))
    other = make_shop(name="Other shop")
    _survey(other, order=OrderFactory(shop=other, number="THEIRS-1", customer=CustomerFactory(shop=other,
                                                                                            phone=NUMBER)))
    receive(store, "4", at=SENT + dt.timedelta(hours=1))
    receive(store, "2", at=SENT + dt.timedelta(hours=1), sender="+12025550124")
    receive(other, "5", at=SENT + dt.timedelta(hours=1))

    page = merchant.get(url).content.decode()
    assert "OURS-1" in page and "OURS-2" in page and "THEIRS-1" not in page
    assert "12/01/2026 11:00" in page  # 16:00 UTC, in New York time
    filtered = merchant.get(url, {"score__exact": "4"}).content.decode()
    assert "OURS-1" in filtered and "OURS-2" not in filtered
    rating = SatisfactionRating.objects.get(survey_message=ours)
    change = reverse("admin:campaigns_satisfactionrating_change", args=[rating.pk])
    assert merchant.get(change).status_code == 200  # view only:
    assert merchant.post(change, {"score": "1"}).status_code == 403
    rating.refresh_from_db()
    assert rating.score == 4
    assert merchant.get(reverse("admin:campaigns_satisfactionrating_add")).status_code == 403
    assert merchant.get(reverse("admin:campaigns_satisfactionrating_delete", args=[rating.pk])).status_code == 403
    foreign = SatisfactionRating.objects.get(shop=other)
    assert merchant.get(reverse("admin:campaigns_satisfactionrating_change", args=[foreign.pk])).status_code == 404
    # the operator sees every shop's
    assert "THEIRS-1" in admin_client.get(url).content.decode()


# --- statistics -------------------------------------------------------------------------------------


def _rated(shop, score, *, at, campaign=None, number=None):
    number = number or f"+1202555{uuid.uuid4().int % 9000 + 1000}"
    _survey(shop, sent_at=at - dt.timedelta(hours=1), campaign=campaign, number=number)
    receive(shop, str(score), at=at, sender=number)


def test_the_average_in_a_period_is_one_query(store, django_assert_num_queries):
    campaign = _campaign(store)
    for score in (5, 4, 4, 1):
        _rated(store, score, at=SENT, campaign=campaign)
    _rated(store, 2, at=SENT - dt.timedelta(days=30), campaign=campaign)  # before the period
    _rated(make_shop(), 1, at=SENT)  # another shop's

    with django_assert_num_queries(1):
        summary = satisfaction_average(shop=store, since=SENT - dt.timedelta(days=1), until=SENT + dt.timedelta(days=1))
    assert (summary.count, summary.average) == (4, 3.5)
    assert summary.by_score == {1: 1, 2: 0, 3: 0, 4: 2, 5: 1}
    everything = satisfaction_average(shop=store)
    assert (everything.count, everything.average) == (5, 3.2)
    nothing = satisfaction_average(shop=store, since=SENT + dt.timedelta(days=1))
    assert (nothing.count, nothing.average, nothing.by_score) == (0, None, {1: 0, 2: 0, 3: 0, 4: 0, 5: 0})


def test_per_campaign_asked_answered_and_average(store):
    shipped = _campaign(store, name="After shipping")
    last = _campaign(store, name="After the last order", trigger="after_last_order")
    for score in (5, 3):
        _rated(store, score, at=SENT, campaign=shipped)
    _survey(store, campaign=shipped, number="+12025550188")  # asked, not answered
    _survey(store, campaign=shipped, number="+12025550189", status=Status.FAILED)  # never reached anyone
    _rated(store, 2, at=SENT, campaign=last)
    rows = satisfaction_by_campaign(shop=store)
    assert [(r.campaign_id, r.name, r.asked, r.count, r.average) for r in rows] == [
        (shipped.pk, "After shipping", 3, 2, 4.0), (last.pk, "After the last order", 1, 1, 2.0)]
    assert rows[0].response_rate == pytest.approx(2 / 3)
    assert satisfaction_by_campaign(shop=store, since=SENT + dt.timedelta(days=1)) == []


# --- the campaign's form ---------------------------------------------------------------------------

ADD = reverse("admin:campaigns_datecampaign_add")


def _form(template, **fields):
    data = {"name": "Survey", "trigger": "after_shipped", "delay_days": "3", "send_hour": "10", "active": "on",
            "ask_rating": "on", "template": template.pk if template else "", "discount_kind": "",
            "discount_value": "", "discount_valid_days": "14"}
    data.update({key: str(value) for key, value in fields.items()})
    return data


def _standard(shop, event="date:after_shipped", body=None):
    template = SmsTemplate.objects.get(shop=shop, event=event, is_standard=True)
    if body is not None:
        template_services.template_update(template=template, body=body)
    return template


@pytest.mark.parametrize("body,asks", [
    ("Reply 1-5", True), ("Oceń zamówienie: odpowiedz liczbą od 1 do 5", True), ("Responda de 1 a 5", True),
    ("Reply 1 to 5 (5 = great)", True), ("Reply 15", False), ("Reply with a number", False),
    ("Order {order_id}: 5 stars?", False),
])
def test_a_survey_text_must_name_the_scale(body, asks):
    assert asks_for_rating(body) is asks


def test_the_form_takes_a_survey_whose_text_asks_for_1_to_5(merchant, store):
    response = merchant.post(ADD, _form(_standard(store, body=SURVEY_TEXT)))
    assert response.status_code == 302
    campaign = DateCampaign.objects.get()
    assert campaign.ask_rating and campaign.trigger == "after_shipped"
    assert "Asks for a rating" in merchant.get(reverse("admin:campaigns_datecampaign_changelist")).content.decode()


def test_a_survey_whose_text_does_not_ask_is_a_form_error(merchant, store):
    # the standard "after shipped" text asks how the order was, but not for a number
    for template in (_standard(store), None):
        response = merchant.post(ADD, _form(template))
        assert response.status_code == 200
        errors = str(response.context["adminform"].form.errors["template"])
        assert "does not ask for a rating" in errors and "Reply with a number from 1 (poor) to 5" in errors
    assert not DateCampaign.objects.exists()
    # without the option the same text is fine
    assert merchant.post(ADD, _form(_standard(store), ask_rating="")).status_code == 302


@pytest.mark.parametrize("trigger", ["birthday", "after_registration"])
def test_a_date_without_an_order_cannot_ask_for_a_rating(merchant, store, trigger):
    template = _standard(store, f"date:{trigger}", body="How are we doing? Reply 1-5")
    response = merchant.post(ADD, _form(template, trigger=trigger))
    assert response.status_code == 200
    assert "A rating is of an order" in str(response.context["adminform"].form.errors["ask_rating"])
    assert not DateCampaign.objects.exists()


@pytest.mark.parametrize("trigger", ["after_first_order", "after_last_order"])
def test_every_date_of_an_order_can_ask(merchant, store, trigger):
    template = _standard(store, f"date:{trigger}", body="How was order {order_id}? Reply 1-5")
    assert merchant.post(ADD, _form(template, trigger=trigger)).status_code == 302
