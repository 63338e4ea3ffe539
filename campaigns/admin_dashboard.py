"""The back office's admin site: Django's, with the merchant's dashboard as its first page and a
statistics page (``admin:statistics``), listed under "Reports" in the index and the sidebar.

The operator's first page stays Django's list of apps (they work across shops; their statistics
page shows one shop at a time, picked in its form). A merchant's first page is the dashboard,
with the list of apps below it.

The statistics page is a list of sections, each one template with its own context: charts (a
canvas drawn by Chart.js, vendored in campaigns/static/campaigns/vendor/chartjs, and a table of
the same figures below it) and tables. Another report adds itself as one more ``Section`` in
``statistics_sections``.

Thin: the selectors (campaigns/dashboard.py, campaigns/statistics.py, campaigns/selectors.py)
compute; this module puts their figures into words, links and charts.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone, translation
from django.utils.html import format_html_join
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from shop.models import Shop
from shop.money import format_number
from shop.tenancy import is_operator, request_shop
from smsnotify.history import reason_text
from smsnotify.models import Kind, Status
from smsnotify.provider_errors import provider_error_reason

from . import dashboard, statistics
from .forms import StatisticsForm
from .revenue import campaign_revenue
from .selectors import satisfaction_average, satisfaction_by_campaign

DASHBOARD_DAYS = 14  # the dashboard's chart: the texts of the last two weeks


# --- charts and sections -------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    label: str
    values: list
    axis: str = "y"  # "y1": a second scale on the right (a count beside an average)
    type: str = ""  # a line among bars; empty: the chart's own type
    decimals: int = 0  # how the table writes the figures


@dataclass(frozen=True)
class Chart:
    """One chart and, below it, a table of the same figures (the accessible reading)."""

    id: str
    title: str
    label_header: str  # the table's first column: "Day", "Kind of message", …
    labels: list[str]
    series: list[Series]
    type: str = "bar"
    horizontal: bool = False
    note: str = ""
    template: str = "admin/campaigns/statistics/chart.html"
    # Periods in time: the table under the chart lists the newest first, so today (or this week) is
    # its first row, not hidden at the bottom of a scroll box behind weeks of old zeros. The chart
    # keeps time running left to right.
    newest_first: bool = False

    @property
    def data_id(self) -> str:
        return f"data-{self.id}"

    @property
    def config(self) -> dict:
        """What statistics.js gives Chart.js."""
        return {"type": self.type, "horizontal": self.horizontal, "labels": self.labels,
                "datasets": [{"label": s.label, "data": s.values, "axis": s.axis, "type": s.type or self.type}
                             for s in self.series]}

    @property
    def rows(self) -> str:
        """The table's rows, as HTML: built here rather than by the template's nested loops (ten times
        faster over a page of six charts)."""
        order = range(len(self.labels) - 1, -1, -1) if self.newest_first else range(len(self.labels))
        return format_html_join("", "<tr><th scope=\"row\">{}</th>{}</tr>", (
            (self.labels[i], format_html_join("", "<td>{}</td>",
                                              ((_figure(s.values[i], s.decimals),) for s in self.series)))
            for i in order))


@dataclass(frozen=True)
class Table:
    """A section that is a table only."""

    id: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    empty: str
    note: str = ""
    template: str = "admin/campaigns/statistics/table.html"


@dataclass(frozen=True)
class Section:
    """Anything else the page shows: its template and that template's context."""

    template: str
    context: dict = field(default_factory=dict)


def _figure(value, decimals: int = 0) -> str:
    return "–" if value is None else _formatted(value, decimals, translation.get_language())


@functools.lru_cache(maxsize=4096)
def _formatted(value, decimals: int, language: str) -> str:
    """A page's hundreds of figures repeat (zeros, small counts): each is formatted once per language."""
    return format_number(value, decimal_pos=decimals, language=language)


