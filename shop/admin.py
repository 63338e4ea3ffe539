"""The merchant's store in the admin. Order status changes go through the service.

The store knows nothing of SMS: campaigns/admin.py registers the Order and Customer admins
again, as subclasses of these with the send pages and the order's texts."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _, ngettext

from . import services
from .admin_customer_import import CustomerExportMixin  # also registers the customer imports
from .admin_accounts import mobile_verified_label  # also registers the storefront accounts' admins
from .forms import OrderAdminForm, ProductAdminForm
from .money import format_money
from .models import (
    BackInStockSubscription,
    Cart,
    CartItem,
    ConsentSource,
    Coupon,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Product,
    Shop,
    StaffMembership,
    Ticket,
)
from .phones import phone_search_q
from .tenancy import ShopScopedAdmin, ShopScopedInline, is_operator, request_shop


def _unbroken(text: str):
    # Amounts use plain spaces (fit for an SMS); a narrow column must not break "58,90 zł" in two.
    return format_html('<span style="white-space:nowrap">{}</span>', text)


@admin.register(Shop)
class ShopAdmin(ShopScopedAdmin):
    shop_field = "pk"
    merchant_actions = frozenset({"view", "change"})
    list_display = ["name", "slug", "country", "currency", "time_zone", "language"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if is_operator(request) else queryset.filter(pk=getattr(request_shop(request), "pk", None))

    def get_readonly_fields(self, request, obj=None):
        return [] if is_operator(request) else ["slug"]

    def get_prepopulated_fields(self, request, obj=None):
        # A read-only slug is not in the form, and the admin fails (500) looking for it.
        return self.prepopulated_fields if is_operator(request) else {}

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
        else:  # the operator creates tenants through the service, so each gets its SMS settings
            created = services.shop_create(**{f: form.cleaned_data[f] for f in
                                              ("name", "slug", "country", "currency", "time_zone", "language")})
            obj.pk = created.pk


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    """Only the operator assigns staff users to shops (Django's own permissions apply)."""

    list_display = ["user", "shop"]
    list_filter = ["shop"]
    autocomplete_fields = ["user"]


@admin.register(Customer)
class CustomerAdmin(CustomerExportMixin, ShopScopedAdmin):
    phrases = {"add": _("Add customer"), "change": _("Change customer"), "view": _("View customer")}
    list_display = ["__str__", "phone", mobile_verified_label, "email", "marketing_consent", "registered_at"]
    list_filter = ["marketing_consent"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    date_hierarchy = "registered_at"
    readonly_fields = [mobile_verified_label, "mobile_verified_at", "email_verified_at", "marketing_consent_at",
                       "marketing_consent_source", "marketing_consent_ip", "marketing_consent_text"]

    def get_search_results(self, request, queryset, search_term):
        # A number in any format ("+48 538 506 896", "0048538506896", "538506896") finds its
        # customer; word by word, Django's search would match the parts anywhere in any number.
        shop = request_shop(request)
        by_phone = phone_search_q(search_term, region=shop.country if shop else None)
        if by_phone is None:
            return super().get_search_results(request, queryset, search_term)
        found = queryset.filter(by_phone)
        if any(character.isspace() for character in search_term.strip()):
            return found, False
        # One word of digits ("2024") may also be part of an email or a name.
        words, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return found | words, may_have_duplicates

    def save_model(self, request, obj, form, change):
        if "marketing_consent" in form.changed_data:
            services.customer_consent_stamp(customer=obj, source=ConsentSource.ADMIN)
        super().save_model(request, obj, form, change)


@admin.register(Product)
class ProductAdmin(ShopScopedAdmin):
    form = ProductAdminForm
    list_display = ["name", "sku", "price_display", "stock_status", "stock_quantity"]
    list_filter = ["stock_status"]
    search_fields = ["name", "sku"]
    list_select_related = ["shop"]  # the price is written in the shop's currency

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj):
        return _unbroken(format_money(obj.price, obj.shop.currency))

    def save_model(self, request, obj, form, change):
        new_status, new_quantity = obj.stock_status, obj.stock_quantity
        through_service = change and {"stock_status", "stock_quantity"} & set(form.changed_data)
        if through_service:
            # Save the other edits, then the stock through the service: a product back in stock
            # texts those waiting for it in this same transaction.
            obj.stock_status, obj.stock_quantity = form.initial["stock_status"], form.initial["stock_quantity"]
        super().save_model(request, obj, form, change)
        if through_service:
            services.product_stock_set(product=obj, stock_status=new_status, stock_quantity=new_quantity)


@admin.register(BackInStockSubscription)
class BackInStockSubscriptionAdmin(ShopScopedAdmin):
    """Who asked to be texted when a product is back: made on the storefront, texted by the
    system; the merchant reads, cancels or deletes them."""

    merchant_actions = frozenset({"view", "delete"})
    list_display = ["phone", "customer", "product_id_display", "product_name", "status", "created_at"]
    list_display_links = ["phone"]
    list_filter = ["status"]
    search_fields = ["phone", "product__name", "product__sku", "=product__id", "customer__last_name"]
    list_select_related = ["customer", "product"]
    date_hierarchy = "created_at"
    actions = ["cancel_waiting"]
    readonly_fields = ["product", "customer", "phone", "status", "created_at", "notified_at"]
    fields = readonly_fields

    @admin.display(description=_("product ID"), ordering="product_id")
    def product_id_display(self, obj):
        return obj.product_id

    @admin.display(description=_("product"), ordering="product__name")
    def product_name(self, obj):
        return obj.product.name

    def has_add_permission(self, request, *args):
        return False  # visitors sign up on the storefront

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Cancel selected waiting notifications"), permissions=["delete"])
    def cancel_waiting(self, request, queryset):
        count = services.back_in_stock_subscriptions_cancel(subscriptions=queryset)
        self.message_user(request, ngettext("%d notification cancelled.", "%d notifications cancelled.", count)
                          % count, messages.SUCCESS)


class OrderItemInline(ShopScopedInline):
    """What was bought, as the store recorded it: shown, not edited (the store writes orders)."""

    model = OrderItem
    merchant_actions = frozenset({"view"})
    extra = 0
    fields = readonly_fields = ["product", "name", "quantity", "unit_price_display"]

    @admin.display(description=_("unit price"))
    def unit_price_display(self, obj):
        return _unbroken(format_money(obj.unit_price, obj.order.currency))

    def has_view_permission(self, request, obj=None):
        return obj is not None and super().has_view_permission(request, obj)  # a new order has no lines yet

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ShopScopedAdmin):
    form = OrderAdminForm
    list_display = ["number", "customer", "phone", "status", "total_display", "placed_at"]
    list_filter = ["status"]
    search_fields = ["number", "phone", "email", "customer__last_name", "tracking_code"]
    date_hierarchy = "placed_at"
    readonly_fields = ["status_changed_at", "discount_display"]
    autocomplete_fields = ["customer"]
    inlines = [OrderItemInline]
    actions = ["mark_shipped"]
    fieldsets = [
        (None, {"fields": ["shop", "number", "customer", "phone", "email", "status", "status_changed_at"]}),
        (_("Amounts"), {"fields": ["subtotal", "shipping_cost", "discount_display", "total", "currency"]}),
        (_("Delivery"), {"fields": ["shipping_method", "tracking_code", "delivery_name", "delivery_street",
                                    "delivery_city", "delivery_postcode", "delivery_country", "placed_at"]}),
    ]

    @admin.display(description=_("discount"))
    def discount_display(self, obj):
        # Set by the discount code the order used (shop.services.order_create), never typed.
        if not obj.discount:
            return "-"
        code = getattr(obj, "coupon", None)
        amount = format_money(obj.discount, obj.currency)
        return _unbroken(f"{amount} ({code.code})" if code is not None else amount)

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj):
        return _unbroken(format_money(obj.total, obj.currency))

    def save_model(self, request, obj, form, change):
        new_status, new_code = obj.status, obj.tracking_code
        through_service = change and {"status", "tracking_code"} & set(form.changed_data)
        if through_service:
            # Save the other edits, then change the status and the tracking code through the
            # service, so that the store's events go out in this same transaction.
            obj.status, obj.tracking_code = form.initial["status"], form.initial["tracking_code"]
        super().save_model(request, obj, form, change)
        if through_service:
            services.order_change_status(order=obj, status=new_status, tracking_code=new_code)

    @admin.action(description=_("Mark selected orders as shipped"), permissions=["change"])
    def mark_shipped(self, request, queryset):
        with transaction.atomic():
            count = 0
            for order in queryset.exclude(status=OrderStatus.SHIPPED):
                services.order_change_status(order=order, status=OrderStatus.SHIPPED)
                count += 1
        self.message_user(
            request, ngettext("%d order marked as shipped.", "%d orders marked as shipped.", count) % count,
            messages.SUCCESS,
        )


