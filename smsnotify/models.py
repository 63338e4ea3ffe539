"""The messaging core: every SMS the system will ever send is first a Message row."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from shop.models import Shop

from .senders import normalized_sender, validate_sender


class SmsSettings(models.Model):
    """A shop's SMS switch and identity. Nothing is sent while ``active`` is off."""

    shop = models.OneToOneField(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="sms_settings")
    active = models.BooleanField(_("SMS active"), default=False)
    sender = models.CharField(
        _("sender"), max_length=16, blank=True, validators=[validate_sender],
        help_text=_("Alphanumeric name (max 11 characters, e.g. MyShop) or a number in +country format."),
    )
    merchant_number = PhoneNumberField(
        _("merchant's number"), blank=True,
        help_text=_("Where alerts to you (new order, new ticket, low balance) are texted. Without a number they "
                    "are not texted (a low-balance alert is emailed instead)."),
    )
    # Applied once, in outbox.message_schedule, so every message (templated or typed by hand) is stored as sent.
    replace_special_characters = models.BooleanField(
        _("Replace special characters"), default=False,
        help_text=_("Replace letters such as ą, ę, ł, ç or ã with plain ones (a, e, l, c, a) before sending. "
                    "A single special character makes the whole message use another encoding, which cuts "
                    "each part from 160 to 70 characters, so the same text may cost two or three times more."),
    )
    # Applied in the outbox with the other "as sent" rules (outbox.sendable_text), so counts and prices agree.
    shorten_links = models.BooleanField(
        _("Shorten links and count clicks"), default=True,
        help_text=_("Every web address in a text is replaced by a short link of its own for each recipient, "
                    "which counts who clicked and which order followed. Short links also keep texts shorter. "
                    "Switch this off only if your customers must see your own address."),
    )
    max_segments = models.PositiveSmallIntegerField(
        _("maximum SMS parts per message"), default=3, validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("A template that could be longer than this (with long names or addresses) cannot be saved."),
    )

    class Meta:
        verbose_name = _("SMS settings")
        verbose_name_plural = _("SMS settings")

    def clean(self):
        # A number is one shop's: the replies texted to it are that shop's customers' (inbound.py).
        self.sender = normalized_sender(self.sender)
        if self.sender.startswith("+") and SmsSettings.objects.filter(sender=self.sender).exclude(pk=self.pk).exists():
            raise ValidationError({"sender": _("This number is another shop's sender.")})

    def __str__(self):
        return gettext("SMS settings of %(shop)s") % {"shop": self.shop}


class Direction(models.TextChoices):
    OUTBOUND = "out", _("Outbound")
    INBOUND = "in", _("Inbound")


class Kind(models.TextChoices):
    """What caused a message; grows with the features that send SMS."""

    ORDER_PLACED = "order_placed", _("Order confirmation")
    ORDER_STATUS = "order_status", _("Order status")
    TRACKING = "tracking", _("Tracking code")
    TICKET_ANSWERED = "ticket_answered", _("Ticket answered")
    MANUAL = "manual", _("Sent by hand")
    BULK = "bulk", _("Bulk send")
    BULK_SERVICE = "bulk_service", _("Bulk send (service)")
    MERCHANT_ALERT = "merchant_alert", _("Alert to the merchant")
    DATE_CAMPAIGN = "date_campaign", _("Date campaign")
    ABANDONED_CART = "abandoned_cart", _("Abandoned cart")
    BACK_IN_STOCK = "back_in_stock", _("Back in stock")
    KEYWORD_REPLY = "keyword_reply", _("Reply to a keyword")
    CONSENT_REQUEST = "consent_request", _("Request for marketing consent")
    REPLY = "reply", _("Reply")
    AUTO_REPLY = "auto_reply", _("Automatic reply")
    VERIFICATION_CODE = "verification_code", _("Verification code")
    GATEWAY_TEST = "gateway_test", _("Test text")
    INBOUND = "inbound", _("Received")


# Texts that sell: they need the recipient's marketing consent and keep to quiet hours and the
# frequency cap (campaigns' delivery policies). Every other kind is a service text: the customer
# asked for it (an order, a ticket, a code) and only an opt-out (STOP) stops it.
MARKETING_KINDS = frozenset({Kind.BULK, Kind.DATE_CAMPAIGN, Kind.ABANDONED_CART, Kind.BACK_IN_STOCK})
# One-time codes (storefront sign-up, a new number, a password reset): service texts that travel in
# a lane of their own, since a code is worth nothing after its ten minutes.
CODE_KINDS = frozenset({Kind.VERIFICATION_CODE})


class Lane(models.TextChoices):
    """The road a message travels: each lane has its own Celery queue and workers, so a 100,000-text
    promotion never delays an order's notice or a sign-up code."""

    CODES = "codes", _("Codes")
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")


# Highest priority first: dispatch fills the codes lane's room before service's, marketing's last.
LANES = (Lane.CODES, Lane.SERVICE, Lane.MARKETING)


