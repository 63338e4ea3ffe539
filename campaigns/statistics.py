"""Reads for the statistics page and the dashboard: a shop's texts per day, week or month of its
time zone (weeks start on Monday) and per kind of message.

Every figure is an aggregate the database computes, grouped by the day, week or month of the
shop's calendar the row's ``created_at`` falls in: truncated in the shop's zone
(``Trunc(..., tzinfo=zone)``: PostgreSQL's ``date_trunc(... AT TIME ZONE ...)``, SQLite's own
function), or for the few periods of the last days' messages compared with their edges (local
midnights), which costs a third. Python only reads the grouped rows, never the messages.

Counted days. Grouping a busy shop's 500,000 messages of three months takes seconds, so the texts
of a day whose figures can no longer change are counted once into DailyTextCount (one row per day,
direction, kind, status and error code) and read from there: a day is counted when it ended
SETTLE_DAYS ago (delivery reports, refunds and the 48-hour expiry of late texts are in by then) and
none of the texts written on it or later is still waiting to leave (a text scheduled for next week
keeps its day live until it has left). The days after that are read from the messages themselves,
over the ("shop", "-created_at") index. Counting happens when a page first asks for a day; a shop
whose time zone changed is counted again. A text sent again by hand after its day was counted
keeps its first outcome in the statistics.

A text counts in the period it was written (``created_at``): for almost every text that is the
minute it left; a text scheduled for later counts where it was written, as sent once it has left.
What the figures mean:
- sent: the texts the provider took (sent, delivered, undelivered, or unknown: no answer came);
- delivered: the texts the provider reported delivered;
- failed: the texts that did not arrive (failed, or undelivered by the network), by error code;
- credits: what the texts of the period cost, net of refunds (``Message.credits_charged``);
- delivery rate: delivered, of the texts sent or failed;
- replies: the texts customers sent the shop; opt-outs: numbers that asked for no more texts;
- numbers: customers with a phone number, by when they registered.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Avg, Case, Count, DateField, Max, Sum, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone

from shop.models import Customer, Shop
from smsnotify.models import Direction, Message, Status

from .bulk import WAITING
from .models import CountedDay, DailyTextCount, OptOut, SatisfactionRating

DAY, WEEK, MONTH = "day", "week", "month"
PERIODS = (DAY, WEEK, MONTH)
SENT = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN)
FAILED = (Status.FAILED, Status.UNDELIVERED)
ATTEMPTED = frozenset(SENT) | frozenset(FAILED)
SETTLE_DAYS = 3
MAX_EDGES = 31  # periods compared one by one: beyond, converting each row's time is cheaper


def local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The moment ``day`` starts in ``zone``."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def period_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the day, week (Monday) or month ``day`` falls in."""
    if unit == WEEK:
        return day - dt.timedelta(days=day.weekday())
    if unit == MONTH:
        return day.replace(day=1)
    return day


def period_next(start: dt.date, unit: str) -> dt.date:
    """The first day of the period after the one starting on ``start``."""
    if unit == WEEK:
        return start + dt.timedelta(weeks=1)
    if unit == MONTH:
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


@dataclass(frozen=True)
class Range:
    """Whole days, weeks or months of a shop's calendar: from the one holding ``first`` to the one
    holding ``last`` (both included)."""

    unit: str
    first: dt.date
    last: dt.date
    zone: dt.tzinfo

    @classmethod
    def covering(cls, *, unit: str, first: dt.date, last: dt.date, zone: dt.tzinfo) -> Range:
        return cls(unit=unit, first=period_start(first, unit), last=period_start(last, unit), zone=zone)

    @property
    def starts(self) -> list[dt.date]:
        """Each period's first day, oldest first."""
        starts, day = [], self.first
        while day <= self.last:
            starts.append(day)
            day = period_next(day, self.unit)
        return starts

    @property
    def end(self) -> dt.date:
        """The first day after the range."""
        return period_next(self.last, self.unit)

    @property
    def since(self) -> dt.datetime:
        return local_midnight(self.first, self.zone)

    @property
    def until(self) -> dt.datetime:
        return local_midnight(self.end, self.zone)

    def bucket(self, field_name: str) -> Trunc:
        """The period a row's moment ``field_name`` falls in, as its first day in the shop's calendar."""
        return Trunc(field_name, self.unit, output_field=DateField(), tzinfo=self.zone)

    def edge_bucket(self, field_name: str, since: dt.date) -> Case | Trunc:
        """``bucket`` for moments from ``since``'s start on, where few periods begin: comparing each
        moment with their edges costs the database a third of converting it to the shop's zone."""
        starts = [start for start in self.starts if period_next(start, self.unit) > since]
        if len(starts) > MAX_EDGES:
            return self.bucket(field_name)
        edges = [When(**{f"{field_name}__gte": local_midnight(start, self.zone)}, then=Value(start))
                 for start in reversed(starts[1:])]
        return Case(*edges, default=Value(starts[0]), output_field=DateField())

    def day_bucket(self, field_name: str) -> Trunc:
        """The period a day of the shop's calendar falls in."""
        return Trunc(field_name, self.unit, output_field=DateField())


