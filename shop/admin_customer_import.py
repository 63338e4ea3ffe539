"""Customer files in the admin: the customer list's Import and Export buttons, the upload page,
an import's page (the preview of what it will write, with each row's errors) and its
confirmation. Thin: shop/customer_import.py checks and writes, shop/customer_export.py writes
the file. The shop is always the logged-in merchant's (the operator, who has none, picks one)."""

from __future__ import annotations

import csv
import io

import phonenumbers
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from .customer_export import customer_export_csv, customer_export_delimiter
from .customer_import import (
    COLUMNS,
    HEADERS,
    LABELS,
    MAX_BYTES,
    MAX_ROWS,
    CustomerFileError,
    CustomerImportRejected,
    customer_import_confirm,
    customer_import_preview,
    problem_text,
)
from .models import CustomerImport, CustomerImportStatus, MarketingConsent, Shop
from .money import format_number
from .tenancy import ShopScopedAdmin, is_operator, request_shop


class CustomerUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"))
    shop = forms.ModelChoiceField(Shop.objects.all(), label=gettext_lazy("shop"))

    def __init__(self, *args, choose_shop: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not choose_shop:
            del self.fields["shop"]  # a merchant imports into their own shop, never another


class CustomerExportMixin:
    """The customer list's export: what the list shows (its filters and search), as CSV."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
        ] + super().get_urls()

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:shop_customer_changelist"))
        shop = request_shop(request)
        lines = customer_export_csv(customers=changelist.get_queryset(request), shop=shop,
                                    with_shop=is_operator(request))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        name = f"customers-{shop.slug if shop else 'all'}-{timezone.now():%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _column_help(shop: Shop | None) -> list[tuple[str, str]]:
    help_texts = {
        "phone": _("The number without its calling code, e.g. 538506896 (a number written with its +code is "
                   "read as written)."),
        "calling_code": _("E.g. +48. Empty: the number is read in the shop's country (%(country)s).")
        % {"country": shop.country} if shop else _("E.g. +48. Empty: the number is read in the shop's country."),
        "member": _("Y: the customer is imported with the number. N: the number is not imported."),
        "first_name": _("Optional."), "last_name": _("Optional."), "email": _("Optional."),
        "birthday": _("Optional: YYYY-MM-DD (or DD.MM.YYYY)."),
        "consent": _("Y (agreed to marketing texts), N (refused) or empty (not asked). Y counts only with its "
                     "date and source; without them the customer is imported as not asked."),
        "consent_at": _("When the customer agreed: YYYY-MM-DD HH:MM, in the shop's time zone."),
        "consent_source": _("Where the customer agreed, e.g. “checkout box of the old shop”."),
    }
    return [(column.header, help_texts[column.key]) for column in COLUMNS]


_CONSENT_LABELS = dict(MarketingConsent.choices)


def _shown_rows(report: dict) -> list[dict]:
    """The report's rows as the preview table shows them, problems in the reader's language."""
    rows = []
    for row in report.get("shown", []):
        values = row["values"]
        rows.append({
            "line": row["line"], "skip": row.get("skip", False),
            "cells": [values["phone"], values["first_name"], values["last_name"], values["email"],
                      values["birthday"], _CONSENT_LABELS.get(values["consent"], values["consent"]),
                      values["consent_at"], values["consent_source"]],
            "errors": [f"{capfirst(LABELS[p['column']])}: {problem_text(p)}" for p in row["errors"]],
            "notes": [f"{capfirst(LABELS[p['column']])}: {problem_text(p)}" for p in row["notes"]],
        })
    return rows


@admin.register(CustomerImport)
class CustomerImportAdmin(ShopScopedAdmin):
    """The customer files uploaded: each one's page is its preview until it is imported, then
    the record of what it wrote. Made by uploading, never edited; deleting one that waits
    cancels it."""

    merchant_actions = frozenset({"view", "add", "delete"})
    list_display = ["created_at", "file_name", "status", "rows", "rows_with_errors", "imported", "created_by"]
    list_display_links = ["created_at", "file_name"]
    list_filter = ["status"]
    list_select_related = ["created_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a file that waits cancels it; an imported one stays, the record of where its
        # customers (and their consents) came from.
        if obj is not None and obj.status == CustomerImportStatus.IMPORTED:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would not ask each row whether it may go
        return actions

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("example/", wrap(self.example_view), name="%s_%s_example" % info),
            path("<path:object_id>/confirm/", wrap(self.confirm_view), name="%s_%s_confirm" % info),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        shop = request_shop(request)
        bound = request.method == "POST"
        form = CustomerUploadForm(request.POST if bound else None, request.FILES if bound else None,
                                  choose_shop=shop is None)
        if bound and form.is_valid():
            try:
                created = customer_import_preview(shop=shop or form.cleaned_data["shop"],
                                                  upload=form.cleaned_data["file"], user=request.user)
            except CustomerFileError as exc:
                form.add_error("file", exc)
            else:
                return HttpResponseRedirect(reverse("admin:shop_customerimport_change", args=[created.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "title": _("Import customers"), "form": form,
            "columns": _column_help(shop), "max_mb": MAX_BYTES // (1024 * 1024), "max_rows": format_number(MAX_ROWS),
        }
        return TemplateResponse(request, "admin/shop/customerimport/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        report = {key: 0 for key in ("rows", "rows_with_errors", "to_import", "skipped", "numbers_not_imported",
                                     "consent_unproven")} | (obj.report or {})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts, "original": obj, "title": obj.file_name, "report": report,
            "rows": _shown_rows(report),
            "headers": [LABELS[key] for key in ("phone", "first_name", "last_name", "email", "birthday", "consent",
                                                "consent_at", "consent_source")],
            "waiting": obj.status == CustomerImportStatus.PREVIEW,
            "may_confirm": obj.status == CustomerImportStatus.PREVIEW and self.has_add_permission(request),
            "may_delete": self.has_delete_permission(request, obj),
            "hidden_rows": max(0, (report.get("rows_with_errors") or report.get("rows", 0)) - len(report.get("shown", []))),
        }
        return TemplateResponse(request, "admin/shop/customerimport/preview.html", context)

    def confirm_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_add_permission(request):
            raise PermissionDenied
        try:
            customer_import_confirm(customer_import=obj)
        except CustomerImportRejected as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
            return HttpResponseRedirect(reverse("admin:shop_customerimport_change", args=[obj.pk]))
        self.message_user(request, ngettext("%(count)s customer imported.", "%(count)s customers imported.",
                                            obj.imported) % {"count": format_number(obj.imported)}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:shop_customer_changelist"))

    def example_view(self, request):
        """A file to start from: the columns and two rows in the shop's country."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        shop = request_shop(request)
        region = shop.country if shop else "US"
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        national, code = (phonenumbers.national_significant_number(example), f"+{example.country_code}") \
            if example else ("", "")
        out = io.StringIO()
        writer = csv.writer(out, delimiter=customer_export_delimiter(shop=shop))
        writer.writerow(HEADERS)
        writer.writerow([national, code, "Y", "Anna", "Smith", "anna@example.com", "1990-04-12", "Y",
                         "2024-05-01 10:00", "checkout box of the old shop"])
        writer.writerow([national[:-1] + str((int(national[-1]) + 1) % 10) if national else "", code, "N", "Jan",
                         "Kowalski", "", "", "", "", ""])
        response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="customers-example.csv"'
        return response
