"""SMS templates per shop: a standard one per (event, audience), and any number of custom ones."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import ShopOwned

from .tokens import CUSTOM, EVENT_CHOICES, Audience


class SmsTemplate(ShopOwned):
    event = models.CharField(_("event"), max_length=40, choices=EVENT_CHOICES, default=CUSTOM)
    audience = models.CharField(_("recipient"), max_length=10, choices=Audience.choices, default=Audience.CUSTOMER)
    name = models.CharField(_("name"), max_length=120)
    body = models.TextField(_("text"))
    active = models.BooleanField(_("active"), default=False)
    is_standard = models.BooleanField(
        _("standard"), default=False, editable=False,
        help_text=_("Standard templates come with every shop; custom ones are added by the merchant."),
    )
    # Standard templates keep the workflow order of defaults.STANDARD_TEMPLATES; custom ones follow.
    position = models.PositiveSmallIntegerField(_("position"), default=1000, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        ordering = ["position", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "event", "audience"], condition=Q(is_standard=True),
                name="smstemplate_one_standard_per_event_audience",
            ),
        ]
        indexes = [models.Index(fields=["shop", "event", "audience", "active"], name="smstemplate_lookup_idx")]

    def __str__(self):
        return self.name

    def clean(self):
        # Validation lives in rendering.validate, shared with the services; the shop may be
        # unset on the operator's add form until the form has chosen one.
        from .rendering import validate

        validate(self.body, event=self.event, audience=self.audience,
                 shop=self.shop if self.shop_id else None)
