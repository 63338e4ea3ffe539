"""The statistics page and its selectors (campaigns/statistics.py): figures per day, week and month
of the shop's time zone (weeks from Monday) and per kind, against hand-counted texts; failures by
error code, credits, opt-outs, replies, ratings and numbers; another shop's rows never count.

The figures are read at three moments: before any day is counted (all from the messages), while
the last days are still live (counted days and messages), and once every day is counted."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from campaigns.models import CountedDay, DailyTextCount, OptOut, SatisfactionRating
from campaigns.statistics import (
    DAY,
    MONTH,
    WEEK,
    Range,
    counted_until,
    numbers_per_period,
    opt_outs_per_period,
    ratings_per_period,
    text_statistics,
)
from smsnotify.models import Direction, Kind, Message, Status
from tests.factories import CustomerFactory, MessageFactory, OrderFactory, make_shop

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")
WEEK_A, WEEK_B = dt.date(2026, 11, 16), dt.date(2026, 11, 23)  # Mondays
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=WARSAW)  # the Sunday that ends week B


MOMENTS = {
    "all live": dt.datetime(2026, 11, 15, 12, 0, tzinfo=WARSAW),
    "last days live": NOW,  # 26-29 November are read from the messages
    "all counted": dt.datetime(2027, 1, 15, 12, 0, tzinfo=WARSAW),
}


@pytest.fixture(autouse=True, params=list(MOMENTS))
def clock(request):
    with time_machine.travel(MOMENTS[request.param], tick=False):
        yield request.param


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    """A moment of November (or ``month``) 2026 on Warsaw's clock."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=WARSAW)


def text(shop, when, *, kind=Kind.ORDER_STATUS, status=Status.DELIVERED, credits=0, code="", reason="", **fields):
    return MessageFactory(shop=shop, kind=kind, status=status, created_at=when, credits_charged=credits,
                          error_code=code, error_text=reason, **fields)


def reply(shop, when):
    return MessageFactory(shop=shop, direction=Direction.INBOUND, kind=Kind.INBOUND, status=Status.DELIVERED,
                          created_at=when)


def rating(shop, when, score):
    """A rating given at ``when``; its survey text was written weeks before (outside the ranges here)."""
    order = OrderFactory(shop=shop)
    survey = text(shop, at(1, 10, month=10), kind=Kind.DATE_CAMPAIGN, order=order)
    return SatisfactionRating.objects.create(shop=shop, order=order, survey_message=survey, score=score,
                                             created_at=when, answered_at=when)


@pytest.fixture
def warsaw():
    return make_shop(name="Sklep", time_zone="Europe/Warsaw")


@pytest.fixture
def texts(warsaw):
    return hand_counted_texts(warsaw)


def hand_counted_texts(shop):
    """Texts of two weeks, counted by hand below, and some just outside them."""
    # week A (16-22 Nov): the first one is Sunday 23:30 in Warsaw (22:30 UTC): still week A
    text(shop, at(22, 23, 30), credits=2)
    text(shop, at(18, 12), status=Status.SENT, credits=1)
    text(shop, at(19, 10), kind=Kind.BULK, status=Status.FAILED, code="21211", reason="The 'To' number is not valid.")
    reply(shop, at(20, 9))
    # week B (23-29 Nov): Monday 00:30 in Warsaw is Sunday 23:30 UTC, yet week B
    text(shop, at(23, 0, 30), kind=Kind.BULK, credits=3)
    text(shop, at(24, 10), kind=Kind.BULK, status=Status.UNDELIVERED, code="30003", reason="Unreachable handset")
    text(shop, at(25, 10), kind=Kind.BULK, status=Status.UNKNOWN, credits=2)
    text(shop, at(26, 10), kind=Kind.MANUAL, status=Status.SCHEDULED)
    text(shop, at(27, 10), kind=Kind.MANUAL, status=Status.CANCELLED)
    reply(shop, at(28, 10))
    reply(shop, at(29, 23, 59))
    # outside: the Sunday before week A, the Monday after week B (00:10 in Warsaw, still the 29th in UTC)
    text(shop, at(15, 23, 30), credits=50)
    text(shop, at(30, 0, 10), credits=50)
    reply(shop, at(30, 0, 10))
    return shop


def weeks(shop):
    return Range.covering(unit=WEEK, first=WEEK_A, last=dt.date(2026, 11, 29), zone=shop.zone)


def test_a_range_is_whole_periods_of_the_shops_calendar():
    span = Range.covering(unit=WEEK, first=dt.date(2026, 11, 18), last=dt.date(2026, 11, 24), zone=WARSAW)
    assert span.starts == [WEEK_A, WEEK_B]
    assert span.since == at(16, 0) and span.until == at(30, 0)
    months = Range.covering(unit=MONTH, first=dt.date(2026, 11, 30), last=dt.date(2027, 2, 1), zone=WARSAW)
    assert months.starts == [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1), dt.date(2027, 2, 1)]
    assert months.until == dt.datetime(2027, 3, 1, tzinfo=WARSAW)


