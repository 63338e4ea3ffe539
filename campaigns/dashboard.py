"""Reads for the merchant's dashboard, the admin's first page: the credits and how long they last,
the texts of today, this week and this month, how well they arrive, the numbers collected, and
what needs the merchant's attention.

A handful of aggregate queries whatever the shop's size: the texts of this month and the last 30
days per day and their failures by code (campaigns/statistics.py: counted days, then the messages
of the last few), the credit account, the opt-outs, the numbers and what needs attention. "The last
N days" are today and the N - 1 days before it, in the shop's calendar.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.utils import timezone
from django.utils.text import capfirst

from credits.models import CreditAccount
from shop.models import Shop
from smsnotify.models import Direction, Message, Status
from smsnotify.selectors import sms_settings_for
from templates_sms.models import SmsTemplate
from templates_sms.tokens import CART_ABANDONED, Audience, order_status_event

from .models import AbandonedCartSettings, DateCampaign, OptOut, OrderStatusRule
from .statistics import DAY, FAILED, MONTH, WEEK, Failure, NumbersGrowth, Range, TextStatistics, local_midnight, \
    numbers_growth, period_start, text_statistics

RECENT_DAYS = 30  # the delivery rate, failures and opt-outs the dashboard shows
PACE_DAYS = (7, 30)  # the averages the days left are read from: the last week's, else the last month's
SHORT_RUNWAY_DAYS = 7  # credits that run out sooner than this need attention, whatever the threshold
FAILED_LATELY = dt.timedelta(days=7)  # failed texts this recent need attention


@dataclass(frozen=True)
class Credits:
    balance: int
    threshold: int  # the low-balance alert's: below it the merchant is told
    spent: dict[int, int]  # days → credits spent in the last that many days

    def daily_spend(self, days: int) -> float:
        return self.spent[days] / days

    @property
    def pace(self) -> float:
        """Credits a day at the current pace: the last 7 days' average, else the last 30 days'."""
        return next((self.daily_spend(days) for days in PACE_DAYS if self.spent[days]), 0.0)

    @property
    def days_left(self) -> int | None:
        """Whole days the balance lasts at the current pace; None without any spend lately."""
        return math.floor(self.balance / self.pace) if self.pace else None

    @property
    def low(self) -> bool:
        days_left = self.days_left
        return self.balance < self.threshold or (days_left is not None and days_left < SHORT_RUNWAY_DAYS)


@dataclass(frozen=True)
class Texts:
    today: int
    this_week: int
    this_month: int
    delivered: int  # in the last 30 days
    attempted: int  # sent or failed, in the last 30 days

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.attempted if self.attempted else None


class Problem:
    """What an attention item is about (campaigns/admin_dashboard.py puts it into words and links)."""

    UNKNOWN = "unknown"  # texts whose outcome is unknown: check before sending again
    FAILED = "failed"  # texts that failed lately
    SMS_OFF = "sms_off"
    LOW_BALANCE = "low_balance"
    TEMPLATE_OFF = "template_off"  # an automation that is on sends nothing: its template is off


@dataclass(frozen=True)
class Attention:
    problem: str
    count: int = 0
    automation: str = ""  # TEMPLATE_OFF: the rule, campaign or reminder that sends nothing
    template: SmsTemplate | None = None  # TEMPLATE_OFF: the template to switch on (None: no standard one)


@dataclass(frozen=True)
class Dashboard:
    credits: Credits
    texts: Texts
    days: TextStatistics  # per day, this month's and the last 30 days'
    failures: list[Failure]  # last 30 days
    opt_outs: int  # last 30 days
    numbers: NumbersGrowth
    attention: list[Attention]
    sms_settings_id: int | None


def dashboard(*, shop: Shop, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    zone = shop.zone
    today = timezone.localtime(now, zone).date()
    recent = today - dt.timedelta(days=RECENT_DAYS - 1)
    week, month = period_start(today, WEEK), period_start(today, MONTH)
    days = text_statistics(shop=shop, span=Range(unit=DAY, first=min(week, month, recent), last=today, zone=zone))

    def since(first: dt.date, figure: str) -> int:
        return sum(getattr(figures, figure) for day, figures in days.periods.items() if day >= first)

    account = CreditAccount.objects.filter(shop=shop).values("balance", "low_balance_threshold").first() \
        or {"balance": 0, "low_balance_threshold": 0}
    credits = Credits(balance=account["balance"], threshold=account["low_balance_threshold"],
                      spent={n: since(today - dt.timedelta(days=n - 1), "credits") for n in PACE_DAYS})
    settings = sms_settings_for(shop)
    return Dashboard(
        credits=credits,
        texts=Texts(today=since(today, "sent"), this_week=since(week, "sent"), this_month=since(month, "sent"),
                    delivered=since(recent, "delivered"), attempted=since(recent, "attempted")),
        days=days,
        failures=days.failures(since=recent),
        opt_outs=OptOut.objects.filter(shop=shop, created_at__gte=local_midnight(recent, zone)).count(),
        numbers=numbers_growth(shop=shop, now=now),
        attention=attention(shop=shop, now=now, credits=credits, sms_active=settings.active),
        sms_settings_id=settings.pk,
    )


def attention(*, shop: Shop, now: dt.datetime, credits: Credits, sms_active: bool) -> list[Attention]:
    """What the merchant should fix or check, most urgent first."""
    items = []
    if not sms_active:
        items.append(Attention(Problem.SMS_OFF))
    if credits.low:
        items.append(Attention(Problem.LOW_BALANCE))
    outbound = Message.objects.filter(shop=shop, direction=Direction.OUTBOUND)
    unknown = outbound.filter(status=Status.UNKNOWN).count()
    if unknown:
        items.append(Attention(Problem.UNKNOWN, count=unknown))
    failed = outbound.filter(status__in=FAILED, created_at__gte=now - FAILED_LATELY).count()
    if failed:
        items.append(Attention(Problem.FAILED, count=failed))
    return items + silent_automations(shop=shop)


def silent_automations(*, shop: Shop) -> list[Attention]:
    """Order status rules, date campaigns and the cart reminder that are on but send nothing,
    because they use their event's template and it is switched off (a rule or campaign with a
    template of its own sends that one, on or off)."""
    users = [(str(rule), order_status_event(rule.status)) for rule in
             OrderStatusRule.objects.filter(shop=shop, active=True, template__isnull=True).select_related("product")]
    users += [(campaign.name, campaign.event) for campaign in
              DateCampaign.objects.filter(shop=shop, active=True, template__isnull=True)]
    if AbandonedCartSettings.objects.filter(shop=shop, active=True).exists():
        users.append((capfirst(AbandonedCartSettings._meta.verbose_name), CART_ABANDONED))
    if not users:
        return []
    templates = SmsTemplate.objects.filter(shop=shop, event__in={event for _name, event in users},
                                           audience=Audience.CUSTOMER)
    on = set(templates.filter(active=True).values_list("event", flat=True))
    standard = {template.event: template for template in templates.filter(is_standard=True)}
    return [Attention(Problem.TEMPLATE_OFF, automation=name, template=standard.get(event))
            for name, event in users if event not in on]
