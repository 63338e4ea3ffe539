"""Satisfaction surveys: a date campaign asks "how was your order? reply 1-5", and the answer
becomes the customer's rating of that order.

What the merchant sets. A date campaign of an order's date (after it was shipped, after the
first or the last order) may "ask for a rating (reply 1-5)" (``DateCampaign.ask_rating``). A
birthday or a registration has no order to rate, so the form refuses the option there. Nothing
is appended to the merchant's text (that would change the cost and the language they saw in the
editor): instead the form refuses a text that does not name the scale, i.e. the numbers 1 and 5
("Reply 1-5", "od 1 do 5", "de 1 a 5"), and its error gives an example to copy. A survey is a
date campaign's text like any other: marketing consent, opt-outs, quiet hours and the frequency
cap apply. The scan records each survey text it writes (``SatisfactionSurvey``), so whether a
text asked is settled when it is written.

Reading a reply (``satisfaction_rating_record``, called for every incoming text after the
keywords). STOP, START, HELP and YES are read first and are never ratings. A reply is a rating
when it is short (at most MAX_REPLY characters) and its only number is 1 to 5, standing alone
at its start or its end: "4", " 4 ", "4/5", "4 of 5", "5 stars", "I'd say 4!", or one to five
stars ("⭐⭐⭐⭐"). "Call me after 5pm", "10", "4.5" and "3 or 4" are not ratings. It rates the
latest survey text the shop sent to that number that reached it (sent or delivered) within
RATING_WINDOW before the reply; with none, the reply is an ordinary text of the inbox.

One rating per survey text (a unique constraint): a later answer within the window replaces the
score (the latest answer wins: customers correct a typo) and ``previous_score`` keeps the score
it replaced, so the thread and the order say "changed from 4"; ``created_at`` stays the moment
of the first answer, by which the statistics count.

A rating is filed in the inbox as unread (a 1 wants the merchant's eye) and marked there "Rated
4/5"; it gets no automatic answer outside opening hours, and no thank-you text: each would cost
credits for every answer and text a customer who did not ask for anything; the merchant can
answer from the thread.

Tenancy: an incoming text belongs to one shop (smsnotify.inbound), and only that shop's survey
texts are looked up, so a reply can never rate another shop's order.

Statistics read ``campaigns.selectors.satisfaction_average`` and ``satisfaction_by_campaign``.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from shop.models import Order, Shop
from smsnotify.models import Message, Status

from .models import SatisfactionRating, SatisfactionSurvey

RATING_WINDOW = dt.timedelta(days=7)  # the form's help text says 7 days
MAX_REPLY = 30
# The survey texts a customer can have read: the window counts from when the text was sent.
SURVEY_REACHED = (Status.SENT, Status.DELIVERED)

# "4/5", "4 / 5", "4 out of 5", "4 z 5" (pl), "4 de 5" (pt): the 5 is the scale, not a second number.
_OUT_OF_FIVE = re.compile(r"(?<!\d)([1-5])\s*(?:/|out of|of|z|na|de)\s*5(?!\d)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
# The one number at the start (then words: "5 stars") or at the end (after words: "I'd say 4!"),
# never touching letters ("5pm").
_ALONE = re.compile(r"\W*([1-5])(?!\w)\D*|\D*(?<!\w)([1-5])\W*")
_FILLED_STARS = "★⭐"
_STARS = frozenset("★⭐☆\ufe0f ")


def rating_of(body: str) -> int | None:
    """The score 1-5 a reply gives, or None when it is not a rating (see the module's docstring)."""
    text = " ".join(body.split())
    if not text or len(text) > MAX_REPLY:
        return None
    if set(text) <= _STARS:
        stars = sum(text.count(star) for star in _FILLED_STARS)
        return stars if 1 <= stars <= 5 else None
    text = _OUT_OF_FIVE.sub(r"\1", text)
    if len(_NUMBER.findall(text)) != 1:
        return None
    match = _ALONE.fullmatch(text)
    return int(match.group(1) or match.group(2)) if match else None


def survey_awaiting(*, shop: Shop, number: str, at: dt.datetime) -> SatisfactionSurvey | None:
    """The survey text a reply from ``number`` at ``at`` answers: the shop's latest one that
    reached the number within RATING_WINDOW before, or None."""
    return (SatisfactionSurvey.objects
            .filter(shop=shop, message__shop=shop, message__recipient=number, message__status__in=SURVEY_REACHED,
                    message__sent_at__gte=at - RATING_WINDOW, message__sent_at__lte=at)
            .select_related("message").order_by("-message__sent_at", "-message_id").first())


@transaction.atomic
def satisfaction_rating_record(*, message: Message) -> SatisfactionRating | None:
    """Record an incoming text as the rating of the survey it answers; None when it is no
    rating or answers no survey (then it is an ordinary text)."""
    score = rating_of(message.body)
    if score is None:
        return None
    survey = survey_awaiting(shop=message.shop, number=message.recipient, at=message.created_at)
    if survey is None:
        return None
    rating = SatisfactionRating.objects.filter(survey_message_id=survey.message_id).first()
    if rating is None:
        try:
            with transaction.atomic():
                return SatisfactionRating.objects.create(
                    shop=message.shop, order_id=survey.order_id, campaign_id=survey.campaign_id,
                    customer_id=survey.message.customer_id or message.customer_id,
                    survey_message_id=survey.message_id, message=message, score=score,
                    created_at=message.created_at, answered_at=message.created_at)
        except IntegrityError:  # two answers at once: the other one wrote the row; ours is an update
            rating = SatisfactionRating.objects.get(survey_message_id=survey.message_id)
    return _rating_replace(rating=rating, message=message, score=score)


def _rating_replace(*, rating: SatisfactionRating, message: Message, score: int) -> SatisfactionRating:
    """The latest answer wins; an earlier one arriving late (a provider's retry) changes nothing."""
    if message.created_at < rating.answered_at:
        return rating
    changes = {"message": message, "answered_at": message.created_at, "score": score}
    if score != rating.score:
        changes["previous_score"] = rating.score
    # Conditional on the answer we read: of two answers at once, each replaces what it saw.
    if SatisfactionRating.objects.filter(pk=rating.pk, answered_at=rating.answered_at).update(**changes):
        for field, value in changes.items():
            setattr(rating, field, value)
    else:
        rating.refresh_from_db()
    return rating


# --- reads ---------------------------------------------------------------------------------------------


def ratings_by_answer(*, shop: Shop, number: str) -> dict[int, SatisfactionRating]:
    """The ratings ``number`` gave the shop, by the id of the incoming text that gave each (the
    answer that counts), for the inbox thread."""
    ratings = SatisfactionRating.objects.filter(shop=shop, message__shop=shop, message__recipient=number)
    return {rating.message_id: rating for rating in ratings}


def order_ratings(*, order: Order) -> QuerySet[SatisfactionRating]:
    """The ratings given to ``order`` (one per survey text about it), newest first."""
    return (SatisfactionRating.objects.filter(shop_id=order.shop_id, order=order)
            .select_related("campaign", "message").order_by("-created_at", "-pk"))
