"""The merchant's store: the tenant (Shop) and the domain the SMS reacts to."""

import datetime as dt
import zoneinfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

COUNTRY_CHOICES = sorted(
    ((region, region) for region in phonenumbers.SUPPORTED_REGIONS), key=lambda pair: pair[0]
)
TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Shop(models.Model):
    """A merchant's store: the tenant every other row belongs to."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    country = models.CharField(
        _("country"), max_length=2, choices=COUNTRY_CHOICES, default="US",
        help_text=_("Default region for phone numbers typed without a +country code."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD",
                                help_text=_("ISO 4217 code, e.g. EUR, PLN."))
    time_zone = models.CharField(_("time zone"), max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self):
        return self.name

    @property
    def zone(self) -> dt.tzinfo:
        """Where the shop's clocks are; UTC if this system's tz database lacks the stored name."""
        try:
            return zoneinfo.ZoneInfo(self.time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return dt.timezone.utc

    def clean(self):
        self.currency = (self.currency or "").upper()
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise ValidationError({"currency": _("Use a three-letter ISO 4217 code, e.g. EUR.")})


class StaffMembership(models.Model):
    """Ties a staff user to the one shop they work for. Superusers need none."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                                related_name="membership")
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")

    def __str__(self):
        return f"{self.user} @ {self.shop}"


class ShopOwned(models.Model):
    """Abstract base: every tenant-owned row carries its shop."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class MarketingConsent(models.TextChoices):
    UNKNOWN = "unknown", _("Not asked")
    GRANTED = "granted", _("Granted")
    REVOKED = "revoked", _("Revoked")


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout", _("Checkout")
    SIGNUP = "signup", _("Sign-up form")
    ADMIN = "admin", _("Admin")
    SMS = "sms", _("SMS keyword")
    IMPORT = "import", _("Import")
    STOREFRONT = "storefront", _("Storefront form")


class Customer(ShopOwned):
    first_name = models.CharField(_("first name"), max_length=80, blank=True)
    last_name = models.CharField(_("last name"), max_length=80, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = PhoneNumberField(_("phone"), blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    marketing_consent = models.CharField(
        _("marketing consent"), max_length=10, choices=MarketingConsent.choices, default=MarketingConsent.UNKNOWN
    )
    marketing_consent_at = models.DateTimeField(_("marketing consent at"), null=True, blank=True)
    marketing_consent_source = models.CharField(_("marketing consent source"), max_length=10,
                                                choices=ConsentSource.choices, blank=True)
    # What a storefront form showed when the box was ticked, and from where: the proof of consent.
    marketing_consent_ip = models.GenericIPAddressField(_("marketing consent IP address"), null=True, blank=True)
    marketing_consent_text = models.TextField(_("marketing consent wording"), blank=True)
    # The storefront account (shop/accounts.py). A customer without a password has no account: the
    # store knows them from an order or a form. Not editable: only the account's own pages change them.
    password = models.CharField(_("password"), max_length=128, blank=True, editable=False)
    # The number and the address as they were when their owner proved them with a code. Kept beside
    # ``phone`` and ``email`` rather than as a flag: whoever edits those (the merchant, an import)
    # leaves them unverified without having to know about accounts.
    verified_mobile = models.CharField(_("verified mobile number"), max_length=20, blank=True, editable=False)
    mobile_verified_at = models.DateTimeField(_("mobile verified at"), null=True, blank=True, editable=False)
    verified_email = models.EmailField(_("verified email"), blank=True, editable=False)
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["shop", "phone"]),
            models.Index(fields=["shop", "registered_at"], name="customer_shop_registered_idx"),
        ]
        constraints = [
            # One account per verified number and per verified address in a shop: they are log-ins.
            models.UniqueConstraint(fields=["shop", "verified_mobile"], condition=~models.Q(verified_mobile=""),
                                    name="customer_verified_mobile_unique_per_shop"),
            models.UniqueConstraint(fields=["shop", "verified_email"], condition=~models.Q(verified_email=""),
                                    name="customer_verified_email_unique_per_shop"),
        ]

    def __str__(self):
        return self.full_name or self.email or str(self.phone) or gettext("Customer %(id)s") % {"id": self.pk}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def has_account(self) -> bool:
        """Signed up on the storefront (a password was set)."""
        return bool(self.password)

    @property
    def mobile_verified(self) -> bool:
        """The customer's current number is the one they proved with a code."""
        return bool(self.verified_mobile) and str(self.phone or "") == self.verified_mobile

    @property
    def email_verified(self) -> bool:
        return bool(self.verified_email) and (self.email or "").strip().lower() == self.verified_email