def test_figures_per_week_in_the_shops_time_zone(texts):
    stats = text_statistics(shop=texts, span=weeks(texts))
    a, b = stats.periods[WEEK_A], stats.periods[WEEK_B]
    assert (a.sent, a.delivered, a.failed, a.credits) == (2, 1, 1, 3)
    # sent: delivered + undelivered + unknown; failed: the undelivered one
    assert (b.sent, b.delivered, b.failed, b.credits) == (3, 1, 1, 5)
    assert stats.replies == {WEEK_A: 1, WEEK_B: 2}
    assert (stats.total.sent, stats.total.delivered, stats.total.failed, stats.total.credits) == (5, 2, 2, 8)
    assert stats.total.delivery_rate == pytest.approx(2 / 6)  # delivered, of sent (5) or failed (1 more)


def test_many_live_periods_are_grouped_by_converting_each_time(texts, monkeypatch):
    from campaigns import statistics

    monkeypatch.setattr(statistics, "MAX_EDGES", 1)
    stats = text_statistics(shop=texts, span=weeks(texts))
    assert [(f.sent, f.credits) for f in stats.periods.values()] == [(2, 3), (3, 5)]


def test_figures_per_kind(texts):
    kinds = text_statistics(shop=texts, span=weeks(texts)).kinds
    assert list(kinds) == [Kind.BULK, Kind.ORDER_STATUS, Kind.MANUAL]  # the busiest first
    bulk, status, manual = kinds[Kind.BULK], kinds[Kind.ORDER_STATUS], kinds[Kind.MANUAL]
    assert (bulk.sent, bulk.delivered, bulk.failed, bulk.credits) == (3, 1, 2, 5)
    assert (status.sent, status.delivered, status.failed, status.credits) == (2, 1, 0, 3)
    assert (manual.sent, manual.delivered, manual.failed, manual.credits) == (0, 0, 0, 0)
    assert Kind.INBOUND not in kinds  # replies are counted apart


def test_a_day_ends_at_midnight_in_the_shops_zone(texts):
    span = Range.covering(unit=DAY, first=dt.date(2026, 11, 22), last=dt.date(2026, 11, 23), zone=texts.zone)
    stats = text_statistics(shop=texts, span=span)
    sunday, monday = stats.periods[dt.date(2026, 11, 22)], stats.periods[dt.date(2026, 11, 23)]
    assert (sunday.sent, sunday.credits) == (1, 2)
    assert (monday.sent, monday.credits) == (1, 3)


def test_months_in_the_shops_zone(warsaw):
    text(warsaw, at(30, 23, 30), credits=1)  # 22:30 UTC: November
    text(warsaw, at(1, 0, 30, month=12), credits=10)  # 23:30 UTC on 30 November: December in Warsaw
    span = Range.covering(unit=MONTH, first=dt.date(2026, 11, 1), last=dt.date(2026, 12, 31), zone=warsaw.zone)
    stats = text_statistics(shop=warsaw, span=span)
    assert stats.periods[dt.date(2026, 11, 1)].credits == 1
    assert stats.periods[dt.date(2026, 12, 1)].credits == 10


def test_a_period_without_texts_is_there_with_zeros(warsaw):
    span = Range.covering(unit=DAY, first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 3), zone=warsaw.zone)
    stats = text_statistics(shop=warsaw, span=span)
    assert list(stats.periods) == span.starts
    assert all(figures.sent == 0 and figures.delivery_rate is None for figures in stats.periods.values())


def test_failures_by_error_code(texts):
    text(texts, at(24, 11), kind=Kind.BULK, status=Status.FAILED, code="21211", reason="The 'To' number is not valid.")
    text(texts, at(24, 12), status=Status.FAILED, reason="Expired before it could be sent")
    span = weeks(texts)
    failures = text_statistics(shop=texts, span=span).failures()
    assert [(f.code, f.count) for f in failures] == [("21211", 2), ("", 1), ("30003", 1)]
    assert failures[0].text == "The 'To' number is not valid."
    assert failures[1].text == "Expired before it could be sent"


def test_opt_outs_per_week(warsaw):
    OptOut.objects.create(shop=warsaw, phone="+48600000001", created_at=at(22, 23, 50))
    OptOut.objects.create(shop=warsaw, phone="+48600000002", created_at=at(23, 8))
    OptOut.objects.create(shop=warsaw, phone="+48600000003", created_at=at(25, 8))
    OptOut.objects.create(shop=make_shop(), phone="+48600000004", created_at=at(25, 8))
    assert opt_outs_per_period(shop=warsaw, span=weeks(warsaw)) == {WEEK_A: 1, WEEK_B: 2}


