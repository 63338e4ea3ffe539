"""Reads about what the campaigns text: which rule and template an order's status uses, an
order's texts, and what the next one costs; and the satisfaction ratings, for statistics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, Prefetch, Q, QuerySet

from credits.estimate import SmsEstimate, sms_estimate
from shop.models import Order, OrderItem, Shop
from smsnotify.models import Message, MessageEvent
from smsnotify.outbox import NEVER_REACHED
from smsnotify.phones import InvalidPhoneNumber, to_e164
from templates_sms.rendering import render
from templates_sms.models import SmsTemplate
from templates_sms.selectors import active_template
from templates_sms.tokens import Audience, RenderContext, order_status_event

from .models import DateCampaign, OrderStatusRule, SatisfactionRating, SatisfactionSurvey
from .satisfaction import SURVEY_REACHED

_STATUS_KEY = ":status:"


def order_status_dedupe_key(*, order: Order, status: str) -> str:
    """The key of an order's automatic text for ``status``: it is texted once per order and status."""
    return f"order:{order.pk}{_STATUS_KEY}{status}"


def status_of_dedupe_key(key: str | None) -> str | None:
    """The status an order's status text announces, read back from its key."""
    return key.rsplit(_STATUS_KEY, 1)[1] if key and _STATUS_KEY in key else None


@dataclass(frozen=True)
class StatusText:
    """How an order reaching a status is texted: with this template, this long after."""

    template: SmsTemplate
    delay: dt.timedelta
    rule: OrderStatusRule | None


def order_status_rule(*, order: Order, status: str) -> OrderStatusRule | None:
    """The rule that decides ``order``'s text for ``status``: the oldest rule of a product the
    order contains, else the shop-wide rule, else None."""
    products = OrderItem.objects.filter(order=order, product__isnull=False).values("product_id")
    rules = (OrderStatusRule.objects.filter(shop_id=order.shop_id, status=status)
             .filter(Q(product__isnull=True) | Q(product__in=products)).select_related("template"))
    return min(rules, key=lambda rule: (rule.product_id is None, rule.pk), default=None)


def order_status_text(*, order: Order, status: str) -> StatusText | None:
    """What ``order`` reaching ``status`` texts, or None: the rule is off, or it names no
    template and the status's own template is off."""
    rule = order_status_rule(order=order, status=status)
    if rule is not None and not rule.active:
        return None
    template = rule.template if rule is not None and rule.template_id else None
    template = template or active_template(shop=order.shop, event=order_status_event(status),
                                           audience=Audience.CUSTOMER)
    if template is None:
        return None
    return StatusText(template=template, delay=rule.delay if rule is not None else dt.timedelta(), rule=rule)


def order_messages(*, order: Order) -> QuerySet[Message]:
    """Every text the order has caused, newest first, each with its history (the order page
    says why one was cancelled or not sent again)."""
    return (Message.objects.filter(shop_id=order.shop_id, order=order).order_by("-created_at", "-pk")
            .prefetch_related(Prefetch("events", queryset=MessageEvent.objects.order_by("created_at", "pk"))))


def order_status_message(*, order: Order, status: str) -> Message | None:
    """The automatic text already written for ``order`` reaching ``status``, if any: another
    change to that status is not texted again (one that never reached anyone is, see
    ``outbox.message_schedule``)."""
    return (Message.objects.filter(shop_id=order.shop_id, dedupe_key=order_status_dedupe_key(order=order, status=status))
            .exclude(status__in=NEVER_REACHED).first())


def order_status_estimate(*, order: Order) -> SmsEstimate | None:
    """What the text for the order's current status costs, as it will be sent to the order's
    phone; None when no such text goes out (template off, nothing to text, no valid phone)."""
    if not order.phone:
        return None
    planned = order_status_text(order=order, status=order.status)
    if planned is None:
        return None
    text = render(planned.template.body, RenderContext.for_order(order), event=order_status_event(order.status)).strip()
    if not text:
        return None
    try:
        number = to_e164(order.phone, region=order.shop.country)
    except InvalidPhoneNumber:
        return None
    return sms_estimate(shop=order.shop, text=text, recipient=number)


# --- satisfaction ratings, for statistics ---------------------------------------------------------


@dataclass(frozen=True)
class SatisfactionSummary:
    """Ratings given in a period: how many, their average (None without any), and how many of each score."""

    count: int
    average: float | None
    by_score: dict[int, int]


@dataclass(frozen=True)
class CampaignSatisfaction:
    """One survey campaign's period: survey texts that reached customers (``asked``), ratings given."""

    campaign_id: int | None  # None: ratings of a campaign deleted since
    name: str
    asked: int
    count: int
    average: float | None

    @property
    def response_rate(self) -> float | None:
        return self.count / self.asked if self.asked else None


def _in_period(queryset: QuerySet, field: str, since: dt.datetime | None, until: dt.datetime | None) -> QuerySet:
    """[since, until): a period's two ends, either open."""
    if since is not None:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until is not None:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


def satisfaction_average(*, shop: Shop, since: dt.datetime | None = None,
                         until: dt.datetime | None = None) -> SatisfactionSummary:
    """The shop's ratings first given in [since, until), in one aggregate query."""
    ratings = _in_period(SatisfactionRating.objects.filter(shop=shop), "created_at", since, until)
    row = ratings.aggregate(count=Count("pk"), average=Avg("score"),
                            **{f"score_{score}": Count("pk", filter=Q(score=score)) for score in range(1, 6)})
    return SatisfactionSummary(count=row["count"], average=row["average"],
                               by_score={score: row[f"score_{score}"] for score in range(1, 6)})


def satisfaction_by_campaign(*, shop: Shop, since: dt.datetime | None = None,
                             until: dt.datetime | None = None) -> list[CampaignSatisfaction]:
    """Per survey campaign: the survey texts sent in [since, until) that reached their number,
    and the ratings first given in it (two grouped queries and one for the names). A campaign
    that asked nobody and got no rating in the period is left out."""
    ratings = {row["campaign"]: row for row in
               _in_period(SatisfactionRating.objects.filter(shop=shop), "created_at", since, until)
               .values("campaign").annotate(count=Count("pk"), average=Avg("score")).order_by()}
    surveys = SatisfactionSurvey.objects.filter(shop=shop, message__status__in=SURVEY_REACHED)
    asked = dict(_in_period(surveys, "message__sent_at", since, until)
                 .values("campaign").annotate(count=Count("pk")).order_by().values_list("campaign", "count"))
    ids = set(ratings) | set(asked)
    names = dict(DateCampaign.objects.filter(shop=shop, pk__in=ids - {None}).values_list("pk", "name"))
    rows = [CampaignSatisfaction(campaign_id=pk, name=names.get(pk, ""), asked=asked.get(pk, 0),
                                 count=ratings[pk]["count"] if pk in ratings else 0,
                                 average=ratings[pk]["average"] if pk in ratings else None)
            for pk in ids]
    return sorted(rows, key=lambda row: (row.campaign_id is None, row.name, row.campaign_id or 0))
