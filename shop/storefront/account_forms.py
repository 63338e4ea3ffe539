"""The account pages' forms: they read what was typed (a number in the chosen country, an email);
the rules (which numbers may get codes, passwords, who owns what) are the services'."""

from __future__ import annotations

import phonenumbers
from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext, gettext_lazy as _

from ..models import Shop
from .forms import COUNTRY_CHOICES


def signup_consent_wording(*, shop: Shop) -> str:
    """The marketing box's text in the active language: shown beside the box and stored, word for
    word, with the consent."""
    return gettext("I agree that %(shop)s may send me offers by text message. I can withdraw my consent at any "
                   "time by replying STOP.") % {"shop": shop.name}


def _number(raw: str, country: str) -> str | None:
    """``raw`` read in ``country`` (or as written, with +code) as E.164; None when it is no valid number."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class _ShopForm(forms.Form):
    def __init__(self, *args, shop: Shop, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("country", shop.country)
        super().__init__(*args, **kwargs)
        self.shop = shop


class _NumberForm(_ShopForm):
    """A calling-code picker and a mobile number, read in the picked country."""

    country = forms.ChoiceField(label=_("Country calling code"), choices=COUNTRY_CHOICES)
    phone = forms.CharField(label=_("Mobile number"), max_length=32,
                            widget=forms.TextInput(attrs={"autocomplete": "tel-national", "inputmode": "tel"}))

    def clean(self):
        data = super().clean()
        raw = (data.get("phone") or "").strip()
        if raw:
            number = _number(raw, data.get("country") or self.shop.country)
            if number is None:
                self.add_error("phone", gettext("%(value)s is not a valid phone number for the chosen country.")
                               % {"value": raw})
            else:
                data["phone"] = number
        return data


class SignupForm(_NumberForm):
    first_name = forms.CharField(label=_("First name"), max_length=80, required=False,
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label=_("Last name"), max_length=80, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    email = forms.EmailField(label=_("Email (optional)"), required=False, max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    consent = forms.BooleanField(required=False)

    field_order = ["country", "phone", "first_name", "last_name", "email", "password", "consent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.consent_text = signup_consent_wording(shop=self.shop)
        self.fields["consent"].label = self.consent_text


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=12, widget=forms.TextInput(attrs={
        "autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"[0-9 ]*"}))


class NewNumberForm(_NumberForm):
    pass


class LoginForm(_ShopForm):
    """A verified mobile (read in the picked country) or a verified email, and the password."""

    country = forms.ChoiceField(label=_("Country calling code"), choices=COUNTRY_CHOICES,
                                help_text=_("For a mobile number."))
    login = forms.CharField(label=_("Mobile number or email"), max_length=254,
                            widget=forms.TextInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(label=_("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def clean(self):
        data = super().clean()
        raw = (data.get("login") or "").strip()
        if raw:
            if "@" in raw:
                try:
                    validate_email(raw)
                except forms.ValidationError:
                    self.add_error("login", gettext("Enter a mobile number or an email address."))
                else:
                    data["channel"], data["login"] = "email", raw.lower()
            else:
                number = _number(raw, data.get("country") or self.shop.country)
                if number is None:
                    self.add_error("login", gettext("Enter a mobile number or an email address."))
                else:
                    data["channel"], data["login"] = "sms", number
        return data


class ResetForm(LoginForm):
    password = None


class ResetConfirmForm(CodeForm):
    password = forms.CharField(label=_("New password"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=80, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=80, required=False)
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