def lane_of(kind: str) -> str:
    """The lane of a kind of message."""
    if kind in CODE_KINDS:
        return Lane.CODES
    return Lane.MARKETING if kind in MARKETING_KINDS else Lane.SERVICE


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown (check before resending)")
    CANCELLED = "cancelled", _("Cancelled")
    SUPPRESSED = "suppressed", _("Suppressed")


class Message(models.Model):
    # Indexes are what a 100,000-text bulk send pays for on every row it writes: the shop is the
    # first column of message_shop_recent_idx, and the optional links are indexed only where set.
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="messages",
                             db_index=False)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices, default=Direction.OUTBOUND)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    lane = models.CharField(_("lane"), max_length=10, choices=Lane.choices, default=Lane.SERVICE, editable=False)
    recipient = models.CharField(_("recipient"), max_length=20, help_text=_("E.164"))
    sender = models.CharField(_("sender"), max_length=16, blank=True)
    body = models.TextField(_("text"))
    encoding = models.CharField(_("encoding"), max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(_("segments"), default=1)
    credits_charged = models.PositiveIntegerField(_("credits charged"), default=0)

    customer = models.ForeignKey("shop.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    order = models.ForeignKey("shop.Order", verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="messages", db_index=False)
    cart = models.ForeignKey("shop.Cart", verbose_name=_("cart"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", db_index=False)
    product = models.ForeignKey("shop.Product", verbose_name=_("product"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+", db_index=False)
    # Makes every automatic send idempotent: "order:42:status:shipped" is texted once per shop.
    dedupe_key = models.CharField(_("deduplication key"), max_length=120, null=True, blank=True)
    # The batch a message was written in ("bulk:12"), named by its writer: a bulk send's progress
    # counts its messages by it, and credits finds the hold that pays for them by it. A string
    # (owner + id), not a foreign key: the message core cannot point at the layers above it.
    batch_ref = models.CharField(_("batch"), max_length=40, null=True, blank=True, editable=False)

    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    send_at = models.DateTimeField(_("send at"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Which delivery run holds the row while it is "sending": a batch claims with one
    # conditional UPDATE, then reads back exactly the rows it won by this token.
    claim = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    gateway = models.CharField(_("gateway"), max_length=40, blank=True)
    provider_id = models.CharField(_("provider ID"), max_length=64, blank=True)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error_text = models.CharField(_("error text"), max_length=500, blank=True)

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    sending_at = models.DateTimeField(_("sending at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    report_polled_at = models.DateTimeField(_("report polled at"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "dedupe_key"], condition=Q(dedupe_key__isnull=False), name="message_dedupe_key_per_shop"
            ),
        ]
        indexes = [
            # dispatch_due, lane by lane: WHERE status = 'scheduled' AND lane = … AND send_at <= now ORDER BY send_at
            models.Index(fields=["status", "lane", "send_at"], name="message_due_idx"),
            # the admin list: one shop's messages, newest first, often filtered by status
            models.Index(fields=["shop", "-created_at"], name="message_shop_recent_idx"),
            models.Index(fields=["shop", "status", "-created_at"], name="message_shop_status_idx"),
            # delivery reports find their message by the provider's id (only those that have one:
            # a text is written without, and a bulk send writes 100,000 at once)
            models.Index(fields=["gateway", "provider_id"], condition=~Q(provider_id=""),
                         name="message_provider_idx"),
            # the frequency cap: what one number was sent lately; an inbound text's shop by who texted it last
            models.Index(fields=["recipient", "-sent_at"], condition=Q(sent_at__isnull=False),
                         name="message_recipient_sent_idx"),
            models.Index(fields=["order"], condition=Q(order__isnull=False), name="message_order_idx"),
            models.Index(fields=["cart"], condition=Q(cart__isnull=False), name="message_cart_idx"),
            models.Index(fields=["product"], condition=Q(product__isnull=False), name="message_product_idx"),
            # a bulk send's progress: its messages by status (only batch messages are indexed)
            models.Index(fields=["batch_ref", "status"], condition=Q(batch_ref__isnull=False),
                         name="message_batch_idx"),
        ]

    def __str__(self):
        if self.direction == Direction.INBOUND:  # `recipient` is then the customer who wrote it
            return gettext("SMS %(id)s from %(recipient)s") % {"id": self.pk, "recipient": self.recipient}
        return gettext("SMS %(id)s to %(recipient)s") % {"id": self.pk, "recipient": self.recipient}

    @property
    def status_label(self) -> str:
        """The status as a merchant reads it. An incoming text is stored "delivered" (it reached the
        shop, so the statistics and delivery filters leave it alone), but it reads "Received"."""
        if self.direction == Direction.INBOUND and self.status == Status.DELIVERED:
            return str(RECEIVED)
        return self.get_status_display()


RECEIVED = _("Received")


class SenderRate(models.Model):
    """The operator's rate for one sender, where the provider's rule for its kind is not right
    (a Messaging Service's pool, a number with a raised limit)."""

    sender = models.CharField(_("sender"), max_length=64, unique=True,
                              help_text=_("As messages are sent from it: a number in +country format, a short code, "
                                          "an alphanumeric name or a Messaging Service SID."))
    segments_per_second = models.FloatField(_("SMS parts per second"),
                                            validators=[MinValueValidator(0.01), MaxValueValidator(10_000)])

    class Meta:
        ordering = ["sender"]
        verbose_name = _("sender rate")
        verbose_name_plural = _("sender rates")

    def __str__(self):
        return f"{self.sender}: {self.segments_per_second:g}/s"


class SenderBucket(models.Model):
    """Pacing's token bucket of one sender when there is no Redis (smsnotify/pacing.py)."""

    key = models.CharField(max_length=80, unique=True)
    tokens = models.FloatField()
    updated = models.FloatField()  # seconds since the epoch


class EventType(models.TextChoices):
    """What happened to a message; its parameters say the rest (see smsnotify/history.py)."""

    SCHEDULED = "scheduled", _("Scheduled")
    ATTEMPT = "attempt", _("Handed to the gateway")
    ACCEPTED = "accepted", _("Accepted by the provider")
    REFUSED = "refused", _("Refused by the provider")
    RETRY = "retry", _("Temporary failure")
    GAVE_UP = "gave_up", _("Gave up")
    AMBIGUOUS = "ambiguous", _("Outcome unknown")
    LEASE_EXPIRED = "lease_expired", _("Worker stopped")
    FOUND = "found", _("Found at the provider")
    NOT_FOUND = "not_found", _("Not found at the provider")
    REPORT = "report", _("Delivery report")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    SEND_AGAIN = "send_again", _("Sent again")
    HELD = "held", _("Held")
    STOPPED = "stopped", _("Stopped")
    REPEATED = "repeated", _("Cause repeated")
    RECEIVED = "received", _("Received")
    NOTE = "note", _("Note")


class MessageEvent(models.Model):
    """Append-only, typed history of a message, in the style of Saleor's order events: a type,
    its parameters and who acted (None for the system). It is put into words in the shop's
    language and time zone when shown (smsnotify/history.py), never stored as text."""

    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("type"), max_length=16, choices=EventType.choices, default=EventType.NOTE)
    status = models.CharField(_("status"), max_length=12,
                              choices=Status.choices)  # the message's status after the event
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+", db_index=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        # Most events are the system's (no user): only the others are indexed (a user's deletion).
        indexes = [models.Index(fields=["user"], condition=Q(user__isnull=False), name="messageevent_user_idx")]

    def __str__(self):  # the admin shows it above each history row: no time (that has a column, in the shop's zone)
        return str(self.get_type_display())


class ShortLink(models.Model):
    """A web address in one text to one recipient, replaced by a short link with a code of its
    own (smsnotify/links.py), so a click tells which text, customer and campaign it came from.
    The code is the link's only secret: random, never derived from an id."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    url = models.TextField(_("address"))
    # The message's shop: the admin lists and the statistics filter by it without a join.
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+", db_index=False)
    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="links")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("short link")
        verbose_name_plural = _("short links")
        # The campaign revenue's clicks of one shop (campaigns/revenue.py) start from the shop's
        # links or from the period's clicks, whichever the planner finds fewer (linkclick_clicked_idx).
        indexes = [models.Index(fields=["shop"], name="shortlink_shop_idx")]

    def __str__(self):
        return self.code


class LinkClick(models.Model):
    """One visitor's first click on a short link; a visitor's later clicks are not rows.
    A visitor is a keyed hash of their address and browser (smsnotify/redirect.py): no address is kept."""

    link = models.ForeignKey(ShortLink, verbose_name=_("short link"), on_delete=models.CASCADE,
                             related_name="clicks", db_index=False)
    visitor = models.CharField(_("visitor"), max_length=32)
    # The text's customer, copied when the click is recorded: the order attribution's lookup
    # ("this customer's last click before the order") reads one index.
    customer = models.ForeignKey("shop.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+", db_index=False)
    clicked_at = models.DateTimeField(_("clicked at"), default=timezone.now)

    class Meta:
        verbose_name = _("link click")
        verbose_name_plural = _("link clicks")
        constraints = [models.UniqueConstraint(fields=["link", "visitor"], name="linkclick_once_per_visitor")]
        indexes = [models.Index(fields=["customer", "-clicked_at"], condition=Q(customer__isnull=False),
                                name="linkclick_customer_idx"),
                   # a period's clicks: the campaign revenue's (with shortlink_shop_idx)
                   models.Index(fields=["clicked_at"], name="linkclick_clicked_idx")]

    def __str__(self):
        return gettext("Click %(id)s") % {"id": self.pk}
