"""The satisfaction ratings in the admin: a read-only list (filter by score, date and campaign;
dates in the shop's time zone), and the short texts the order page and the inbox thread show.

A rating is the customer's word: nobody adds, edits or deletes one here (the order's deletion
takes its ratings with it). How replies become ratings: campaigns/satisfaction.py.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _, gettext_lazy

from shop.tenancy import ShopScopedAdmin

from .models import SatisfactionRating


def local_moment(shop, moment) -> str:
    """A time in the shop's zone, in the active language."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment, shop.zone)
    return f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M}"


def rating_text(rating: SatisfactionRating) -> str:
    """"Rated 4/5", and the score it replaced when the customer changed their answer."""
    text = _("Rated %(score)s/5") % {"score": rating.score}
    return f"{text} {_changed(rating)}" if rating.changed else text


def _changed(rating: SatisfactionRating) -> str:
    return _("(changed from %(previous)s)") % {"previous": rating.previous_score}


def stars(score: int) -> str:
    return "★" * score + "☆" * (5 - score)


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(ShopScopedAdmin):
    phrases = {"view": gettext_lazy("View satisfaction rating")}
    merchant_actions = frozenset({"view"})
    list_display = ["rated", "score_display", "order_link", "customer", "campaign", "answer"]
    list_filter = ["score", ("created_at", admin.DateFieldListFilter),
                   ("campaign", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["order__number", "customer__first_name", "customer__last_name", "customer__phone"]
    list_select_related = ["order", "customer", "campaign", "message", "shop"]
    date_hierarchy = "created_at"
    actions = None
    fields = ["order", "customer", "campaign", "score", "previous_score", "created_at", "answered_at",
              "answer", "survey_text"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("rated at"), ordering="created_at")
    def rated(self, obj):
        return local_moment(obj.shop, obj.created_at)

    @admin.display(description=gettext_lazy("rating"), ordering="score")
    def score_display(self, obj):
        return format_html('<span class="rating-stars" title="{}/5">{}</span> {}/5{}', obj.score, stars(obj.score),
                           obj.score, f" {_changed(obj)}" if obj.changed else "")

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:shop_order_change", args=[obj.order_id]), obj.order)

    @admin.display(description=gettext_lazy("answer"))
    def answer(self, obj):
        return obj.message.body if obj.message_id else "-"

    @admin.display(description=gettext_lazy("survey text"))
    def survey_text(self, obj):
        return obj.survey_message.body