class StockStatus(models.TextChoices):
    IN_STOCK = "in_stock", _("In stock")
    OUT_OF_STOCK = "out_of_stock", _("Out of stock")
    BACKORDER = "backorder", _("Available on back-order")


class Product(ShopOwned):
    name = models.CharField(_("name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    price = models.PositiveIntegerField(_("price"), help_text=_("In minor units (cents, grosze)."))
    stock_status = models.CharField(_("stock status"), max_length=16, choices=StockStatus.choices,
                                    default=StockStatus.IN_STOCK)
    stock_quantity = models.IntegerField(_("stock quantity"), default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return self.name

    @property
    def available(self) -> bool:
        """Whether a customer can order it now. The stock status decides (a back-order can be
        ordered); the quantity is the merchant's information, not a switch."""
        return self.stock_status != StockStatus.OUT_OF_STOCK


class SubscriptionStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class BackInStockSubscription(ShopOwned):
    """A visitor's request to be told when ``product`` can be ordered again: one text, then *sent*."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE,
                                related_name="back_in_stock_subscriptions")
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="back_in_stock_subscriptions")
    phone = PhoneNumberField(_("phone"), help_text=_("E.164"))
    status = models.CharField(_("status"), max_length=10, choices=SubscriptionStatus.choices,
                              default=SubscriptionStatus.WAITING)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("back-in-stock notification")
        verbose_name_plural = _("back-in-stock notifications")
        constraints = [
            # Signing up twice while waiting is the same request; after the text, a new one may wait again.
            models.UniqueConstraint(fields=["product", "phone"], condition=models.Q(status="waiting"),
                                    name="back_in_stock_one_waiting_per_number"),
        ]
        indexes = [models.Index(fields=["product", "status"]), models.Index(fields=["shop", "status", "created_at"])]

    def __str__(self):
        return gettext("%(phone)s, waiting for %(product)s") % {"phone": self.phone, "product": self.product}


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    ACCEPTED = "accepted", _("Accepted")
    AWAITING_DELIVERY = "awaiting_delivery", _("Awaiting delivery")
    BEING_PICKED = "being_picked", _("Being picked")
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    READY_TO_SHIP = "ready_to_ship", _("Ready to ship")
    SHIPPED = "shipped", _("Shipped")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")
    RETURNED = "returned", _("Returned")
    COMPLAINT = "complaint", _("Complaint")
    TEST = "test", _("Test")


class Order(ShopOwned):
    number = models.CharField(_("number"), max_length=32)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="orders")
    phone = PhoneNumberField(_("phone"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    subtotal = models.PositiveIntegerField(_("subtotal"), default=0, help_text=_("Goods, in minor units."))
    shipping_cost = models.PositiveIntegerField(_("shipping cost"), default=0, help_text=_("In minor units."))
    total = models.PositiveIntegerField(_("total"), default=0, help_text=_("In minor units."))
    currency = models.CharField(_("currency"), max_length=3)
    shipping_method = models.CharField(_("shipping method"), max_length=100, blank=True)
    delivery_name = models.CharField(_("delivery name"), max_length=160, blank=True)
    delivery_street = models.CharField(_("delivery street"), max_length=200, blank=True)
    delivery_city = models.CharField(_("delivery city"), max_length=100, blank=True)
    delivery_postcode = models.CharField(_("delivery postcode"), max_length=20, blank=True)
    delivery_country = models.CharField(_("delivery country"), max_length=2, blank=True)
    tracking_code = models.CharField(_("tracking code"), max_length=100, blank=True)
    discount = models.PositiveIntegerField(_("discount"), default=0,
                                           help_text=_("Taken off by a discount code, in minor units."))
    placed_at = models.DateTimeField(_("placed at"), default=timezone.now)
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)

    class Meta:
        ordering = ["-placed_at", "-pk"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [models.UniqueConstraint(fields=["shop", "number"], name="order_number_unique_per_shop")]
        indexes = [
            models.Index(fields=["shop", "status"]),
            # the date campaigns' scans: orders placed in a day, a customer's earlier or later
            # orders, orders shipped in a day (campaigns/date_campaigns.py)
            models.Index(fields=["shop", "placed_at"], name="order_shop_placed_idx"),
            models.Index(fields=["customer", "placed_at"], name="order_customer_placed_idx"),
            models.Index(fields=["shop", "status", "status_changed_at"], name="order_shop_status_changed_idx"),
        ]

    def __str__(self):
        return f"#{self.number}"

    def clean(self):
        if self.customer_id and self.shop_id and self.customer.shop_id != self.shop_id:
            raise ValidationError({"customer": _("This customer belongs to another shop.")})


class OrderItem(models.Model):
    """A line of an order: what was bought (a product rule for a status applies to orders with it)."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    name = models.CharField(_("name"), max_length=200, blank=True, help_text=_("The product's name when it was ordered."))
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.PositiveIntegerField(_("unit price"), default=0, help_text=_("In minor units."))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order item")
        verbose_name_plural = _("order items")

    def __str__(self):
        return f"{self.quantity} × {self.name}"


class Cart(ShopOwned):
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="carts")
    phone = PhoneNumberField(_("phone"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    last_activity_at = models.DateTimeField(_("last activity at"), default=timezone.now)
    converted_order = models.OneToOneField(Order, verbose_name=_("converted order"), null=True, blank=True,
                                           on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-last_activity_at"]
        indexes = [models.Index(fields=["shop", "last_activity_at"], name="cart_shop_activity_idx")]
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self):
        return gettext("Cart %(id)s") % {"id": self.pk}

    @property
    def converted(self) -> bool:
        return self.converted_order_id is not None


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, verbose_name=_("cart"), on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.PositiveIntegerField(_("unit price"), help_text=_("In minor units, at the time it was added."))

    class Meta:
        verbose_name = _("cart item")
        verbose_name_plural = _("cart items")

    def __str__(self):
        return f"{self.quantity} × {self.product}"


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


class Ticket(ShopOwned):
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="tickets")
    order = models.ForeignKey(Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="tickets")
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    answer = models.TextField(_("answer"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=TicketStatus.choices, default=TicketStatus.OPEN)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")

    def __str__(self):
        return self.subject


class CouponKind(models.TextChoices):
    PERCENT = "percent", _("Percent off the goods")
    AMOUNT = "amount", _("Amount off the goods")


class Coupon(ShopOwned):
    """A discount code made for one customer (a campaign's text carries it); the store honours
    it once: the order that uses it records the redemption (shop.services.order_create)."""

    code = models.CharField(_("code"), max_length=32)
    kind = models.CharField(_("kind"), max_length=8, choices=CouponKind.choices)
    value = models.PositiveIntegerField(_("value"), help_text=_("Percent (1-100), or an amount in minor units."))
    valid_until = models.DateTimeField(_("valid until"))
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="coupons")
    # What made it, e.g. the dedupe key of the campaign's text ("date:3:birthday:customer:9:2027"):
    # the statistics read a campaign's revenue from it.
    source_key = models.CharField(_("source"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    redeemed_order = models.OneToOneField(Order, verbose_name=_("redeemed by order"), null=True, blank=True,
                                          on_delete=models.SET_NULL, related_name="coupon")
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        constraints = [models.UniqueConstraint(fields=["shop", "code"], name="coupon_code_unique_per_shop")]
        indexes = [models.Index(fields=["shop", "source_key"], name="coupon_shop_source_idx")]

    def __str__(self):
        return self.code

    def discount_on(self, subtotal: int) -> int:
        """What the code takes off ``subtotal`` (goods, minor units): never more than the goods."""
        if self.kind == CouponKind.PERCENT:
            return min(subtotal, subtotal * min(self.value, 100) // 100)
        return min(subtotal, self.value)


class CustomerImportStatus(models.TextChoices):
    PREVIEW = "preview", _("Waiting for confirmation")
    ERRORS = "errors", _("Has errors")
    IMPORTED = "imported", _("Imported")


class CustomerImport(ShopOwned):
    """A customer file a merchant uploaded: checked and shown before anything is written, then
    imported whole on confirmation. The file waits here between the two steps (any web process
    may answer the confirmation) and is dropped once imported; the row stays as the record of
    who imported how many customers, and when."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    file_name = models.CharField(_("file"), max_length=255)
    encoding = models.CharField(_("encoding"), max_length=20)
    content = models.TextField(_("content"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CustomerImportStatus.choices,
                              default=CustomerImportStatus.PREVIEW)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    rows_with_errors = models.PositiveIntegerField(_("rows with errors"), default=0)
    imported = models.PositiveIntegerField(_("customers imported"), default=0)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    # What the check found, as codes and values (shop/customer_import.py): rendered in the reader's
    # language when shown, never stored translated.
    report = models.JSONField(_("report"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")

    def __str__(self):
        return self.file_name


# --- storefront accounts: codes and their limits (shop/verification.py) ----------------------


class AccountSettings(models.Model):
    """A shop's rules for the codes its storefront sends (one row per shop, made with the shop)."""

    shop = models.OneToOneField(Shop, verbose_name=_("shop"), on_delete=models.CASCADE,
                                related_name="account_settings")
    code_countries = models.JSONField(
        _("countries codes may be texted to"), default=list, blank=True,
        help_text=_("Sign-up and password codes are texted only to numbers of these countries. None chosen: "
                    "only your shop's own country. Allowing a country you do not sell to invites fraud that "
                    "requests codes to expensive numbers."))
    codes_per_hour = models.PositiveIntegerField(
        _("code texts per hour"), default=60, validators=[MinValueValidator(1)],
        help_text=_("At most this many code texts leave in an hour; past it, code requests are refused and you "
                    "are alerted. A sudden flood of sign-ups is usually fraud that earns from the texts."))

    class Meta:
        verbose_name = _("storefront account settings")
        verbose_name_plural = _("storefront account settings")

    def __str__(self):
        return gettext("Storefront account settings of %(shop)s") % {"shop": self.shop}

    def allowed_countries(self) -> list[str]:
        return list(self.code_countries) or [self.shop.country]


class CodeChannel(models.TextChoices):
    SMS = "sms", _("Text message")
    EMAIL = "email", _("Email")


class CodePurpose(models.TextChoices):
    SIGNUP = "signup", _("Sign-up")
    CHANGE_NUMBER = "change_number", _("New mobile number")
    VERIFY_EMAIL = "verify_email", _("Email verification")
    RESET = "reset", _("Password reset")


class CodeState(models.TextChoices):
    ACTIVE = "active", _("Active")
    USED = "used", _("Used")
    VOIDED = "voided", _("Too many wrong tries")
    REPLACED = "replaced", _("Replaced by a newer code")


class VerificationCode(ShopOwned):
    """A one-time code sent to a number or an address. Only its keyed hash is stored: whoever
    reads the database cannot use a code that has not been entered yet."""

    channel = models.CharField(_("channel"), max_length=8, choices=CodeChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=16, choices=CodePurpose.choices)
    address = models.CharField(_("sent to"), max_length=254, help_text=_("E.164 number or email address"))
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    salt = models.CharField(max_length=32, editable=False)
    code_hash = models.CharField(max_length=64, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=CodeState.choices, default=CodeState.ACTIVE)
    attempts = models.PositiveSmallIntegerField(_("wrong tries"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # sha256 of the visitor's session key: the per-session limit counts by it; the key itself is a secret.
    session_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        indexes = [
            models.Index(fields=["shop", "address", "created_at"], name="code_shop_address_idx"),
            models.Index(fields=["shop", "created_at"], name="code_shop_created_idx"),
            models.Index(fields=["shop", "ip", "created_at"], name="code_shop_ip_idx"),
        ]

    def __str__(self):
        return gettext("Code to %(address)s") % {"address": self.address}


class RefusalReason(models.TextChoices):
    COUNTRY = "country", _("Country not allowed")
    TOO_SOON = "too_soon", _("New code asked for too soon")
    NUMBER_HOURLY = "number_hourly", _("Too many codes for this number in an hour")
    IP_HOURLY = "ip_hourly", _("Too many codes for this IP address in an hour")
    SESSION_HOURLY = "session_hourly", _("Too many codes for this visitor in an hour")
    RANGE = "range", _("Consecutive numbers of one range")
    SHOP_CEILING = "shop_ceiling", _("Hourly ceiling of code texts reached")
    NOT_TEXTABLE = "not_textable", _("Not a mobile number")
    UNAVAILABLE = "unavailable", _("Text messages unavailable (SMS off or no credits)")


class CodeRefusal(ShopOwned):
    """A code request the rules refused, with why: the merchant's view of abuse. Repeats of the
    same refusal (same reason, address and IP address within an hour) count on one row."""

    reason = models.CharField(_("reason"), max_length=16, choices=RefusalReason.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=CodeChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=16, choices=CodePurpose.choices)
    address = models.CharField(_("requested for"), max_length=254)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    times = models.PositiveIntegerField(_("times"), default=1)
    created_at = models.DateTimeField(_("first at"), default=timezone.now)
    last_at = models.DateTimeField(_("last at"), default=timezone.now)

    class Meta:
        ordering = ["-last_at", "-pk"]
        verbose_name = _("refused code request")
        verbose_name_plural = _("refused code requests")
        indexes = [models.Index(fields=["shop", "reason", "last_at"], name="coderefusal_shop_reason_idx")]

    def __str__(self):
        return f"{self.address}: {self.get_reason_display()}"
