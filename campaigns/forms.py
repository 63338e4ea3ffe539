from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from shop.models import CouponKind
from shop.money import to_major, to_minor

from .models import DateCampaign

# Twilio refuses bodies over 1,600 characters (21617); longer texts are never sent anyway.
MAX_BODY = 1600


class SmsTextForm(forms.Form):
    body = forms.CharField(
        label=_("Text"), max_length=MAX_BODY, widget=forms.Textarea(attrs={"rows": 5, "cols": 70, "class": "sms-body"}),
    )
    send_key = forms.CharField(widget=forms.HiddenInput)


class DateCampaignAdminForm(forms.ModelForm):
    """The discount is typed as people write it: a percentage ("15"), or an amount in the shop's
    currency ("10.00", "10,00" in Polish), stored in minor units (1000) — a merchant never
    multiplies by a hundred (shop/forms.py does the same for prices)."""

    discount_value = forms.DecimalField(
        label=capfirst(_("discount value")), required=False, min_value=0, localize=True,
        help_text=_("A percentage (1-100), or an amount in your shop's currency (e.g. 10.00)."))

    class Meta:
        model = DateCampaign
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign = self.instance
        if campaign.shop_id and campaign.discount_kind == CouponKind.AMOUNT and campaign.discount_value is not None:
            self.initial["discount_value"] = to_major(campaign.discount_value, campaign.shop.currency)

    def _currency(self, data: dict) -> str:
        shop = data.get("shop") or (self.instance.shop if self.instance.shop_id else None)
        return shop.currency if shop is not None else "USD"

    def clean(self):
        data = super().clean()
        value = data.get("discount_value")
        if value is None:
            return data
        if data.get("discount_kind") == CouponKind.AMOUNT:
            currency = self._currency(data)
            try:
                data["discount_value"] = to_minor(value, currency)
            except ValueError:
                self.add_error("discount_value", _("Too many decimals for %(currency)s.") % {"currency": currency})
        elif value != value.to_integral_value():
            self.add_error("discount_value", _("A percentage is a whole number."))
        else:
            data["discount_value"] = int(value)
        return data