class CartItemInline(ShopScopedInline):
    model = CartItem
    extra = 0
    autocomplete_fields = ["product"]


@admin.register(Cart)
class CartAdmin(ShopScopedAdmin):
    list_display = ["__str__", "customer", "phone", "last_activity_at", "converted"]
    search_fields = ["phone", "email", "customer__last_name"]
    autocomplete_fields = ["customer", "converted_order"]
    inlines = [CartItemInline]

    @admin.display(boolean=True, description=_("converted"))
    def converted(self, obj):
        return obj.converted


@admin.register(Ticket)
class TicketAdmin(ShopScopedAdmin):
    """Opening and answering go through the services, so their events (the texts) go out."""

    list_display = ["subject", "customer", "status", "created_at", "answered_at"]
    list_filter = ["status"]
    search_fields = ["subject", "customer__last_name"]
    autocomplete_fields = ["customer", "order"]
    readonly_fields = ["status", "created_at", "answered_at"]

    def save_model(self, request, obj, form, change):
        if not is_operator(request):
            obj.shop = request_shop(request)
        answered = "answer" in form.changed_data and obj.answer.strip()
        if change:
            obj.answer = form.initial.get("answer", "") if answered else obj.answer
            obj.save()
        else:
            created = services.ticket_open(shop=obj.shop, subject=obj.subject, body=obj.body, customer=obj.customer,
                                           order=obj.order)
            obj.pk = created.pk
        if answered:
            services.ticket_answer(ticket=obj, answer=form.cleaned_data["answer"])


@admin.register(Coupon)
class CouponAdmin(ShopScopedAdmin):
    """The discount codes campaigns gave out, and which order used each: read only (a code is
    made with its text and redeemed by the order that uses it)."""

    merchant_actions = frozenset({"view"})
    list_display = ["code", "customer", "value_display", "valid_until", "redeemed_order", "redeemed_at"]
    list_filter = ["kind"]
    search_fields = ["code", "customer__last_name", "source_key"]
    list_select_related = ["customer", "redeemed_order", "shop"]
    fields = readonly_fields = ["code", "kind", "value", "valid_until", "customer", "source_key", "created_at",
                                "redeemed_order", "redeemed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("discount"))
    def value_display(self, obj):
        if obj.kind == "percent":
            return f"{obj.value}%"
        return _unbroken(format_money(obj.value, obj.shop.currency))
