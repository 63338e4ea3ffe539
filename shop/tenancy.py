"""Tenant scoping: one helper decides which shop a request works for.

Staff users belong to exactly one shop (StaffMembership) and see only its rows; a
superuser is the platform operator and sees every shop. Anything outside the request's
shop does not exist for it: a foreign id is a 404, never a redirect or a 403 that would
confirm the row exists.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext as djangos_words, gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from .models import Shop, StaffMembership

_CACHE_ATTR = "_smsnotify_shop"


def shop_of_user(user) -> Shop | None:
    if not user.is_authenticated:
        return None
    membership = StaffMembership.objects.select_related("shop").filter(user=user).first()
    return membership.shop if membership else None


def request_shop(request: HttpRequest) -> Shop | None:
    """The shop this request works for (None for the operator and for outsiders)."""
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, shop_of_user(request.user))
    return getattr(request, _CACHE_ATTR)


def is_operator(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_superuser


def scope(queryset: QuerySet, request: HttpRequest, shop_field: str = "shop") -> QuerySet:
    """Filter ``queryset`` to the request's shop; the operator sees everything."""
    if is_operator(request):
        return queryset
    shop = request_shop(request)
    if shop is None:
        return queryset.none()
    return queryset.filter(**{shop_field: shop})


class ShopScopedAdmin(admin.ModelAdmin):
    """ModelAdmin for tenant-owned models: querysets, choices, permissions and saves follow the shop."""

    shop_field = "shop"  # lookup path from the model to its Shop
    merchant_actions = frozenset({"view", "add", "change", "delete"})
    # Django writes "Add %s", "Change %s", "View %s" and "Select %s to change" around the model's
    # name as it is, and Polish needs the name declined: "Zobacz wysyłkę masową", "Dodaj klienta",
    # not "Zobacz wysyłka masowa" (Django's Portuguese even leaves "View %s" in English). An admin
    # whose model's name changes form gives whole phrases here ("add", "change", "view"), each
    # translated as one; a list is titled by its plural name, which needs no declension.
    phrases: dict[str, str] = {}
    _GENERIC_PHRASES = {"add": _("Add %(name)s"), "change": _("Change %(name)s"), "view": _("View %(name)s")}

    def phrase(self, action: str) -> str:
        """The title of the ``action`` ("add", "change", "view") page of this admin's model."""
        if action in self.phrases:
            return str(self.phrases[action])
        return str(self._GENERIC_PHRASES[action]) % {"name": self.opts.verbose_name}

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request, self.shop_field)

    # Merchants get their rights from their membership, not from Django's per-model permissions.
    def _may(self, request, action: str) -> bool:
        if is_operator(request):
            return True
        return (
            request.user.is_active and request.user.is_staff
            and action in self.merchant_actions and request_shop(request) is not None
        )

    def has_module_permission(self, request):
        return self._may(request, "view")

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view") or self._may(request, "change")

    def has_add_permission(self, request, *args):
        return self._may(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        action = "add" if add else "change" if self.has_change_permission(request, obj) else "view"
        # Django's own titles, read from its catalog (the alias keeps them out of ours).
        djangos = {"add": djangos_words("Add %s"), "change": djangos_words("Change %s"),
                   "view": djangos_words("View %s")}[action]
        if context.get("title") == djangos % self.opts.verbose_name:  # not a title the view gave itself
            context["title"] = self.phrase(action)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        titles = {"title": capfirst(self.opts.verbose_name_plural), "add_label": self.phrase("add")}
        return super().changelist_view(request, {**titles, **(extra_context or {})})

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with "doesn't exist"; a foreign id must look like any missing page.
        raise Http404

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not is_operator(request) and self.shop_field == "shop":
            exclude.append("shop")
        return exclude

    def response_action(self, request, queryset):
        # Django filters the ticked ids as they come ("x", "²") and fails with a 500: keep the
        # ids that can be ids (a forged one of another shop is then filtered out by the queryset).
        ids = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(not (i.isascii() and i.isdigit()) for i in ids):
            request.POST = request.POST.copy()
            request.POST.setlist(helpers.ACTION_CHECKBOX_NAME, [i for i in ids if i.isascii() and i.isdigit()])
        return super().response_action(request, queryset)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_operator(request) or self.shop_field != "shop":
            return fieldsets
        # A merchant's rows are the shop's: the field is not theirs to see (it is excluded from the form).
        return [(name, {**options, "fields": [f for f in options["fields"] if f != "shop"]})
                for name, options in fieldsets]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        shop = request_shop(request)
        if is_operator(request) or shop is None or self.shop_field != "shop":
            return form

        class ShopBoundForm(form):
            """Binds the row to the merchant's shop before validation, so that per-shop
            unique constraints (an order number per shop) are form errors, not a 500."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.instance.shop = shop

            def _post_clean(self):
                super()._post_clean()
                exclude = {f.name for f in self.instance._meta.fields if f.name not in self.fields and f.name != "shop"}
                try:
                    self.instance.validate_constraints(exclude=exclude)
                except ValidationError as exc:
                    self._update_errors(exc)

        return ShopBoundForm

    def get_list_display(self, request):
        # The operator's lists mix shops: two "#1001" orders must say whose they are.
        columns = list(super().get_list_display(request))
        if is_operator(request) and self.shop_field != "pk" and self.shop_field not in columns:
            columns.insert(1 if columns else 0, self.shop_field)  # after the first column, which links the row
        return columns

    def get_list_select_related(self, request):
        related = super().get_list_select_related(request)
        if is_operator(request) and self.shop_field != "pk" and isinstance(related, (list, tuple)) \
                and self.shop_field not in related:
            return [*related, self.shop_field]  # the shop column costs no query per row
        return related

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return (["shop"] + filters) if is_operator(request) and self.shop_field == "shop" else filters

    def save_model(self, request, obj, form, change):
        if not is_operator(request) and self.shop_field == "shop":
            obj.shop = request_shop(request)
        super().save_model(request, obj, form, change)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        shop = request_shop(request)
        if isinstance(db_field, PhoneNumberField) and shop is not None:
            kwargs.setdefault("region", shop.country)  # national numbers read in the shop's country
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        related = db_field.related_model
        if field is not None and not is_operator(request) and any(f.name == "shop" for f in related._meta.fields):
            field.queryset = scope(field.queryset, request)
        return field


class ShopScopedInline(admin.TabularInline):
    """Inline rows of a tenant-owned parent: merchants may do what the parent admin lets them."""

    merchant_actions = frozenset({"view", "add", "change", "delete"})
    _may = ShopScopedAdmin._may

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view") or self._may(request, "change")

    def has_add_permission(self, request, obj=None):
        return self._may(request, "add")

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete")
