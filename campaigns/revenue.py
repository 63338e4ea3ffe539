"""Revenue per campaign (selectors, read only): for each bulk send, automation and other source of
texts, what it sent and cost in credits, the clicks on its links and the orders credited to it
(campaigns/attribution.py) with their value. Three grouped queries per period (and one per kind of
name: bulk sends, date campaigns), whatever the number of texts: the campaign of a text is an SQL
expression (``attribution.campaign_of``).

A period is [start, end): texts by when they were written, clicks by when they were made, orders
by when they were placed. An order cancelled, rejected, returned or marked as a test is no revenue.
Money is in the shop's currency, in minor units; credits are what the ledger charged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum
from django.utils import formats
from django.utils.translation import gettext as _, gettext_lazy

from shop.models import OrderStatus, Shop
from smsnotify.models import Direction, Kind, LinkClick, Message

from .attribution import campaign_of
from .models import BulkSend, DateCampaign, OrderAttribution
from .statistics import SENT  # handed to the provider: delivered or not, as far as known

BULK, AUTOMATION, OTHER = "bulk", "automation", "other"
FAMILIES = {BULK: gettext_lazy("Bulk sends"), AUTOMATION: gettext_lazy("Automations"),
            OTHER: gettext_lazy("Other texts")}
# Texts the system sends by itself on a rule the merchant set (a date campaign is "date:<id>",
# an order-status text "status:<status>").
AUTOMATION_KINDS = frozenset({Kind.ABANDONED_CART, Kind.BACK_IN_STOCK, Kind.ORDER_PLACED, Kind.TRACKING,
                              Kind.TICKET_ANSWERED})
NOT_REVENUE = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.RETURNED, OrderStatus.TEST)


def family_of(campaign: str) -> str:
    if campaign.startswith("bulk:"):
        return BULK
    if campaign.startswith(("date:", "status:")) or campaign in AUTOMATION_KINDS:
        return AUTOMATION
    return OTHER


@dataclass
class CampaignRevenue:
    campaign: str  # "bulk:12", "date:3", "status:shipped", "abandoned_cart"…
    name: str = ""
    texts: int = 0  # handed to the provider
    credits: int = 0
    clicks: int = 0  # visitors, each once per link
    orders: int = 0
    revenue: int = 0  # minor units of the shop's currency

    @property
    def family(self) -> str:
        return family_of(self.campaign)

    @property
    def family_name(self) -> str:
        return str(FAMILIES[self.family])


@dataclass
class RevenueReport:
    shop: Shop
    start: dt.datetime
    end: dt.datetime
    rows: list[CampaignRevenue] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.shop.currency

    @property
    def total(self) -> CampaignRevenue:
        total = CampaignRevenue(campaign="", name=_("Total"))
        for row in self.rows:
            for name in ("texts", "credits", "clicks", "orders", "revenue"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
        return total


def local_period(*, shop: Shop, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the days ``first`` to ``last`` on the shop's calendar, as instants."""
    start = dt.datetime.combine(first, dt.time(0), tzinfo=shop.zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=shop.zone)
    return start, end


def campaign_revenue(*, shop: Shop, start: dt.datetime, end: dt.datetime,
                     family: str | None = None) -> RevenueReport:
    """Every campaign that sent, was clicked or earned in [start, end), ``family``'s only when
    given (BULK: per bulk send; AUTOMATION: per automation; OTHER), most revenue first."""
    rows: dict[str, CampaignRevenue] = {}

    def row(campaign: str) -> CampaignRevenue:
        return rows.setdefault(campaign, CampaignRevenue(campaign=campaign))

    texts = (Message.objects.filter(shop=shop, direction=Direction.OUTBOUND, created_at__gte=start, created_at__lt=end)
             .annotate(campaign=campaign_of()).values("campaign")
             .annotate(texts=Count("pk", filter=Q(status__in=SENT)), credits=Sum("credits_charged"))
             .order_by())
    for found in texts:
        if found["texts"] or found["credits"]:
            row(found["campaign"]).texts, row(found["campaign"]).credits = found["texts"], found["credits"]
    clicks = (LinkClick.objects.filter(link__shop=shop, clicked_at__gte=start, clicked_at__lt=end)
              .annotate(campaign=campaign_of("link__message__")).values("campaign").annotate(n=Count("pk")).order_by())
    for found in clicks:
        row(found["campaign"]).clicks = found["n"]
    orders = (OrderAttribution.objects.filter(shop=shop, order__placed_at__gte=start, order__placed_at__lt=end)
              .exclude(order__status__in=NOT_REVENUE)
              .values("campaign").annotate(orders=Count("pk"), revenue=Sum("order__total")).order_by())
    for found in orders:
        row(found["campaign"]).orders, row(found["campaign"]).revenue = found["orders"], found["revenue"]
    chosen = [r for r in rows.values() if family is None or r.family == family]
    names = campaign_names(shop=shop, campaigns=[r.campaign for r in chosen])
    for r in chosen:
        r.name = names[r.campaign]
    order = list(FAMILIES)
    chosen.sort(key=lambda r: (order.index(r.family), -r.revenue, -r.credits, r.name))
    return RevenueReport(shop=shop, start=start, end=end, rows=chosen)


def campaign_names(*, shop: Shop, campaigns: list[str]) -> dict[str, str]:
    """Each campaign's name as the merchant knows it (in the active language)."""
    def ids(prefix: str) -> list[int]:
        return [int(number) for c in campaigns if c.startswith(prefix) and (number := c[len(prefix):]).isdigit()]

    bulks = {f"bulk:{bulk.pk}": _("%(bulk)s of %(date)s") % {"bulk": bulk, "date": formats.date_format(
        bulk.created_at.astimezone(shop.zone).date(), "SHORT_DATE_FORMAT")}
        for bulk in BulkSend.objects.filter(shop=shop, pk__in=ids("bulk:"))}
    dates = {f"date:{pk}": _("Date campaign: %(name)s") % {"name": name}
             for pk, name in DateCampaign.objects.filter(shop=shop, pk__in=ids("date:")).values_list("pk", "name")}
    statuses, kinds = dict(OrderStatus.choices), dict(Kind.choices)
    names = {}
    for campaign in campaigns:
        if campaign in bulks or campaign in dates:
            names[campaign] = bulks.get(campaign) or dates[campaign]
        elif campaign.startswith(("bulk:", "date:")):
            names[campaign] = _("%(campaign)s (deleted)") % {"campaign": campaign}
        elif campaign.startswith("status:"):
            status = campaign.removeprefix("status:")
            names[campaign] = _("Order status: %(status)s") % {"status": statuses.get(status, status)}
        else:
            names[campaign] = str(kinds.get(campaign, campaign))
    return names