def _percent(rate: float | None) -> str:
    # Rounded here: Django's number format cuts decimals off (8 of 9 would read 88.8 %).
    return "–" if rate is None else f"{format_number(round(rate * 100, 1), decimal_pos=1)} %"


def _period_labels(span: statistics.Range) -> tuple[str, list[str]]:
    if span.unit == statistics.MONTH:
        return _("Month"), [formats.date_format(start, "YEAR_MONTH_FORMAT") for start in span.starts]
    header = _("Week starting") if span.unit == statistics.WEEK else _("Day")
    return header, [formats.date_format(start, "SHORT_DATE_FORMAT") for start in span.starts]


def texts_chart(texts: statistics.TextStatistics, *, span: statistics.Range | None = None,
                chart_id: str = "texts") -> Chart:
    """Sent, delivered and failed per period of ``span`` (the whole of the statistics' by default)."""
    span = span or texts.span
    header, labels = _period_labels(span)
    figures = [texts.periods[start] for start in span.starts]
    return Chart(chart_id, _("Texts"), header, labels, [
        Series(_("Sent"), [f.sent for f in figures]),
        Series(_("Delivered"), [f.delivered for f in figures]),
        Series(_("Failed"), [f.failed for f in figures]),
    ], note=_("Counted in the period each text was written."), newest_first=True)


def _failure_reason(failure: statistics.Failure) -> str:
    """In the merchant's language where the code is known (our own reasons, the provider's known
    codes); else the provider's words as stored."""
    if failure.code:
        ours = reason_text(failure.code)
        if ours != failure.code:
            return ours
        known = provider_error_reason(failure.code)
        if known:
            return known
    return failure.text or _("No reason given")


def failures_table(failures: list[statistics.Failure], *, table_id: str = "failures") -> Table:
    return Table(table_id, _("Failures by error code"), [_("Error code"), _("Reason"), _("Texts")],
                 [[failure.code or "–", _failure_reason(failure), _figure(failure.count)] for failure in failures],
                 empty=_("No text failed."))


def statistics_sections(*, shop: Shop, span: statistics.Range) -> list:
    """The statistics page, section by section."""
    texts = statistics.text_statistics(shop=shop, span=span)
    header, labels = _period_labels(span)
    starts = span.starts
    opt_outs = statistics.opt_outs_per_period(shop=shop, span=span)
    ratings = statistics.ratings_per_period(shop=shop, span=span)
    numbers = statistics.numbers_per_period(shop=shop, span=span)
    kinds = [(Kind(kind).label if kind in Kind.values else kind, figures) for kind, figures in texts.kinds.items()]
    campaigns = satisfaction_by_campaign(shop=shop, since=span.since, until=span.until)
    return [
        Section("admin/campaigns/statistics/summary.html", {"summary": _summary(shop, span, texts, opt_outs, numbers)}),
        texts_chart(texts),
        Chart("kinds", _("Per kind of message"), _("Kind of message"), [label for label, _f in kinds], [
            Series(_("Sent"), [f.sent for _l, f in kinds]),
            Series(_("Delivered"), [f.delivered for _l, f in kinds]),
            Series(_("Failed"), [f.failed for _l, f in kinds]),
            Series(_("Credits spent"), [f.credits for _l, f in kinds]),
        ], horizontal=True),
        Chart("credits", _("Credits spent"), header, labels, [
            Series(_("Credits spent"), [texts.periods[start].credits for start in starts])],
            note=_("Net of refunds: a text that failed and was refunded costs nothing."), newest_first=True),
        failures_table(texts.failures()),
        Chart("replies", _("Replies and opt-outs"), header, labels, [
            Series(_("Replies received"), [texts.replies.get(start, 0) for start in starts]),
            Series(_("Opt-outs"), [opt_outs[start] for start in starts]),
        ], newest_first=True),
        Chart("satisfaction", _("Satisfaction"), header, labels, [
            Series(_("Average rating (1-5)"), [ratings[start].average for start in starts], type="line", decimals=1),
            Series(_("Ratings"), [ratings[start].count for start in starts], axis="y1"),
        ], newest_first=True),
        Table("campaigns", _("Satisfaction per campaign"),
              [_("Campaign"), _("Surveys sent"), _("Ratings"), _("Response rate"), _("Average rating (1-5)")],
              [[row.name or _("(deleted campaign)"), _figure(row.asked), _figure(row.count),
                _percent(row.response_rate), _figure(row.average, 1)] for row in campaigns],
              empty=_("No survey was sent and no rating given in this range.")),
        Section("admin/campaigns/statistics/revenue.html", {
            "revenue": campaign_revenue(shop=shop, start=span.since, end=span.until), "shop": shop,
            "first": span.first, "last": span.end - dt.timedelta(days=1)}),
        Chart("numbers", _("Numbers collected"), header, labels, [
            Series(_("Customers with a phone number"), [numbers.total[start] for start in starts], type="line"),
            Series(_("New in the period"), [numbers.new[start] for start in starts], axis="y1"),
        ], note=_("Customers with a phone number at the end of each period, by when they registered."),
            newest_first=True),
    ]


