"""What the merchant decides about automatic texts: when each order status is texted, the date
campaigns (birthdays, days after an order or a registration), the abandoned-cart reminder, the
rules for marketing texts (hours, frequency) and the opt-out list; and the two lists of texts a
merchant works with: the ones waiting to leave and the ones that did not reach anyone."""

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from shop.models import CouponKind, OrderStatus, Product, Shop, ShopOwned
from smsnotify.models import Direction, Kind, Message, Status
from templates_sms.models import SmsTemplate
from templates_sms.rendering import TOKEN_RE
from templates_sms.selectors import active_template
from templates_sms.tokens import (
    AFTER_FIRST_ORDER,
    AFTER_LAST_ORDER,
    AFTER_REGISTRATION,
    AFTER_SHIPPED,
    BIRTHDAY,
    CUSTOM,
    CUSTOM_ORDER,
    Audience,
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


class CapAction(models.TextChoices):
    POSTPONE = "postpone", _("Postpone it until the customer may get another")
    DROP = "drop", _("Do not send it")


class MarketingSettings(models.Model):
    """A shop's rules for texts that sell (campaigns, abandoned carts, back in stock, promotional
    bulk sends): the hours they may arrive and how often. Service texts (orders, tickets,
    codes) are not bound by them."""

    # The widest window: the strictest US state rule (8:00-20:00); TCPA allows 8-21.
    EARLIEST, LATEST = 8, 20

    shop = models.OneToOneField("shop.Shop", verbose_name=_("shop"), on_delete=models.CASCADE,
                                related_name="marketing_settings")
    send_from = models.PositiveSmallIntegerField(
        _("send from (hour)"), default=EARLIEST,
        help_text=_("Marketing texts arrive no earlier than this hour, in the recipient's local time (the "
                    "shop's where the number does not tell one time zone). 8 at the earliest."))
    send_until = models.PositiveSmallIntegerField(
        _("send until (hour)"), default=LATEST,
        help_text=_("…and leave before this hour; 20 at the latest. A text due outside these hours waits for "
                    "the next allowed moment; it is never dropped."))
    no_sundays = models.BooleanField(_("not on Sundays"), default=False,
                                     help_text=_("Hold marketing texts due on a Sunday until Monday (France forbids "
                                                 "Sunday marketing)."))
    cap_count = models.PositiveSmallIntegerField(
        _("at most (texts)"), default=1, validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("Marketing texts one customer may get…"))
    cap_hours = models.PositiveSmallIntegerField(
        _("per (hours)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 31)],
        help_text=_("…within this many hours."))
    cap_action = models.CharField(_("over the limit"), max_length=10, choices=CapAction.choices,
                                  default=CapAction.POSTPONE)
    help_reply = models.CharField(
        _("reply to HELP"), max_length=300, blank=True,
        help_text=_("What a customer who texts HELP gets back. Empty: your shop's name, and how to stop and "
                    "restart texts."))

    class Meta:
        verbose_name = _("marketing settings")
        verbose_name_plural = _("marketing settings")

    def __str__(self):
        return gettext("Marketing settings of %(shop)s") % {"shop": self.shop}

    def clean(self):
        errors = {}
        if not self.EARLIEST <= self.send_from <= 23:
            errors["send_from"] = _("Marketing texts may not arrive before %(hour)s:00.") % {"hour": self.EARLIEST}
        if self.send_until > self.LATEST:
            errors["send_until"] = _("Marketing texts may not arrive after %(hour)s:00.") % {"hour": self.LATEST}
        elif self.send_until <= self.send_from:
            errors["send_until"] = _("End the hours after they begin.")
        if errors:
            raise ValidationError(errors)


class OptOut(ShopOwned):
    """A number that asked this shop to stop texting it (STOP): it gets nothing more, of any
    kind, until it texts START. Kept per shop (a provider's own list is per sender)."""

    class Source(models.TextChoices):
        KEYWORD = "keyword", _("Replied with a stop word")
        PROVIDER = "provider", _("Reported by the provider")
        ADMIN = "admin", _("Added by the merchant")

    phone = models.CharField(_("phone"), max_length=20, help_text=_("E.164"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.KEYWORD)
    keyword = models.CharField(_("keyword"), max_length=30, blank=True)
    created_at = models.DateTimeField(_("opted out at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        constraints = [models.UniqueConstraint(fields=["shop", "phone"], name="optout_one_per_number",
                                               violation_error_message=_("This number has already opted out."))]

    def __str__(self):
        return self.phone
# --- the inbox ------------------------------------------------------------------------------------


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Conversation(ShopOwned):
    """The texts between the shop and one number, as the merchant's inbox shows them.

    The thread itself is not stored here: it is every Message of the shop to or from ``phone``
    (automatic texts included); this row keeps what the list needs (unread, latest activity,
    open or closed) and is updated when a text comes in and when the merchant replies."""

    phone = models.CharField(_("phone"), max_length=20, help_text=_("E.164"))
    customer = models.ForeignKey("shop.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    unread = models.PositiveIntegerField(_("unread"), default=0)
    status = models.CharField(_("status"), max_length=6, choices=ConversationStatus.choices,
                              default=ConversationStatus.OPEN)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    last_inbound_at = models.DateTimeField(_("last received"), null=True, blank=True)
    last_text = models.CharField(_("last text"), max_length=160, blank=True)
    # The automatic answer outside opening hours goes at most once per AUTO_REPLY_EVERY.
    auto_replied_at = models.DateTimeField(_("auto-replied at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        verbose_name = _("conversation")
        verbose_name_plural = _("inbox")
        constraints = [models.UniqueConstraint(fields=["shop", "phone"], name="conversation_one_per_number")]
        indexes = [models.Index(fields=["shop", "-last_message_at"], name="conversation_recent_idx")]

    def __str__(self):
        return str(self.customer) if self.customer_id else self.phone


WEEKDAYS = [(0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")), (4, _("Friday")),
            (5, _("Saturday")), (6, _("Sunday"))]


class InboxSettings(models.Model):
    """A shop's inbox rules: the automatic answer to texts that come in outside opening hours."""

    shop = models.OneToOneField("shop.Shop", verbose_name=_("shop"), on_delete=models.CASCADE,
                                related_name="inbox_settings")
    auto_reply_active = models.BooleanField(
        _("answer outside opening hours"), default=False,
        help_text=_("A text that comes in outside the hours below gets this answer (at most once in 12 hours per "
                    "customer; never to STOP, START or HELP). It is an SMS like any other: it costs credits."))
    auto_reply_text = models.CharField(
        _("automatic answer"), max_length=320, blank=True,
        help_text=_("For example: Thank you for your message! We are closed now and will answer tomorrow from 9:00."))
    open_from = models.TimeField(_("open from"), default=dt.time(9, 0))
    open_until = models.TimeField(_("open until"), default=dt.time(17, 0))
    open_days = models.CharField(_("open on"), max_length=20, default="0,1,2,3,4",
                                 help_text=_("The days you answer texts, in your shop's time zone."))

    class Meta:
        verbose_name = _("inbox settings")
        verbose_name_plural = _("inbox settings")

    def __str__(self):
        return gettext("Inbox settings of %(shop)s") % {"shop": self.shop}

    @property
    def days(self) -> set[int]:
        return {int(day) for day in self.open_days.split(",") if day.strip().isdigit()}

    def is_open(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` (aware) falls in the opening hours, in the shop's time zone."""
        local = moment.astimezone(self.shop.zone)
        return local.weekday() in self.days and self.open_from <= local.time() < self.open_until

    def clean(self):
        errors = {}
        if self.open_until <= self.open_from:
            errors["open_until"] = _("End the hours after they begin.")
        if self.auto_reply_active and not self.auto_reply_text.strip():
            errors["auto_reply_text"] = _("Write the answer, or switch it off.")
        if errors:
            raise ValidationError(errors)


# --- the merchant's two lists of texts -----------------------------------------------------------
# Proxies of smsnotify's Message, so each list is an admin page of its own (with the admin's
# search, filters and "select all N") and the messages themselves stay one table.

# Not handed to the gateway yet, so still cancellable (outbox.message_cancel takes these two).
WAITING = (Status.SCHEDULED, Status.QUEUED)
# The merchant's own cancel: they know why it did not leave, so it is no error.
CANCELLED_BY_HAND = "cancelled"
# Did not reach the recipient: refused or lost by the provider, given up, of unknown fate (the
# merchant decides whether to send it again), stopped by a rule (opt-out, consent, SMS switched off,
# an order that moved on), or cancelled by anything but the merchant's own hand.
NOT_DELIVERED = (Status.FAILED, Status.UNDELIVERED, Status.UNKNOWN, Status.SUPPRESSED, Status.CANCELLED)


class ScheduledMessageManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(direction=Direction.OUTBOUND, status__in=WAITING)


class FailedMessageManager(models.Manager):
    def get_queryset(self):
        return (super().get_queryset().filter(direction=Direction.OUTBOUND, status__in=NOT_DELIVERED)
                .exclude(status=Status.CANCELLED, error_code=CANCELLED_BY_HAND))


class ScheduledMessage(Message):
    """A text waiting to leave: scheduled for later, or due and handed to a worker."""

    objects = ScheduledMessageManager()

    class Meta:
        proxy = True
        ordering = ["send_at", "pk"]  # what leaves first, first
        verbose_name = _("scheduled message")
        verbose_name_plural = _("scheduled messages")


class FailedMessage(Message):
    """A text that did not reach its recipient, with the reason: the error log."""

    objects = FailedMessageManager()

    class Meta:
        proxy = True
        ordering = ["-updated_at", "-pk"]  # the latest failure first
        verbose_name = _("sending error")
        verbose_name_plural = _("sending errors")
class Trigger(models.TextChoices):
    """The date a campaign counts from; each has its template event "date:<trigger>"."""

    AFTER_SHIPPED = AFTER_SHIPPED, _("After an order was shipped")
    AFTER_FIRST_ORDER = AFTER_FIRST_ORDER, _("After the first order")
    AFTER_LAST_ORDER = AFTER_LAST_ORDER, _("After the last order (no order since)")
    AFTER_REGISTRATION = AFTER_REGISTRATION, _("After registration")
    BIRTHDAY = BIRTHDAY, _("Birthday")


# The triggers whose date is an order's: only their texts can ask for a rating of that order.
ORDER_TRIGGERS = frozenset({Trigger.AFTER_SHIPPED, Trigger.AFTER_FIRST_ORDER, Trigger.AFTER_LAST_ORDER})

# A number 1 and a number 5 in the text ("Reply 1-5", "od 1 do 5", "de 1 a 5"): the text tells
# the customer the scale, in whatever words and language the merchant wrote it.
_SCALE_ONE = re.compile(r"(?<!\d)1(?!\d)")
_SCALE_FIVE = re.compile(r"(?<!\d)5(?!\d)")


def asks_for_rating(body: str) -> bool:
    """Whether a survey text names the scale of the answer (the numbers 1 and 5)."""
    return bool(_SCALE_ONE.search(body) and _SCALE_FIVE.search(body))


class DateCampaign(ShopOwned):
    """A text sent to each customer who agreed to marketing texts, ``delay_days`` after a date
    of theirs (an order shipped, their first or last order, their registration, their birthday),
    at ``send_hour`` in the shop's time zone; optionally with a discount code made for each.

    The periodic scan (date_campaigns.py) texts those whose date falls due after the campaign
    was switched on, each once (the dedupe key names the campaign and the date's occasion).

    With ``ask_rating`` (dates of an order only) the text is a satisfaction survey: a reply of
    1 to 5 is recorded as the customer's rating of the order (campaigns/satisfaction.py).
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
    ask_rating = models.BooleanField(
        _("ask for a rating (reply 1-5)"), default=False,
        help_text=_("The text asks the customer to rate their order with a number from 1 to 5; an answer within "
                    "7 days is recorded as their rating of the order. Only for dates of an order."))
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
        if self.ask_rating and self.trigger not in ORDER_TRIGGERS:
            errors["ask_rating"] = _("A rating is of an order: ask for one after an order was shipped, or after "
                                     "the first or last order.")
        if not errors and self.shop_id:
            template = self._checked_template()
            if template is not None:
                for field, message in [*self._code_errors(template), *self._rating_errors(template)]:
                    errors.setdefault(field, []).append(message)
        if errors:
            raise ValidationError(errors)

    def text_template(self) -> SmsTemplate | None:
        """The template this campaign sends: its own, else the event's active one; None: nothing goes out."""
        if self.template_id:
            return self.template
        return active_template(shop=self.shop, event=self.event, audience=Audience.CUSTOMER)

    def _checked_template(self) -> SmsTemplate | None:
        """The text the checks below read: the campaign's own, else its event's standard one."""
        if self.template_id:
            return self.template
        return SmsTemplate.objects.filter(shop_id=self.shop_id, event=self.event, is_standard=True).first()

    def _code_errors(self, template: SmsTemplate) -> list[tuple[str, str]]:
        """A code in the text needs a discount, and a discount needs its code in the text."""
        shows_code = "coupon_code" in {match.group("brace") or match.group("bracket")
                                       for match in TOKEN_RE.finditer(template.body)}
        if shows_code and not self.discount_kind:
            return [("discount_kind", _("The text shows a discount code ({coupon_code}): choose a discount, or "
                                        "pick a text without the code."))]
        if self.discount_kind and not shows_code:
            return [("template", _("The text does not show the discount code: pick a text with {coupon_code}, "
                                   "or add it to this one under Templates."))]
        return []

    def _rating_errors(self, template: SmsTemplate) -> list[tuple[str, str]]:
        """A survey's text must tell the customer how to answer, or the answers would not be numbers."""
        if not self.ask_rating or asks_for_rating(template.body):
            return []
        return [("template", _("The text does not ask for a rating: pick a text that asks for a reply from 1 to 5, "
                               "or write one under Templates, e.g. \"{shop_name}: how was your order {order_id}? "
                               "Reply with a number from 1 (poor) to 5 (excellent).\""))]


# --- satisfaction surveys ---------------------------------------------------------------------------


class SatisfactionSurvey(ShopOwned):
    """A date campaign's text that asked for a rating of ``order``, written by the scan with the
    text itself: whether a text asked is settled when it is written, so switching the option
    later changes the texts to come, not how replies to the ones sent are read."""

    message = models.OneToOneField(Message, verbose_name=_("text"), on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(DateCampaign, verbose_name=_("date campaign"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey("shop.Order", verbose_name=_("order"), on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("satisfaction survey text")
        verbose_name_plural = _("satisfaction survey texts")

    def __str__(self):
        return gettext("Survey text #%(id)s") % {"id": self.message_id}


SCORES = [(score, str(score)) for score in range(1, 6)]


class SatisfactionRating(ShopOwned):
    """A customer's answer, 1 to 5, to a satisfaction survey text: their rating of the order.

    One per survey text (a database constraint): a later answer within the window replaces
    the score (``message`` is then the latest answer, ``previous_score`` the score it replaced,
    ``answered_at`` its time); ``created_at`` stays the moment of the first answer."""

    order = models.ForeignKey("shop.Order", verbose_name=_("order"), on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("shop.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    campaign = models.ForeignKey(DateCampaign, verbose_name=_("date campaign"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    survey_message = models.ForeignKey(Message, verbose_name=_("survey text"), on_delete=models.CASCADE,
                                       related_name="+", db_index=False)  # the unique constraint indexes it
    message = models.ForeignKey(Message, verbose_name=_("answer"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    score = models.PositiveSmallIntegerField(_("rating"), choices=SCORES,
                                             validators=[MinValueValidator(1), MaxValueValidator(5)])
    previous_score = models.PositiveSmallIntegerField(_("previous rating"), choices=SCORES, null=True, blank=True)
    created_at = models.DateTimeField(_("rated at"), default=timezone.now)
    answered_at = models.DateTimeField(_("last answer at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        constraints = [
            models.UniqueConstraint(fields=["survey_message"], name="rating_one_per_survey_text"),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"),
        ]
        indexes = [models.Index(fields=["shop", "-created_at"], name="rating_shop_recent_idx")]

    def __str__(self):
        return gettext("%(score)s/5 for %(order)s") % {"score": self.score, "order": self.order}

    @property
    def changed(self) -> bool:
        return self.previous_score is not None


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


# --- bulk sends -----------------------------------------------------------------------------------


class BulkSend(ShopOwned):
    """One text sent to many customers at once (ticked on the customer or order list).

    Confirming freezes who gets it (``BulkRecipient`` rows) and holds its credits; a Celery task
    then writes its messages in chunks (``campaigns.bulk.bulk_fan_out``), each with the batch
    reference ``bulk:<id>`` (``Message.batch_ref``), by which its progress is counted and its
    messages are paid from the hold. Finished or cancelled, what the hold did not pay is released.
    """

    class Purpose(models.TextChoices):
        PROMOTIONAL = "promotional", _("Promotional (consent, opt-outs, quiet hours and the frequency cap apply)")
        SERVICE = "service", _("Service (only opt-outs apply)")

    class Source(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        ORDERS = "orders", _("Orders")

    class State(models.TextChoices):
        FANNING_OUT = "fanning_out", _("Writing the messages")
        SENDING = "sending", _("Sending")
        FINISHED = "finished", _("Finished")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE_STATES = (State.FANNING_OUT, State.SENDING)

    purpose = models.CharField(_("kind of text"), max_length=12, choices=Purpose.choices, default=Purpose.PROMOTIONAL)
    source = models.CharField(_("selected from"), max_length=10, choices=Source.choices, default=Source.CUSTOMERS)
    body = models.TextField(_("text"))
    send_at = models.DateTimeField(_("send at"), null=True, blank=True,
                                   help_text=_("Empty: at once."))
    status = models.CharField(_("status"), max_length=12, choices=State.choices, default=State.FANNING_OUT)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    excluded = models.JSONField(_("left out"), default=dict, blank=True,
                                help_text=_("How many selected were left out, by reason."))
    credits_held = models.PositiveBigIntegerField(_("credits held"), default=0)
    # The fan-out's place: the last recipient whose message is written (a re-run goes on from there).
    cursor = models.PositiveBigIntegerField(default=0, editable=False)
    send_key = models.UUIDField(_("form key"), editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("bulk send")
        verbose_name_plural = _("bulk sends")
        constraints = [models.UniqueConstraint(fields=["shop", "send_key"], name="bulksend_once_per_form")]

    def __str__(self):
        return gettext("Bulk send #%(id)s") % {"id": self.pk}

    @property
    def batch_ref(self) -> str:
        return f"bulk:{self.pk}"

    @property
    def kind(self) -> str:
        return Kind.BULK if self.purpose == self.Purpose.PROMOTIONAL else Kind.BULK_SERVICE

    @property
    def event(self) -> str:
        return CUSTOM_ORDER if self.source == self.Source.ORDERS else CUSTOM


class BulkRecipient(models.Model):
    """One number a bulk send texts, frozen when it was confirmed (each number once)."""

    bulk = models.ForeignKey(BulkSend, verbose_name=_("bulk send"), on_delete=models.CASCADE,
                             related_name="recipient_rows", db_index=False)
    customer = models.ForeignKey("shop.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+", db_index=False)
    order = models.ForeignKey("shop.Order", verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+", db_index=False)
    phone = models.CharField(_("phone"), max_length=20, help_text=_("E.164"))
    # Rendered once, when the send is confirmed (its cost is counted on it): the fan-out writes it
    # as it is. Empty when the text has no tokens: the bulk send's own text, for everyone.
    text = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("bulk send recipient")
        verbose_name_plural = _("bulk send recipients")
        constraints = [models.UniqueConstraint(fields=["bulk", "phone"], name="bulkrecipient_one_per_number")]
        indexes = [models.Index(fields=["bulk", "id"], name="bulkrecipient_fanout_idx")]


# --- revenue ------------------------------------------------------------------------------------


class AttributionSource(models.TextChoices):
    COUPON = "coupon", _("Used the text's discount code")
    CLICK = "click", _("Clicked the text's link")


class OrderAttribution(ShopOwned):
    """The text an order is credited to, decided when the order is placed (campaigns/attribution.py):
    the text whose discount code it used, else the last text the customer clicked within the 7
    days before it. ``campaign`` names what sent that text ("bulk:12", "date:3",
    "status:shipped", "abandoned_cart"…), so revenue per campaign is one GROUP BY and survives
    the text's deletion."""

    order = models.OneToOneField("shop.Order", verbose_name=_("order"), on_delete=models.CASCADE,
                                 related_name="attribution")
    message = models.ForeignKey(Message, verbose_name=_("text"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    campaign = models.CharField(_("campaign"), max_length=64)
    source = models.CharField(_("because the customer"), max_length=8, choices=AttributionSource.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("order attribution")
        # The admin's list of them is the campaign revenue report (campaigns/admin_revenue.py).
        verbose_name_plural = _("campaign revenue")
        indexes = [models.Index(fields=["shop", "campaign"], name="orderattribution_campaign_idx")]

    def __str__(self):
        return gettext("Order %(order)s") % {"order": self.order_id}


# --- statistics -----------------------------------------------------------------------------------


class CountedDay(ShopOwned):
    """A day of the shop's calendar whose texts are counted in DailyTextCount (campaigns/statistics.py):
    it ended a few days ago and none of its texts is still waiting to leave, so its figures are fixed."""

    day = models.DateField(_("day"))
    time_zone = models.CharField(_("time zone"), max_length=64)  # the shop's when counted: its days' edges
    counted_at = models.DateTimeField(_("counted at"), default=timezone.now)

    class Meta:
        verbose_name = _("counted day")
        verbose_name_plural = _("counted days")
        constraints = [models.UniqueConstraint(fields=["shop", "day"], name="counted_day_once_per_shop")]


class DailyTextCount(ShopOwned):
    """How many of a shop's texts written on a counted day ended in one state, and their credits: the
    statistics read these instead of every message of the day."""

    day = models.DateField(_("day"))
    direction = models.CharField(_("direction"), max_length=3)
    kind = models.CharField(_("kind"), max_length=32)
    status = models.CharField(_("status"), max_length=12)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error_text = models.CharField(_("error text"), max_length=500, blank=True)  # one of the code's texts
    count = models.PositiveIntegerField(_("texts"))
    credits = models.PositiveBigIntegerField(_("credits"))

    class Meta:
        verbose_name = _("daily text count")
        verbose_name_plural = _("daily text counts")
        indexes = [models.Index(fields=["shop", "day"], name="dailytextcount_shop_day_idx")]
