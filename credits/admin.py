"""Credits in the admin: the merchant's balance, history and purchases; the operator's prices,
packs, confirmations and adjustments. Every shop-owned page is scoped by ShopScopedAdmin,
so another shop's account, entry, purchase or receipt is a 404."""

from __future__ import annotations

import csv
import datetime as dt
import uuid

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _, ngettext
from django.views.decorators.http import require_POST

from shop.money import format_money, format_number
from shop.tenancy import ShopScopedAdmin, is_operator, request_shop

from . import admin_messages, ledger  # noqa: F401 - admin_messages registers the Message admin again, with the ledger
from .purchases import purchase_cancel, purchase_confirm, purchase_create
from .forms import AdjustForm, BuyForm
from .models import (
    ConfirmedVia,
    CreditAccount,
    CreditPack,
    DestinationRate,
    EntryKind,
    LedgerEntry,
    PricingSettings,
    Purchase,
    PurchaseStatus,
)
from .payments import providers
from .pricing import forget_rates
from .selectors import cheapest_sms_cost, credit_balance

# --- the operator's prices -----------------------------------------------------------------


@admin.register(PricingSettings)
class PricingSettingsAdmin(admin.ModelAdmin):
    """One row; the list goes straight to it."""

    fields = ["credits_per_segment_domestic", "credits_per_segment_international", "minimum_purchase_credits",
              "price_per_thousand", "updated_at"]
    readonly_fields = ["updated_at"]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect("admin:credits_pricingsettings_change", 1)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DestinationRate)
class DestinationRateAdmin(admin.ModelAdmin):
    list_display = ["calling_code_display", "regions", "credits_per_segment", "note"]
    search_fields = ["calling_code", "note"]

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        forget_rates()  # a bulk delete does not go through DestinationRate.delete()

    @admin.display(description=_("calling code"), ordering="calling_code")
    def calling_code_display(self, obj):
        return f"+{obj.calling_code}"


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ["name", "credits", "prices_display", "active", "position"]
    list_editable = ["active", "position"]

    @admin.display(description=_("prices"))
    def prices_display(self, obj):
        return ", ".join(format_money(price, currency) for currency, price in sorted(obj.prices.items()))


# --- the account -------------------------------------------------------------------------------


@admin.register(CreditAccount)
class CreditAccountAdmin(ShopScopedAdmin):
    """Merchants see their balance and set their alert threshold; only the operator adjusts."""

    merchant_actions = frozenset({"view", "change"})
    list_display = ["shop", "balance_display", "low_balance_threshold", "low_balance_armed", "updated_at"]
    list_select_related = ["shop"]
    search_fields = ["shop__name", "shop__slug"]
    fields = ["shop", "balance_display", "low_balance_threshold", "low_balance_alerts", "updated_at"]
    change_form_template = "credits/admin/account_change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return ["shop", "balance_display", "low_balance_alerts", "updated_at"]

    @admin.display(description=_("balance"), ordering="balance")
    def balance_display(self, obj):
        return format_number(obj.balance)

    def get_exclude(self, request, obj=None):
        return []  # "shop" is read-only here, shown to merchants too

    def has_add_permission(self, request, *args):
        return False  # created with the shop

    def has_delete_permission(self, request, obj=None):
        return False  # money rows outlive nothing but their shop

    def changelist_view(self, request, extra_context=None):
        shop = request_shop(request)
        if not is_operator(request) and shop is not None:
            account = self.get_queryset(request).filter(shop=shop).first()
            if account is not None:  # a merchant has one account: show it
                return redirect("admin:credits_creditaccount_change", account.pk)
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        ledger.account_set_threshold(account=obj, threshold=obj.low_balance_threshold)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self.get_object(request, unquote(object_id))
        extra = {}
        if account is not None:
            extra = {
                "recent_entries": account.entries.select_related("message", "purchase")[:10],
                "one_sms_cost": cheapest_sms_cost(account.shop),
                "may_adjust": is_operator(request),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/adjust/", self.admin_site.admin_view(self.adjust_view),
                 name="%s_%s_adjust" % info),
        ] + super().get_urls()

    def adjust_view(self, request, object_id):
        """The operator's correction with a required reason. Merchants get a 403."""
        if not is_operator(request):
            raise PermissionDenied
        account = self.get_object(request, unquote(object_id))
        if account is None:
            raise Http404
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = ledger.account_adjust(shop=account.shop, amount=form.cleaned_data["amount"],
                                                reason=form.cleaned_data["reason"], user=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, _("Adjusted by %(amount)+d credits; the balance is now %(balance)s.") % {
                    "amount": entry.amount, "balance": format_number(entry.balance_after)}, messages.SUCCESS)
                return redirect("admin:credits_creditaccount_change", account.pk)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": account, "form": form,
            "title": _("Adjust the credits of %(shop)s") % {"shop": account.shop},
        }
        return TemplateResponse(request, "credits/admin/adjust.html", context)