def _summary(shop, span, texts, opt_outs, numbers) -> list[tuple[str, str]]:
    rating = satisfaction_average(shop=shop, since=span.since, until=span.until)
    ratings = ngettext("%(count)s rating", "%(count)s ratings", rating.count) % {"count": _figure(rating.count)}
    last = numbers.total[span.last]
    before = last - sum(numbers.new.values())
    growth = _percent((last - before) / before if before else None)
    return [
        (_("Sent"), _figure(texts.total.sent)),
        (_("Delivered"), f"{_figure(texts.total.delivered)} ({_percent(texts.total.delivery_rate)})"),
        (_("Failed"), _figure(texts.total.failed)),
        (_("Credits spent"), _figure(texts.total.credits)),
        (_("Replies received"), _figure(texts.replies_total)),
        (_("Opt-outs"), _figure(sum(opt_outs.values()))),
        (_("Average rating (1-5)"), f"{_figure(rating.average, 1)} ({ratings})"),
        (_("Customers with a phone number"), f"{_figure(last)} ({growth})"),
    ]


# --- the dashboard ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionItem:
    text: str
    url: str
    link: str
    level: str = "warning"  # "error": texts are not leaving or arriving


def _attention_item(item: dashboard.Attention, board: dashboard.Dashboard) -> AttentionItem | None:
    problem = dashboard.Problem
    errors = reverse("admin:campaigns_failedmessage_changelist")
    if item.problem == problem.SMS_OFF:
        url = reverse("admin:smsnotify_smssettings_change", args=[board.sms_settings_id]) \
            if board.sms_settings_id else reverse("admin:smsnotify_smssettings_changelist")
        return AttentionItem(_("SMS is switched off: nothing is sent, not even order texts."), url,
                             _("Switch it on in SMS settings"), "error")
    if item.problem == problem.LOW_BALANCE:
        days = board.credits.days_left
        text = _("Credits are running low: %(balance)s left.") % {"balance": format_number(board.credits.balance)}
        if days is not None:
            text += " " + ngettext("At the current pace they last %(days)s more day.",
                                   "At the current pace they last %(days)s more days.", days) % {
                "days": format_number(days)}
        return AttentionItem(text, reverse("admin:credits_purchase_buy"), _("Buy credits"),
                             "error" if board.credits.balance == 0 else "warning")
    if item.problem == problem.UNKNOWN:
        return AttentionItem(ngettext(
            "%(count)s text has an unknown outcome: check whether it arrived before sending it again.",
            "%(count)s texts have an unknown outcome: check whether they arrived before sending them again.",
            item.count) % {"count": format_number(item.count)},
            f"{errors}?status={Status.UNKNOWN}", _("Open the sending errors"))
    if item.problem == problem.FAILED:
        return AttentionItem(ngettext(
            "%(count)s text failed in the last 7 days.", "%(count)s texts failed in the last 7 days.",
            item.count) % {"count": format_number(item.count)},
            errors, _("See why in the sending errors"))
    if item.problem == problem.TEMPLATE_OFF:
        text = _("“%(automation)s” sends nothing: its template is switched off.") % {"automation": item.automation}
        url = reverse("admin:templates_sms_smstemplate_change", args=[item.template.pk]) if item.template \
            else reverse("admin:templates_sms_smstemplate_changelist")
        return AttentionItem(text, url, _("Switch the template on"))
    return None


