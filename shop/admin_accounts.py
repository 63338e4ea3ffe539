"""Storefront accounts in the admin: the shop's code rules (countries, hourly ceiling), the
refused code requests, and the Verified / Not yet verified label of a customer's mobile."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import AccountSettings, CodeRefusal, Customer
from .storefront.forms import COUNTRY_CHOICES
from .tenancy import ShopScopedAdmin


@admin.display(description=_("mobile"))
def mobile_verified_label(customer: Customer):
    """Green "Verified" when the customer's current number is the one they proved with a code."""
    if not customer.phone:
        return "-"
    if customer.mobile_verified:
        return format_html('<span class="mobile-verified" style="color:#fff;background:#2a7a3a;border-radius:4px;'
                           'padding:1px 6px;white-space:nowrap">{}</span>', _("Verified"))
    return format_html('<span class="mobile-unverified" style="color:#fff;background:#c76a00;border-radius:4px;'
                       'padding:1px 6px;white-space:nowrap">{}</span>', _("Not yet verified"))


class AccountSettingsForm(forms.ModelForm):
    code_countries = forms.MultipleChoiceField(
        label=_("countries codes may be texted to"), choices=COUNTRY_CHOICES, required=False,
        widget=FilteredSelectMultiple(_("countries"), is_stacked=False),
        help_text=AccountSettings._meta.get_field("code_countries").help_text)

    class Meta:
        model = AccountSettings
        fields = ["code_countries", "codes_per_hour"]


@admin.register(AccountSettings)
class AccountSettingsAdmin(ShopScopedAdmin):
    """One row per shop, made with it: the merchant edits theirs."""

    form = AccountSettingsForm
    merchant_actions = frozenset({"view", "change"})
    list_display = ["shop", "countries_display", "codes_per_hour"]

    @admin.display(description=_("countries codes may be texted to"))
    def countries_display(self, obj):
        return ", ".join(obj.allowed_countries())

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CodeRefusal)
class CodeRefusalAdmin(ShopScopedAdmin):
    """Code requests the rules refused, and why: signs of abuse (SMS pumping) at a glance."""
    phrases = {"view": _("View refused code request")}

    merchant_actions = frozenset({"view"})
    list_display = ["last_at", "reason", "address", "channel", "purpose", "ip", "times"]
    list_filter = ["reason", "channel", "purpose"]
    search_fields = ["address", "ip"]
    date_hierarchy = "last_at"
    fields = readonly_fields = ["reason", "channel", "purpose", "address", "ip", "times", "created_at", "last_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
