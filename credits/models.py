"""Credits: a per-shop account, an append-only ledger, pricing, packs and purchases.

The balance is a cache of the ledger's sum, kept exact by one rule: it changes only through
a conditional UPDATE (``balance = balance - n WHERE balance >= n``) in the same transaction
as the ledger row that explains it (see ``credits.ledger``). ``manage.py audit_credits``
checks the rule held.
"""

from __future__ import annotations

import uuid

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from shop.models import Shop
from shop.money import format_money, format_number

# --- platform pricing (the operator's) ---------------------------------------------------


def default_price_per_thousand() -> dict:
    return dict(getattr(settings, "CREDITS_PRICE_PER_THOUSAND", {}))


class PricingSettings(models.Model):
    """The platform's prices: one row (pk=1), edited by the operator in the admin.

    Created on first use with the defaults from Django settings, so a fresh install needs
    no data entry.
    """

    credits_per_segment_domestic = models.PositiveIntegerField(
        _("credits per segment, domestic"), validators=[MinValueValidator(1)],
        help_text=_("One SMS part to a number with the shop's own country calling code."),
    )
    credits_per_segment_international = models.PositiveIntegerField(
        _("credits per segment, international"), validators=[MinValueValidator(1)],
        help_text=_("One SMS part to any other calling code without its own rate below."),
    )
    minimum_purchase_credits = models.PositiveIntegerField(
        _("minimum purchase (credits)"), help_text=_("The smallest custom amount a merchant may buy.")
    )
    price_per_thousand = models.JSONField(
        _("price of 1,000 credits bought as a custom amount"), default=default_price_per_thousand, blank=True,
        help_text=_('Minor units per currency, e.g. {"USD": 1000, "PLN": 4000}. A currency not listed '
                    "cannot buy custom amounts (packs only)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("pricing settings")
        verbose_name_plural = _("pricing settings")

    def __str__(self):
        return str(_("Platform pricing"))

    def save(self, *args, **kwargs):
        self.pk = 1  # a singleton
        super().save(*args, **kwargs)
        _forget_cached_rates()

    @classmethod
    def defaults(cls) -> dict:
        return {
            "credits_per_segment_domestic": settings.SMS_CREDITS_PER_SEGMENT_DOMESTIC,
            "credits_per_segment_international": settings.SMS_CREDITS_PER_SEGMENT_INTERNATIONAL,
            "minimum_purchase_credits": settings.CREDITS_MINIMUM_PURCHASE,
        }

    @classmethod
    def load(cls) -> PricingSettings:
        """The row (a migration writes it); its defaults, unsaved, if it was deleted. Only reads."""
        return cls.objects.filter(pk=1).first() or cls(pk=1, **cls.defaults())

    def clean(self):
        _validate_price_table(self.price_per_thousand, "price_per_thousand")


class DestinationRate(models.Model):
    """A per-destination price: SMS to this country calling code cost this much per segment,
    whatever the shop's country (it wins over the domestic and international defaults)."""

    calling_code = models.PositiveSmallIntegerField(
        _("country calling code"), unique=True,
        help_text=_("Without +, e.g. 44 (United Kingdom, Guernsey, Jersey, Isle of Man) or 1 (US, Canada, Caribbean)."),
    )
    credits_per_segment = models.PositiveIntegerField(_("credits per segment"), validators=[MinValueValidator(1)])
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["calling_code"]
        verbose_name = _("destination rate")
        verbose_name_plural = _("destination rates")

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        _forget_cached_rates()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        _forget_cached_rates()
        return result

    def __str__(self):
        return f"+{self.calling_code}: {self.credits_per_segment}"

    @property
    def regions(self) -> str:
        return ", ".join(phonenumbers.region_codes_for_country_code(self.calling_code))

    def clean(self):
        if not phonenumbers.region_codes_for_country_code(self.calling_code or 0):
            raise ValidationError({"calling_code": _("No country uses this calling code.")})


def _forget_cached_rates() -> None:
    """This process prices the next SMS with the new rates at once (others within seconds)."""
    from .pricing import forget_rates

    forget_rates()


def _validate_price_table(table, field: str) -> None:
    if not isinstance(table, dict) or not all(
        isinstance(code, str) and len(code) == 3 and code.isalpha() and code.isupper()
        and isinstance(price, int) and not isinstance(price, bool) and price > 0
        for code, price in table.items()
    ):
        raise ValidationError({field: _('Use {"USD": 1000, …}: ISO currency codes and whole positive minor units.')})


class CreditPack(models.Model):
    """A pack merchants buy: a number of credits with a price per currency (minor units)."""

    name = models.CharField(_("name"), max_length=60)
    credits = models.PositiveIntegerField(_("credits"), validators=[MinValueValidator(1)])
    prices = models.JSONField(
        _("prices"), default=dict,
        help_text=_('Minor units per currency, e.g. {"USD": 1000, "PLN": 4000}. '
                    "A shop sees the packs priced in its currency."),
    )
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "credits"]
        verbose_name = _("credit pack")
        verbose_name_plural = _("credit packs")
        constraints = [models.CheckConstraint(condition=Q(credits__gt=0), name="credit_pack_credits_positive")]

    def __str__(self):
        return self.name

    def clean(self):
        _validate_price_table(self.prices, "prices")

    def price_in(self, currency: str) -> int | None:
        return self.prices.get(currency)

    @property
    def label(self) -> str:
        """ "1,000 credits", or "Starter: 1,000 credits" when the operator named it otherwise; in the
        active language ("1 000 kredytów"). A name that only repeats the English count ("1,000 credits",
        as the seeded packs are named) is left out."""
        amount = ngettext("%(count)s credit", "%(count)s credits", self.credits) % {
            "count": format_number(self.credits)}
        if self.name in ("", amount, f"{self.credits:,} credits", f"{self.credits} credits"):
            return amount
        return gettext("%(name)s: %(amount)s") % {"name": self.name, "amount": amount}


# --- the account and its ledger ----------------------------------------------------------


class CreditAccount(models.Model):
    """A shop's credits. ``balance`` always equals the sum of its ledger."""

    shop = models.OneToOneField(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="credit_account")
    balance = models.BigIntegerField(_("balance"), default=0, editable=False)
    low_balance_threshold = models.PositiveIntegerField(
        _("low-balance alert below"), default=50,
        help_text=_("You are told once (by SMS, or email when SMS is off) when your balance falls below this."),
    )
    # Disarmed when an alert is sent; re-armed when the balance is back at or above the threshold.
    low_balance_armed = models.BooleanField(_("low balance armed"), default=True, editable=False)
    low_balance_alerts = models.PositiveIntegerField(_("low balance alerts"), default=0, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("credit account")
        verbose_name_plural = _("credit accounts")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="credit_balance_not_negative")]

    def __str__(self):
        return gettext("Credits of %(shop)s") % {"shop": self.shop}


class EntryKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    BONUS = "bonus", _("Bonus")
    CHARGE = "charge", _("SMS charge")
    REFUND = "refund", _("Refund")
    ADJUSTMENT = "adjustment", _("Adjustment")
    HOLD = "hold", _("Credits held")
    RELEASE = "release", _("Held credits released")


class CreditHold(models.Model):
    """Credits set aside for a batch of messages (a bulk send), so it cannot run dry halfway.

    Taking a hold debits the balance (a HOLD row in the ledger, so balance == sum(ledger) still
    holds); the batch's messages are then paid from it (their CHARGE rows carry the hold and an
    amount of 0: the credits left the balance when the hold was taken); a refund goes back to the
    balance; closing the hold gives back what was not used in one RELEASE row. ``reference`` is
    the batch's ``Message.batch_ref``: how a charge finds the hold without knowing who wrote it.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(_("reference"), max_length=40)
    amount = models.PositiveBigIntegerField(_("credits held"))
    used = models.PositiveBigIntegerField(_("credits used"), default=0)
    released = models.PositiveBigIntegerField(_("credits released"), default=0)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("credit hold")
        verbose_name_plural = _("credit holds")
        constraints = [
            models.UniqueConstraint(fields=["shop", "reference"], name="credithold_one_per_reference"),
            models.CheckConstraint(condition=Q(used__lte=models.F("amount")), name="credithold_used_within_amount"),
        ]

    def __str__(self):
        return f"{self.reference}: {self.amount}"

    @property
    def remaining(self) -> int:
        return self.amount - self.used - self.released


class LedgerEntry(models.Model):
    """One change of a balance and what caused it. Rows are never updated or deleted.

    A message is charged at most once per charge cycle and refunded at most once per
    cycle (unique message + kind + cycle). A refund closes the cycle; only a message sent
    again after a refund (a transient retry, "Send again") is charged in a new cycle.
    """

    # Foreign keys without their own index where a composite index below starts with them:
    # every SMS appends a row, and each index is one more write.
    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(CreditAccount, verbose_name=_("account"), on_delete=models.CASCADE,
                                related_name="entries", db_index=False)
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    amount = models.BigIntegerField(_("amount"), help_text=_("Credits added (positive) or taken (negative)."))
    balance_after = models.BigIntegerField(_("balance after"))
    message = models.ForeignKey("smsnotify.Message", verbose_name=_("message"), null=True, blank=True,
                                on_delete=models.RESTRICT,
                                related_name="ledger_entries", db_index=False)
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=0)
    hold = models.ForeignKey(CreditHold, verbose_name=_("hold"), null=True, blank=True, on_delete=models.RESTRICT,
                             related_name="entries", db_index=False)
    purchase = models.ForeignKey("Purchase", verbose_name=_("purchase"), null=True, blank=True,
                                 on_delete=models.RESTRICT,
                                 related_name="ledger_entries", db_index=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL,
                                   related_name="+", db_index=False)  # partial index below: charges have none
    actor = models.CharField(_("actor"), max_length=150, blank=True,
                             help_text=_("Who did it, kept if the user is deleted."))
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("credit history entry")
        verbose_name_plural = _("credit history")
        constraints = [
            models.UniqueConstraint(fields=["message", "kind", "cycle"], condition=Q(message__isnull=False),
                                    name="ledger_once_per_message_kind_cycle"),
            models.UniqueConstraint(fields=["purchase", "kind"], condition=Q(purchase__isnull=False),
                                    name="ledger_once_per_purchase_kind"),
            models.UniqueConstraint(fields=["hold", "kind"], condition=Q(kind__in=["hold", "release"]),
                                    name="ledger_once_per_hold_kind"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"),
            models.CheckConstraint(
                condition=(
                    Q(kind="charge", amount__lt=0, message__isnull=False)
                    | Q(kind="charge", amount=0, message__isnull=False, hold__isnull=False)  # paid from a hold
                    | Q(kind="hold", amount__lt=0, hold__isnull=False)
                    | Q(kind="release", amount__gt=0, hold__isnull=False)
                    | Q(kind="refund", amount__gt=0, message__isnull=False)
                    | Q(kind="purchase", amount__gt=0, purchase__isnull=False)
                    | Q(kind="bonus", amount__gt=0)
                    | (Q(kind="adjustment") & ~Q(amount=0) & ~Q(reason=""))
                ),
                name="ledger_kind_sign_and_cause",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "id"], name="ledger_account_idx"),
            models.Index(fields=["shop", "-created_at"], name="ledger_shop_recent_idx"),
            models.Index(fields=["created_by"], condition=Q(created_by__isnull=False), name="ledger_created_by_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Ledger entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only.")


# --- purchases ----------------------------------------------------------------------------


class PurchaseStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    FAILED = "failed", _("Payment failed")


class ConfirmedVia(models.TextChoices):
    """How a purchase came to be paid."""

    INSTANT = "instant", _("Paid at checkout")
    WEBHOOK = "webhook", _("Payment provider's notice")
    OPERATOR = "operator", _("Confirmed by the operator")


class Purchase(models.Model):
    """A merchant's order of credits. Credited exactly once, when it becomes ``paid``."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="credit_purchases")
    pack = models.ForeignKey(CreditPack, verbose_name=_("pack"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    description = models.CharField(_("description"), max_length=120)
    credits = models.PositiveIntegerField(_("credits"))
    amount = models.PositiveIntegerField(_("amount"), help_text=_("Price in minor units."))
    currency = models.CharField(_("currency"), max_length=3)
    provider = models.CharField(_("provider"), max_length=40)
    method = models.CharField(_("method"), max_length=40)
    status = models.CharField(_("status"), max_length=10, choices=PurchaseStatus.choices,
                              default=PurchaseStatus.PENDING)
    provider_reference = models.CharField(_("provider reference"), max_length=100, blank=True)
    instructions = models.TextField(_("instructions"), blank=True, help_text=_("How to pay, for methods paid later."))
    # The confirm form's token: a double click or a resubmitted form buys once.
    idempotency_key = models.UUIDField(_("idempotency key"), default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    confirmed_via = models.CharField(_("confirmed via"), max_length=20, choices=ConfirmedVia.choices, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("confirmed by"), null=True, blank=True,
                                     on_delete=models.SET_NULL,
                                     related_name="+")
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True,
                                     help_text=_("When it was cancelled, expired or failed."))
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("credit purchase")
        verbose_name_plural = _("credit purchases")
        constraints = [
            models.UniqueConstraint(fields=["shop", "idempotency_key"], name="purchase_idempotency_key_per_shop"),
            models.UniqueConstraint(fields=["provider", "provider_reference"], condition=~Q(provider_reference=""),
                                    name="purchase_provider_reference_unique"),
            models.CheckConstraint(condition=Q(credits__gt=0), name="purchase_credits_positive"),
        ]
        indexes = [
            models.Index(fields=["shop", "-created_at"], name="purchase_shop_recent_idx"),
            models.Index(fields=["status", "expires_at"], name="purchase_pending_idx"),
        ]

    def __str__(self):
        return self.number

    @property
    def number(self) -> str:
        return f"CR-{self.created_at:%Y}-{self.pk or 0:06d}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def method_label(self) -> str:
        from .payments import provider_of_method

        found = provider_of_method(self.method)
        return str(found[1].label) if found else self.method

