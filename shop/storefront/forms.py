"""The back-in-stock sign-up: a country, a mobile number read in that country, and a consent."""

from __future__ import annotations

import phonenumbers
from django import forms
from django.utils.translation import gettext, gettext_lazy as _

from ..models import Shop
from ..phones import NOT_TEXTABLE


COUNTRY_CHOICES = [(region, f"{region} (+{phonenumbers.country_code_for_region(region)})")
                   for region in sorted(phonenumbers.SUPPORTED_REGIONS)]


def consent_wording(*, shop: Shop) -> str:
    """The consent box's text in the active language: shown beside the box and stored, word
    for word, with the consent (the proof a carrier or a regulator asks for)."""
    return gettext(
        "I agree that %(shop)s may text me at this number when this product is back in stock, and send me "
        "other offers by text. I can withdraw my consent at any time by replying STOP."
    ) % {"shop": shop.name}


class BackInStockForm(forms.Form):
    country = forms.ChoiceField(label=_("Country"), choices=COUNTRY_CHOICES)
    phone = forms.CharField(label=_("Mobile number"), max_length=32)
    consent = forms.BooleanField(
        required=True, error_messages={"required": _("Tick the box to agree to the text message.")})

    def __init__(self, *args, shop: Shop, **kwargs):
        super().__init__(*args, initial={"country": shop.country}, **kwargs)
        self.shop = shop
        self.consent_text = consent_wording(shop=shop)
        self.fields["consent"].label = self.consent_text
        self.fields["phone"].widget.attrs.update({"autocomplete": "tel-national", "inputmode": "tel"})

    def clean(self):
        data = super().clean()
        raw = (data.get("phone") or "").strip()
        if not raw:
            return data
        invalid = gettext("%(value)s is not a valid phone number for the chosen country.") % {"value": raw}
        try:
            # A number with +country code is read as written; otherwise in the chosen country.
            number = phonenumbers.parse(raw, data.get("country") or self.shop.country)
        except phonenumbers.NumberParseException:
            self.add_error("phone", invalid)
            return data
        if not phonenumbers.is_valid_number(number):
            self.add_error("phone", invalid)
        elif phonenumbers.number_type(number) in NOT_TEXTABLE:
            self.add_error("phone", gettext("This number cannot receive text messages: enter a mobile number."))
        else:
            data["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return data
