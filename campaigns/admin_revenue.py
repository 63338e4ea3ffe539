"""**Campaigns → Campaign revenue**: per bulk send, automation and other texts, over a period of the
shop's days, the texts sent and their credits beside the clicks, orders and revenue credited to them
(campaigns/revenue.py). The list page of the order attributions is this report; one attribution
opens read only (which order, which text, and why).

The table is its own template (``campaigns/revenue_table.html``, given a ``revenue`` report), so
another page (the campaigns' statistics) can include it. The operator picks the shop.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _, gettext_lazy

from shop.models import Shop
from shop.tenancy import ShopScopedAdmin, is_operator, request_shop
from smsnotify.forms import validate_calendar_day

from .models import OrderAttribution
from .revenue import campaign_revenue, local_period

DEFAULT_DAYS = 30
MAX_DAYS = 366


class RevenuePeriodForm(forms.Form):
    first = forms.DateField(label=gettext_lazy("First day"), validators=[validate_calendar_day],
                            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    last = forms.DateField(label=gettext_lazy("Last day"), validators=[validate_calendar_day],
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, shops=None, **kwargs):
        super().__init__(*args, **kwargs)
        if shops is not None:  # the operator's: any shop
            self.fields["shop"] = forms.ModelChoiceField(label=gettext_lazy("Shop"), queryset=shops)

    def clean(self):
        data = super().clean()
        first, last = data.get("first"), data.get("last")
        if first and last and first > last:
            raise forms.ValidationError(_("The first day must not be after the last."), code="order")
        if first and last and (last - first).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose at most %(days)d days.") % {"days": MAX_DAYS}, code="span")
        return data


@admin.register(OrderAttribution)
class CampaignRevenueAdmin(ShopScopedAdmin):
    merchant_actions = frozenset({"view"})
    fields = ["order", "message", "campaign", "source", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        shop = request_shop(request)
        shops = Shop.objects.order_by("name") if is_operator(request) else None
        if shop is None and shops is None:  # staff of no shop: nothing to show
            raise PermissionDenied
        today = timezone.localdate(timezone=shop.zone) if shop is not None else timezone.localdate()
        initial = {"first": today - dt.timedelta(days=DEFAULT_DAYS - 1), "last": today}
        if shops is not None:
            initial["shop"] = shops.first()
        form = RevenuePeriodForm(request.GET or None, shops=shops, initial=initial)
        revenue = None
        if not request.GET or form.is_valid():
            values = form.cleaned_data if request.GET else initial
            shop = shop or values.get("shop")
            if shop is not None:
                start, end = local_period(shop=shop, first=values["first"], last=values["last"])
                revenue = campaign_revenue(shop=shop, start=start, end=end)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": _("Campaign revenue"),
                   "form": form, "revenue": revenue, **(extra_context or {})}
        return TemplateResponse(request, "admin/campaigns/campaign_revenue.html", context)
