"""What the merchant decides about automatic texts: when each order status is texted, the
date campaigns (birthdays, days after an order or a registration) and the abandoned-cart reminder."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from shop.models import CouponKind, OrderStatus, Product, Shop, ShopOwned
from templates_sms.models import SmsTemplate
from templates_sms.rendering import TOKEN_RE
from templates_sms.selectors import active_template
from templates_sms.tokens import (
    Audience,
    AFTER_FIRST_ORDER,
    AFTER_LAST_ORDER,
    AFTER_REGISTRATION,
    AFTER_SHIPPED,
    BIRTHDAY,
    date_event,
    order_status_event,
)


class OrderStatusRule(ShopOwned):
    """How an order reaching ``status`` is texted: at once or after a delay, or not at all.

    Without a rule a status is texted at once with its template, while that template is on.
    A rule for a product applies to orders containing that product and wins over the
    shop-wide rule (with several, the oldest rule wins). A delayed text leaves only while the
    order is still in the status it announces: when the status changes first, it is cancelled.
    """

    status = models.CharField(_("order status"), max_length=20, choices=OrderStatus.choices)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        help_text=_("Leave empty for every order; with a product, the rule applies to orders containing it."),
    )
    active = models.BooleanField(_("send a text"), default=True,
                                 help_text=_("Off: orders this rule applies to get no text for this status."))
    delay_days = models.PositiveSmallIntegerField(_("delay (days)"), default=0, validators=[MaxValueValidator(365)])
    delay_hours = models.PositiveSmallIntegerField(_("delay (hours)"), default=0, validators=[MaxValueValidator(23)])
    delay_minutes = models.PositiveSmallIntegerField(_("delay (minutes)"), default=0,
                                                     validators=[MaxValueValidator(59)])
    template = models.ForeignKey(
        SmsTemplate, verbose_name=_("text"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("A template for this status; empty: the status's own template, while it is on."),
    )

    class Meta:
        ordering = ["status", "product", "pk"]
        verbose_name = _("order status rule")
        verbose_name_plural = _("order status rules")
        constraints = [
            models.UniqueConstraint(fields=["shop", "status"], condition=Q(product__isnull=True),
                                    name="orderstatusrule_one_per_status",
                                    violation_error_message=_("This status already has a rule for every order.")),
            models.UniqueConstraint(fields=["shop", "status", "product"], condition=Q(product__isnull=False),
                                    name="orderstatusrule_one_per_status_product",
                                    violation_error_message=_("This status already has a rule for this product.")),
        ]

    def __str__(self):
        status = OrderStatus(self.status).label if self.status in OrderStatus.values else self.status
        if self.product_id:
            return gettext("%(status)s, orders with %(product)s") % {"status": status, "product": self.product}
        return str(status)

    @property
    def delay(self) -> dt.timedelta:
        return dt.timedelta(days=self.delay_days, hours=self.delay_hours, minutes=self.delay_minutes)

    @property
    def delay_text(self) -> str:
        if not self.delay:
            return gettext("at once")
        parts = [(self.delay_days, ngettext("%d day", "%d days", self.delay_days)),
                 (self.delay_hours, ngettext("%d hour", "%d hours", self.delay_hours)),
                 (self.delay_minutes, ngettext("%d minute", "%d minutes", self.delay_minutes))]
        return gettext("after %(delay)s") % {"delay": " ".join(text % value for value, text in parts if value)}

    def clean(self):
        errors = {}
        if self.product_id and self.shop_id and self.product.shop_id != self.shop_id:
            errors["product"] = _("This product belongs to another shop.")
        if self.template_id:
            if self.shop_id and self.template.shop_id != self.shop_id:
                errors["template"] = _("This template belongs to another shop.")
            elif self.template.event != order_status_event(self.status):
                errors["template"] = _("Choose a template written for this status: its tokens are the ones a "
                                       "status text has.")
        if errors:
            raise ValidationError(errors)


class Trigger(models.TextChoices):
    """The date a campaign counts from; each has its template event "date:<trigger>"."""

    AFTER_SHIPPED = AFTER_SHIPPED, _("After an order was shipped")
    AFTER_FIRST_ORDER = AFTER_FIRST_ORDER, _("After the first order")
    AFTER_LAST_ORDER = AFTER_LAST_ORDER, _("After the last order (no order since)")
    AFTER_REGISTRATION = AFTER_REGISTRATION, _("After registration")
    BIRTHDAY = BIRTHDAY, _("Birthday")


class DateCampaign(ShopOwned):
    """A text sent to each customer who agreed to marketing texts, ``delay_days`` after a date
    of theirs (an order shipped, their first or last order, their registration, their birthday),
    at ``send_hour`` in the shop's time zone; optionally with a discount code made for each.

    The periodic scan (date_campaigns.py) texts those whose date falls due after the campaign
    was switched on, each once (the dedupe key names the campaign and the date's occasion).
    """

    name = models.CharField(_("name"), max_length=120)
    trigger = models.CharField(_("when"), max_length=24, choices=Trigger.choices)
    delay_days = models.PositiveSmallIntegerField(
        _("delay (days)"), default=0, validators=[MaxValueValidator(730)],
        help_text=_("Days after the date; 0: on the day itself (a birthday, say)."))
    send_hour = models.PositiveSmallIntegerField(
        _("hour"), default=10, validators=[MaxValueValidator(23)],
        help_text=_("Hour of the day the text leaves, in your shop's time zone (0-23)."))
    active = models.BooleanField(_("active"), default=True, help_text=_("Off: nobody is texted by this campaign."))
    template = models.ForeignKey(
        SmsTemplate, verbose_name=_("text"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("A template written for this kind of date; empty: the standard one for it, while it is on "
                    "(marketing templates start off)."),
    )
    discount_kind = models.CharField(_("discount"), max_length=8, choices=CouponKind.choices, blank=True,
                                     help_text=_("Empty: no discount code."))
    discount_value = models.PositiveIntegerField(
        _("discount value"), null=True, blank=True,
        help_text=_("Percent (1-100), or an amount in minor units (cents, grosze)."))
    discount_valid_days = models.PositiveSmallIntegerField(
        _("code valid for (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(365)])
    # The scan's window starts here: what fell due before (or while the campaign was off) is
    # never texted late, so a new campaign does not greet every past birthday.
    scanned_until = models.DateTimeField(_("scanned until"), default=timezone.now, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["trigger", "delay_days", "pk"]
        verbose_name = _("date campaign")
        verbose_name_plural = _("date campaigns")

    def __str__(self):
        return self.name

    @property
    def event(self) -> str:
        return date_event(self.trigger)

    @property
    def has_discount(self) -> bool:
        return bool(self.discount_kind)

    def clean(self):
        errors = {}
        if self.template_id:
            if self.shop_id and self.template.shop_id != self.shop_id:
                errors["template"] = _("This template belongs to another shop.")
            elif self.template.event != self.event:
                errors["template"] = _("Choose a template written for this kind of date: its tokens are the ones "
                                       "this campaign has.")
        if self.discount_kind:
            if not self.discount_value:
                errors["discount_value"] = _("Enter the discount.")
            elif self.discount_kind == CouponKind.PERCENT and self.discount_value > 100:
                errors["discount_value"] = _("A percentage is at most 100.")
        elif self.discount_value:
            errors["discount_kind"] = _("Choose whether the discount is a percentage or an amount.")
        if not errors and self.shop_id:
            errors.update(self._code_errors())
        if errors:
            raise ValidationError(errors)

    def text_template(self) -> SmsTemplate | None:
        """The template this campaign sends: its own, else the event's active one; None: nothing goes out."""
        if self.template_id:
            return self.template
        return active_template(shop=self.shop, event=self.event, audience=Audience.CUSTOMER)

    def _code_errors(self) -> dict:
        """A code in the text needs a discount, and a discount needs its code in the text."""
        template = self.template if self.template_id else (
            SmsTemplate.objects.filter(shop_id=self.shop_id, event=self.event, is_standard=True).first())
        if template is None:
            return {}
        shows_code = "coupon_code" in {match.group("brace") or match.group("bracket")
                                       for match in TOKEN_RE.finditer(template.body)}
        if shows_code and not self.discount_kind:
            return {"discount_kind": _("The text shows a discount code ({coupon_code}): choose a discount, or "
                                       "pick a text without the code.")}
        if self.discount_kind and not shows_code:
            return {"template": _("The text does not show the discount code: pick a text with {coupon_code}, "
                                  "or add it to this one under Templates.")}
        return {}


class AbandonedCartSettings(models.Model):
    """The abandoned-cart reminder of a shop: one text per cart left idle, while the shop's
    "Abandoned cart" template is on (cart_reminders.py, and the policy in cart_policy.py)."""

    shop = models.OneToOneField(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+")
    active = models.BooleanField(_("send reminders"), default=False)
    idle_hours = models.PositiveSmallIntegerField(
        _("after (hours)"), default=4, validators=[MinValueValidator(1), MaxValueValidator(47)],
        help_text=_("Hours a cart stays untouched before its reminder. A reminder never leaves more than 48 "
                    "hours after the cart was last touched (the carriers' rule for cart recovery)."))

    class Meta:
        verbose_name = _("abandoned-cart reminder")
        verbose_name_plural = _("abandoned-cart reminders")

    def __str__(self):
        return gettext("Abandoned-cart reminder of %(shop)s") % {"shop": self.shop}