def test_ratings_per_week(warsaw):
    rating(warsaw, at(22, 23, 45), 5)
    rating(warsaw, at(24, 9), 2)
    rating(warsaw, at(26, 9), 4)
    ratings = ratings_per_period(shop=warsaw, span=weeks(warsaw))
    assert (ratings[WEEK_A].count, ratings[WEEK_A].average) == (1, 5)
    assert (ratings[WEEK_B].count, ratings[WEEK_B].average) == (2, 3)
    empty = Range.covering(unit=WEEK, first=dt.date(2026, 11, 2), last=dt.date(2026, 11, 2), zone=warsaw.zone)
    assert ratings_per_period(shop=warsaw, span=empty)[dt.date(2026, 11, 2)].average is None


def test_numbers_collected_per_week(warsaw):
    for when in (at(1, 9), at(10, 9), at(22, 23, 30), at(23, 0, 30), at(29, 22)):
        CustomerFactory(shop=warsaw, registered_at=when)
    CustomerFactory(shop=warsaw, registered_at=at(24, 9), phone="")  # no number to text
    CustomerFactory(shop=make_shop(), registered_at=at(24, 9))
    numbers = numbers_per_period(shop=warsaw, span=weeks(warsaw))
    assert numbers.new == {WEEK_A: 1, WEEK_B: 2}
    assert numbers.total == {WEEK_A: 3, WEEK_B: 5}


def test_another_shops_texts_never_count(texts):
    other = make_shop(time_zone="Europe/Warsaw")
    text(other, at(22, 23, 30), credits=100)
    text(other, at(24, 10), kind=Kind.BULK, status=Status.FAILED, code="21211")
    reply(other, at(24, 10))
    stats = text_statistics(shop=texts, span=weeks(texts))
    assert (stats.total.sent, stats.total.credits, stats.replies_total) == (5, 8, 3)
    span = weeks(texts)
    assert sum(f.count for f in text_statistics(shop=texts, span=span).failures()) == 2


# --- counted days ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("clock", ["last days live"], indirect=True)
def test_days_are_counted_once_they_are_fixed(texts):
    assert counted_until(shop=texts) == dt.date(2026, 11, 26)  # three days before today
    text_statistics(shop=texts, span=weeks(texts))
    counted = set(CountedDay.objects.filter(shop=texts).values_list("day", flat=True))
    assert counted == {WEEK_A + dt.timedelta(days=n) for n in range(10)}  # 16-25 November
    assert DailyTextCount.objects.filter(shop=texts, day__gte=dt.date(2026, 11, 26)).count() == 0
    # read again: the same figures, now from the counted days
    stats = text_statistics(shop=texts, span=weeks(texts))
    assert (stats.total.sent, stats.total.credits, stats.replies_total) == (5, 8, 3)
    assert CountedDay.objects.filter(shop=texts).count() == 10


@pytest.mark.parametrize("clock", ["last days live"], indirect=True)
def test_a_text_waiting_to_leave_keeps_its_day_live(texts):
    waiting = text(texts, at(18, 9), status=Status.SCHEDULED)  # written on the 18th, to leave later
    assert counted_until(shop=texts) == dt.date(2026, 11, 18)
    assert text_statistics(shop=texts, span=weeks(texts)).periods[WEEK_A].sent == 2
    assert not CountedDay.objects.filter(shop=texts, day__gte=dt.date(2026, 11, 18)).exists()
    waiting.status, waiting.credits_charged = Status.DELIVERED, 4
    waiting.save()
    assert counted_until(shop=texts) == dt.date(2026, 11, 26)
    week_a = text_statistics(shop=texts, span=weeks(texts)).periods[WEEK_A]
    assert (week_a.sent, week_a.delivered, week_a.credits) == (3, 2, 7)


@pytest.mark.parametrize("clock", ["all counted"], indirect=True)
def test_a_counted_day_keeps_its_figures(texts):
    """Documented: a text changed after its day was counted (sent again by hand weeks later) keeps
    its first outcome in the statistics."""
    assert text_statistics(shop=texts, span=weeks(texts)).periods[WEEK_A].failed == 1
    Message.objects.filter(shop=texts, error_code="21211").update(status=Status.DELIVERED)
    assert text_statistics(shop=texts, span=weeks(texts)).periods[WEEK_A].failed == 1


@pytest.mark.parametrize("clock", ["all counted"], indirect=True)
def test_a_shop_that_moves_to_another_time_zone_is_counted_again(texts):
    assert text_statistics(shop=texts, span=weeks(texts)).periods[WEEK_B].credits == 5
    texts.time_zone = "America/New_York"
    texts.save()
    new_york = Range.covering(unit=WEEK, first=WEEK_A, last=dt.date(2026, 11, 29), zone=texts.zone)
    stats = text_statistics(shop=texts, span=new_york)
    # Monday 00:30 in Warsaw is Sunday 18:30 in New York: week A there; Monday 30th 00:10 is in week B
    assert (stats.periods[WEEK_A].credits, stats.periods[WEEK_B].credits) == (6, 52)
    assert set(CountedDay.objects.filter(shop=texts).values_list("time_zone", flat=True)) == {"America/New_York"}
