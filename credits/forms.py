"""Forms of the credits admin: buying credits and the operator's adjustments."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from shop.models import Shop
from shop.money import format_money

from . import payments, purchases
from .models import CreditPack
from .selectors import packs_for_shop

CUSTOM = "custom"


class BuyForm(forms.Form):
    """Three steps on one form: choose a pack (or an amount), a payment method, then confirm.

    Earlier steps' answers ride along as hidden fields, and every step validates them all
    again, so a forged hidden value is a form error, never a purchase.
    """

    STEPS = ("pack", "method", "confirm")

    option = forms.ChoiceField(label=_("Credits"), widget=forms.RadioSelect)
    custom_credits = forms.IntegerField(label=_("Custom amount (credits)"), required=False, min_value=1)
    method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect, required=False)
    token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, shop: Shop, step: str = "pack", **kwargs):
        super().__init__(*args, **kwargs)
        self.shop, self.step = shop, step
        self.packs = {str(pack.pk): pack for pack in packs_for_shop(shop)}
        choices = [(pk, f"{pack.label} — {format_money(pack.price_in(shop.currency), shop.currency)}")
                   for pk, pack in self.packs.items()]
        choices.append((CUSTOM, _("Another amount")))
        self.fields["option"].choices = choices
        self.methods = {m.code: m for m in payments.method_choices(shop.currency)}
        self.fields["method"].choices = [(code, f"{m.label} — {m.description}") for code, m in self.methods.items()]
        self.fields["custom_credits"].widget.attrs["max"] = settings.CREDITS_CUSTOM_MAX
        if step != "pack":
            self.fields["option"].widget = forms.HiddenInput()
            self.fields["custom_credits"].widget = forms.HiddenInput()
        if step == "confirm":
            self.fields["method"].widget = forms.HiddenInput()
        self.quote = None

    def clean_custom_credits(self):
        # Checked at every step, so a forged hidden value cannot slip past it either.
        credits = self.cleaned_data.get("custom_credits")
        if credits is not None:
            purchases.custom_credits_validate(credits=credits)
        return credits

    def clean(self):
        data = super().clean()
        option = data.get("option")
        if option is None:
            return data
        pack = self.packs.get(option)
        credits = data.get("custom_credits") if option == CUSTOM else None
        if option == CUSTOM and not credits:
            if "custom_credits" not in self.errors:  # not already refused (above the maximum)
                self.add_error("custom_credits", _("How many credits?"))
            return data
        try:
            self.quote = purchases.purchase_quote(shop=self.shop, pack=pack, credits=credits)
        except ValidationError as exc:
            self.add_error("custom_credits" if option == CUSTOM else "option", exc)
            return data
        if self.step in ("method", "confirm") and data.get("method") not in self.methods:
            self.add_error("method" if self.step == "method" else None, _("Choose how to pay."))
        return data

    @property
    def pack(self) -> CreditPack | None:
        return self.packs.get(self.cleaned_data.get("option"))

    @property
    def payment_method(self):
        return self.methods.get(self.cleaned_data.get("method"))


class AdjustForm(forms.Form):
    amount = forms.IntegerField(label=_("Credits"), help_text=_("Positive adds, negative takes away."))
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Required: it is kept in the shop's credit history."))

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise ValidationError(_("An adjustment of 0 changes nothing."))
        return amount

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Say why: adjustments are audited."))
        return reason