@dataclass
class Figures:
    """What a period's (or a kind's) outbound texts did."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    credits: int = 0
    attempted: int = 0

    def add(self, *, status: str, count: int, credits: int) -> None:
        self.sent += count if status in SENT else 0
        self.delivered += count if status == Status.DELIVERED else 0
        self.failed += count if status in FAILED else 0
        self.attempted += count if status in ATTEMPTED else 0
        self.credits += credits

    @property
    def delivery_rate(self) -> float | None:
        """Delivered, of the texts sent or failed; None before any."""
        return self.delivered / self.attempted if self.attempted else None


@dataclass(frozen=True)
class Failure:
    code: str  # the provider's error code; "" for a failure without one (e.g. a text that expired)
    text: str  # one of its messages, as the provider or the system wrote it
    count: int


@dataclass(frozen=True)
class Rating:
    count: int
    average: float | None


@dataclass
class TextStatistics:
    """A range's texts: per period (``periods``, oldest first), per kind (``kinds``, busiest first),
    in total, the replies received per period, and the failed texts per period and error code."""

    span: Range
    periods: dict[dt.date, Figures]
    kinds: dict[str, Figures]
    total: Figures
    replies: dict[dt.date, int] = field(default_factory=dict)
    failed: dict[tuple[dt.date, str], int] = field(default_factory=dict)  # (period, error code) → texts
    reasons: dict[str, str] = field(default_factory=dict)  # error code → one of its texts

    @property
    def replies_total(self) -> int:
        return sum(self.replies.values())

    def failures(self, since: dt.date | None = None) -> list[Failure]:
        """The failed texts per error code (of the periods from ``since`` on), most frequent first."""
        counts: dict[str, int] = defaultdict(int)
        for (period, code), count in self.failed.items():
            if since is None or period >= since:
                counts[code] += count
        return sorted((Failure(code=code, text=self.reasons.get(code, ""), count=count)
                       for code, count in counts.items()), key=lambda failure: (-failure.count, failure.code))


def _days(first: dt.date, end: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((end - first).days)]


def counted_until(*, shop: Shop, now: dt.datetime | None = None) -> dt.date:
    """The first day that is not (to be) counted: the days before it are fixed (see the module's doc)."""
    zone = shop.zone
    limit = timezone.localtime(now or timezone.now(), zone).date() - dt.timedelta(days=SETTLE_DAYS)
    waiting = (Message.objects.filter(shop=shop, status__in=WAITING, created_at__lt=local_midnight(limit, zone))
               .order_by("created_at").values_list("created_at", flat=True).first())
    return min(limit, timezone.localtime(waiting, zone).date()) if waiting else limit


def _count_days(*, shop: Shop, first: dt.date, end: dt.date) -> None:
    """Count the texts of the days in [first, end) not counted yet: one grouped query over their messages."""
    counted = CountedDay.objects.filter(shop=shop, time_zone=shop.time_zone, day__gte=first, day__lt=end)
    if counted.count() == (end - first).days:
        return
    with transaction.atomic():
        list(Shop.objects.select_for_update().filter(pk=shop.pk).values_list("pk"))  # one counting at a time
        if CountedDay.objects.filter(shop=shop).exclude(time_zone=shop.time_zone).exists():
            # days of another zone have other edges: count everything again
            DailyTextCount.objects.filter(shop=shop).delete()
            CountedDay.objects.filter(shop=shop).delete()
        done = set(counted.values_list("day", flat=True))
        missing = [day for day in _days(first, end) if day not in done]
        if not missing:
            return
        span = Range(unit=DAY, first=missing[0], last=missing[-1], zone=shop.zone)
        rows = (Message.objects.filter(shop=shop, created_at__gte=span.since, created_at__lt=span.until)
                .annotate(day=span.bucket("created_at"))
                .values("day", "direction", "kind", "status", "error_code")
                .annotate(count=Count("pk"), credits=Sum("credits_charged"), error_text=Max("error_text")).order_by())
        todo = set(missing)
        DailyTextCount.objects.bulk_create(
            DailyTextCount(shop=shop, day=row["day"], direction=row["direction"], kind=row["kind"],
                           status=row["status"], error_code=row["error_code"], error_text=row["error_text"] or "",
                           count=row["count"], credits=row["credits"] or 0)
            for row in rows if row["day"] in todo)
        CountedDay.objects.bulk_create(CountedDay(shop=shop, day=day, time_zone=shop.time_zone) for day in missing)


def _grouped(*, shop: Shop, span: Range, fields: tuple[str, ...]) -> list[dict]:
    """The texts of ``span`` grouped by period and ``fields``, with their count, credits and an
    error text: the counted days' rows, then the messages of the days after them."""
    boundary = min(max(counted_until(shop=shop), span.first), span.end)
    rows = []
    if span.first < boundary:
        _count_days(shop=shop, first=span.first, end=boundary)
        rows += list(DailyTextCount.objects.filter(shop=shop, day__gte=span.first, day__lt=boundary)
                     .annotate(period=span.day_bucket("day")).values("period", *fields)
                     .annotate(count=Sum("count"), credits=Sum("credits"), text=Max("error_text")).order_by())
    if boundary < span.end:
        rows += list(Message.objects.filter(shop=shop, created_at__gte=local_midnight(boundary, span.zone),
                                            created_at__lt=span.until)
                     .annotate(period=span.edge_bucket("created_at", boundary)).values("period", *fields)
                     .annotate(count=Count("pk"), credits=Sum("credits_charged"), text=Max("error_text")).order_by())
    return rows


def text_statistics(*, shop: Shop, span: Range) -> TextStatistics:
    """The texts of the range by period, direction, kind, status and error code."""
    stats = TextStatistics(span=span, periods={start: Figures() for start in span.starts}, kinds={}, total=Figures(),
                           replies=dict.fromkeys(span.starts, 0))
    kinds: dict[str, Figures] = defaultdict(Figures)
    for row in _grouped(shop=shop, span=span, fields=("direction", "kind", "status", "error_code")):
        period, count = row["period"], row["count"]
        if row["direction"] == Direction.INBOUND:
            stats.replies[period] = stats.replies.get(period, 0) + count
            continue
        numbers = {"status": row["status"], "count": count, "credits": row["credits"] or 0}
        stats.periods.setdefault(period, Figures()).add(**numbers)
        kinds[row["kind"]].add(**numbers)
        stats.total.add(**numbers)
        if row["status"] in FAILED:
            code = row["error_code"]
            stats.failed[period, code] = stats.failed.get((period, code), 0) + count
            stats.reasons[code] = max(stats.reasons.get(code, ""), row["text"] or "")
    stats.kinds = dict(sorted(kinds.items(), key=lambda item: (-item[1].sent, -item[1].credits, item[0])))
    return stats


def opt_outs_per_period(*, shop: Shop, span: Range) -> dict[dt.date, int]:
    counts = dict(OptOut.objects.filter(shop=shop, created_at__gte=span.since, created_at__lt=span.until)
                  .annotate(period=span.bucket("created_at")).values("period")
                  .annotate(count=Count("pk")).order_by().values_list("period", "count"))
    return {start: counts.get(start, 0) for start in span.starts}


def ratings_per_period(*, shop: Shop, span: Range) -> dict[dt.date, Rating]:
    """Satisfaction ratings first given in each period (how many, their average)."""
    rows = {row["period"]: row for row in
            SatisfactionRating.objects.filter(shop=shop, created_at__gte=span.since, created_at__lt=span.until)
            .annotate(period=span.bucket("created_at")).values("period")
            .annotate(count=Count("pk"), average=Avg("score")).order_by()}
    return {start: Rating(count=rows[start]["count"], average=rows[start]["average"]) if start in rows
            else Rating(count=0, average=None) for start in span.starts}


def _with_number(shop: Shop):
    return Customer.objects.filter(shop=shop).exclude(phone="")


@dataclass(frozen=True)
class Numbers:
    """Customers with a phone number: how many at the end of each period, how many joined in it."""

    new: dict[dt.date, int]
    total: dict[dt.date, int]


def numbers_per_period(*, shop: Shop, span: Range) -> Numbers:
    """Three queries: all the numbers (the (shop, phone) index), those registered since the range
    began (the (shop, registered_at) index), and those per period of the range."""
    since_start = _with_number(shop).filter(registered_at__gte=span.since)
    before = _with_number(shop).count() - since_start.count()
    counts = dict(since_start.filter(registered_at__lt=span.until)
                  .annotate(period=span.bucket("registered_at")).values("period")
                  .annotate(count=Count("pk")).order_by().values_list("period", "count"))
    new, total, running = {}, {}, before
    for start in span.starts:
        new[start] = counts.get(start, 0)
        running += new[start]
        total[start] = running
    return Numbers(new=new, total=total)


@dataclass(frozen=True)
class NumbersGrowth:
    total: int
    new_this_week: int  # in the last 7 days

    @property
    def growth(self) -> float | None:
        """The last 7 days' new numbers, of those there were before; None when there were none."""
        before = self.total - self.new_this_week
        return self.new_this_week / before if before else None


def numbers_growth(*, shop: Shop, now: dt.datetime) -> NumbersGrowth:
    """Two counts over the two indexes (a single one with a filter would read every customer's row)."""
    new = _with_number(shop).filter(registered_at__gt=now - dt.timedelta(days=7), registered_at__lte=now).count()
    return NumbersGrowth(total=_with_number(shop).count(), new_this_week=new)