def dashboard_context(shop: Shop) -> dict:
    board = dashboard.dashboard(shop=shop)
    today = board.days.span.last
    recent = statistics.Range(unit=statistics.DAY, first=today - dt.timedelta(days=DASHBOARD_DAYS - 1), last=today,
                              zone=shop.zone)
    credits = board.credits
    return {
        "dashboard": board,
        "attention": [item for item in (_attention_item(i, board) for i in board.attention) if item],
        "pace": [(days, format_number(credits.daily_spend(days), decimal_pos=1)) for days in dashboard.PACE_DAYS],
        "delivery_rate": _percent(board.texts.delivery_rate),
        "growth": _percent(board.numbers.growth),
        "failures": failures_table(board.failures, table_id="dashboard-failures"),
        "chart": texts_chart(board.days, span=recent, chart_id="dashboard-texts"),
    }


# --- the site ------------------------------------------------------------------------------------


class BackOfficeSite(admin.AdminSite):
    index_template = "admin/campaigns/dashboard/index.html"

    def get_urls(self):
        return [path("statistics/", self.admin_view(self.statistics_view), name="statistics"), *super().get_urls()]

    def index(self, request, extra_context=None):
        shop = request_shop(request)
        if shop is not None:
            extra_context = {**dashboard_context(shop), **(extra_context or {})}
        return super().index(request, extra_context)

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is None and (is_operator(request) or request_shop(request) is not None):
            url = reverse("admin:statistics", current_app=self.name)
            apps.insert(0, {"name": gettext_lazy("Reports"), "app_label": "reports", "app_url": url,
                            "has_module_perms": True, "models": [
                                {"name": _("Statistics"), "object_name": "Statistics", "admin_url": url,
                                 "add_url": None, "view_only": True, "perms": {"view": True}}]})
        return apps

    def statistics_view(self, request):
        shops = Shop.objects.order_by("name", "pk") if is_operator(request) else None
        shop = request_shop(request)
        if shop is None and shops is not None:  # the operator: the shop asked for, else the first
            picked = request.GET.get("shop", "")
            shop = (shops.filter(pk=picked).first() if picked.isascii() and picked.isdigit() else None) \
                or shops.first()
        context = {**self.each_context(request), "title": _("Statistics"), "shop": shop, "sections": []}
        if shop is None:  # an operator before the first shop
            return TemplateResponse(request, "admin/campaigns/statistics/page.html", context)
        today = timezone.localtime(timezone.now(), shop.zone).date()
        form = StatisticsForm(request.GET, today=today, shops=shops)
        if not form.is_valid():
            return TemplateResponse(request, "admin/campaigns/statistics/page.html", {**context, "form": form},
                                    status=400)
        data = form.cleaned_data
        span = statistics.Range.covering(unit=data["period"], first=data["start"], last=data["end"], zone=shop.zone)
        # The form shows the range as read: the defaults filled in, widened to whole weeks or months.
        shown = StatisticsForm(today=today, shops=shops, initial={
            "period": span.unit, "start": span.first, "end": span.end - dt.timedelta(days=1), "shop": shop.pk})
        return TemplateResponse(request, "admin/campaigns/statistics/page.html", {
            **context, "form": shown, "span": span, "sections": statistics_sections(shop=shop, span=span)})