# --- the ledger ----------------------------------------------------------------------------------


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Free text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value):
        return value


def ledger_csv_response(queryset, *, with_shop: bool, filename: str) -> StreamingHttpResponse:
    """Stream the ledger in chunks: a shop's years of history never sit in memory at once."""
    header = ["date (UTC)", "kind", "credits", "balance after", "message", "recipient", "purchase", "reason", "by"]
    if with_shop:
        header.insert(1, "shop")
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(header)
        for entry in queryset.select_related("shop", "message", "purchase").iterator(chunk_size=2000):
            row = [
                entry.created_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), entry.kind, entry.amount,
                entry.balance_after, entry.message_id or "", entry.message.recipient if entry.message else "",
                entry.purchase.number if entry.purchase else "", _cell(entry.reason), _cell(entry.actor),
            ]
            if with_shop:
                row.insert(1, _cell(entry.shop.name))
            yield writer.writerow(row)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ShopScopedAdmin):
    """The credit history: read-only, filterable, exportable."""

    merchant_actions = frozenset({"view"})
    list_display = ["created_at", "kind", "amount_display", "balance_after_display", "cause", "actor"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    date_hierarchy = "created_at"
    search_fields = ["reason", "message__recipient", "actor"]
    list_select_related = ["message", "purchase", "shop"]
    actions = ["export_selected_csv"]
    fields = readonly_fields = ["shop", "created_at", "kind", "amount_display", "balance_after_display", "message",
                                "cycle", "purchase", "reason", "actor"]
    change_list_template = "credits/admin/ledger_change_list.html"

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("credits"), ordering="amount")
    def amount_display(self, obj):
        colour = "#2e7d32" if obj.amount > 0 else "#c62828"
        sign = "+" if obj.amount > 0 else ""  # format_number writes the minus itself
        return format_html('<span style="color:{}">{}{}</span>', colour, sign, format_number(obj.amount))

    @admin.display(description=_("balance after"), ordering="balance_after")
    def balance_after_display(self, obj):
        return format_number(obj.balance_after)

    @admin.display(description=_("cause"))
    def cause(self, obj):
        if obj.message_id:
            url = reverse("admin:smsnotify_message_change", args=[obj.message_id])
            return format_html('<a href="{}">SMS {}</a> {}', url, obj.message_id, obj.reason)
        if obj.purchase_id:
            url = reverse("admin:credits_purchase_change", args=[obj.purchase_id])
            return format_html('<a href="{}">{}</a> {}', url, obj.purchase.number, obj.reason)
        return obj.reason

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
        ] + super().get_urls()

    def export_view(self, request):
        """Everything the list shows with its current filters, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return ledger_csv_response(changelist.get_queryset(request), with_shop=is_operator(request),
                                   filename=f"credit-history-{timezone.now():%Y%m%d}.csv")

    @admin.action(description=_("Export selected entries to CSV"), permissions=["view"])
    def export_selected_csv(self, request, queryset):
        return ledger_csv_response(queryset.order_by("-created_at", "-pk"), with_shop=is_operator(request),
                                   filename=f"credit-history-{timezone.now():%Y%m%d}.csv")


# --- purchases -------------------------------------------------------------------------------------


class PaymentMethodFilter(admin.SimpleListFilter):
    """The methods by their names ("Bank transfer"), not their codes ("bank_transfer")."""

    title = _("payment method")
    parameter_name = "method"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).order_by().values_list("method", flat=True).distinct()
        labels = {method.code: method.label for provider in providers().values() for method in provider.methods}
        return sorted(((code, labels.get(code, code)) for code in codes), key=lambda pair: str(pair[1]))

    def queryset(self, request, queryset):
        return queryset.filter(method=self.value()) if self.value() else queryset


@admin.register(Purchase)
class PurchaseAdmin(ShopScopedAdmin):
    """Merchants buy through the three-step page and cancel what they no longer mean to pay;
    the operator confirms payments that arrived outside the provider's webhook."""

    merchant_actions = frozenset({"view"})
    list_display = ["number_display", "created_at", "description", "credits_display", "amount_display",
                    "method_display", "status", "paid_at"]
    list_filter = ["status", PaymentMethodFilter]
    date_hierarchy = "created_at"
    list_select_related = ["shop"]
    search_fields = ["provider_reference", "description"]
    actions = ["confirm_selected", "cancel_selected"]
    fields = readonly_fields = [
        "number_display", "shop", "description", "credits_display", "amount_display", "method_display", "status",
        "instructions", "provider", "provider_reference", "created_by_name", "created_at", "expires_at", "paid_at",
        "confirmed_via", "confirmed_by_name", "closed_at", "note",
    ]
    change_form_template = "credits/admin/purchase_change_form.html"
    change_list_template = "credits/admin/purchase_change_list.html"

    def has_add_permission(self, request, *args):
        return False  # through buy_view, which prices and pays

    # Names, not links: a merchant may not open user accounts (the link was a 403).
    @admin.display(description=_("created by"))
    def created_by_name(self, obj):
        return obj.created_by.get_username() if obj.created_by else "-"

    @admin.display(description=_("confirmed by"))
    def confirmed_by_name(self, obj):
        return obj.confirmed_by.get_username() if obj.confirmed_by else "-"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_confirm_permission(self, request):
        return is_operator(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("number"), ordering="pk")
    def number_display(self, obj):
        return obj.number

    @admin.display(description=_("credits"), ordering="credits")
    def credits_display(self, obj):
        return format_number(obj.credits)

    @admin.display(description=_("price"), ordering="amount")
    def amount_display(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.amount_display)

    @admin.display(description=_("payment method"), ordering="method")
    def method_display(self, obj):
        return obj.method_label

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("buy/", view(self.buy_view), name="%s_%s_buy" % info),
            path("<path:object_id>/receipt/", view(self.receipt_view), name="%s_%s_receipt" % info),
            path("<path:object_id>/confirm/", view(require_POST(self.confirm_view)), name="%s_%s_confirm" % info),
            path("<path:object_id>/cancel/", view(require_POST(self.cancel_view)), name="%s_%s_cancel" % info),
        ] + super().get_urls()

    def _scoped(self, request, object_id) -> Purchase:
        purchase = self.get_object(request, unquote(object_id))
        if purchase is None:
            raise Http404
        return purchase

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"may_confirm": is_operator(request)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def receipt_view(self, request, object_id):
        purchase = self._scoped(request, object_id)
        return TemplateResponse(request, "credits/admin/receipt.html", {
            **self.admin_site.each_context(request), "purchase": purchase, "shop": purchase.shop,
            "title": _("Receipt %(number)s") % {"number": purchase.number},
            "entry": purchase.ledger_entries.filter(kind=EntryKind.PURCHASE).first(),
        })

    def confirm_view(self, request, object_id):
        if not is_operator(request):
            raise PermissionDenied
        purchase = self._scoped(request, object_id)
        self._confirm(request, [purchase])
        return HttpResponseRedirect(reverse("admin:credits_purchase_change", args=[purchase.pk]))

    def cancel_view(self, request, object_id):
        purchase = self._scoped(request, object_id)
        self._cancel(request, [purchase])
        return HttpResponseRedirect(reverse("admin:credits_purchase_change", args=[purchase.pk]))

    def _confirm(self, request, purchases):
        count = sum(purchase_confirm(purchase=p, via=ConfirmedVia.OPERATOR, user=request.user) for p in purchases)
        self.message_user(request, ngettext("%d purchase confirmed and credited.", "%d purchases confirmed and credited.",
                                            count) % count if count else _("Nothing to confirm: only pending purchases "
                                                                           "can be confirmed, and only once."),
                          messages.SUCCESS if count else messages.WARNING)

    def _cancel(self, request, purchases):
        count = sum(purchase_cancel(purchase=p, user=request.user) for p in purchases)
        self.message_user(request, ngettext("%d purchase cancelled.", "%d purchases cancelled.", count) % count
                          if count else _("Nothing to cancel: only pending purchases can be cancelled."),
                          messages.SUCCESS if count else messages.WARNING)

    @admin.action(description=_("Confirm payment of selected pending purchases (credits them)"),
                  permissions=["confirm"])
    def confirm_selected(self, request, queryset):
        self._confirm(request, queryset.filter(status=PurchaseStatus.PENDING))

    @admin.action(description=_("Cancel selected pending purchases"), permissions=["view"])
    def cancel_selected(self, request, queryset):
        self._cancel(request, queryset.filter(status=PurchaseStatus.PENDING))

    def buy_view(self, request):
        """Choose a pack → choose a payment method → confirm. Merchants only: the operator
        grants credits with an adjustment instead."""
        shop = request_shop(request)
        if shop is None or not self.has_view_permission(request):
            raise PermissionDenied
        quote = method = None
        if request.method != "POST":
            step, form = "pack", BuyForm(shop=shop, step="pack")
        else:
            step = request.POST.get("step")
            step = step if step in BuyForm.STEPS else "pack"
            form = BuyForm(request.POST, shop=shop, step=step)
            if form.is_valid():
                quote, method = form.quote, form.payment_method
                if step == "confirm":
                    try:
                        purchase = purchase_create(
                            shop=shop, method=method.code, user=request.user, pack=form.pack,
                            credits=form.cleaned_data["custom_credits"] if form.pack is None else None,
                            idempotency_key=form.cleaned_data["token"] or None,
                        )
                    except ValidationError as exc:
                        form.add_error(None, exc)
                    else:
                        return self._after_purchase(request, purchase)
                else:
                    step = BuyForm.STEPS[BuyForm.STEPS.index(step) + 1]
                    initial = {**form.cleaned_data, "token": form.cleaned_data.get("token") or uuid.uuid4()}
                    form = BuyForm(initial=initial, shop=shop, step=step)
        return TemplateResponse(request, "credits/admin/buy.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form, "step": step, "shop": shop,
            "quote": quote, "method": method, "title": _("Buy SMS credits"), "balance": credit_balance(shop),
            "price": format_money(quote.amount, quote.currency) if quote else "",
            "steps": list(zip(BuyForm.STEPS, [_("Credits"), _("Payment method"), _("Confirm")])),
        })

    def _after_purchase(self, request, purchase: Purchase):
        if purchase.status == PurchaseStatus.PAID:
            self.message_user(request, _("Paid: %(credits)s credits were added to your balance.") % {
                "credits": format_number(purchase.credits)}, messages.SUCCESS)
        elif purchase.status == PurchaseStatus.PENDING:
            self.message_user(request, _("Purchase %(number)s is awaiting payment; the credits are added when it "
                                         "is confirmed.") % {"number": purchase.number}, messages.INFO)
        else:
            self.message_user(request, _("The payment did not go through: %(note)s") % {"note": purchase.note},
                              messages.ERROR)
        return HttpResponseRedirect(reverse("admin:credits_purchase_change", args=[purchase.pk]))
