"""Validation of the sender shown on the customer's phone."""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Alphanumeric sender IDs: up to 11 characters from A-Z, a-z, 0-9 and space, at least
# one letter (an all-digit sender would be read as a phone number by carriers).
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 ]{1,11}$")


def normalized_sender(value: str) -> str:
    """A number sender as E.164 (what providers report as the number a text was sent to); a name
    as typed."""
    if value and value.startswith("+"):
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return value
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return value


def validate_sender(value: str) -> None:
    if not value:
        return
    if value.startswith("+"):
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            raise ValidationError(_("%(value)s is not a valid phone number in +country format."), params={"value": value})
        return
    if not _ALPHANUMERIC.match(value):
        raise ValidationError(
            _("A sender name has 1 to 11 characters: letters A–Z, digits and spaces (no accents or symbols).")
        )
    if not any(ch.isalpha() for ch in value):
        raise ValidationError(_("A sender name must contain at least one letter; use +country format for a number."))
    if value != value.strip():
        raise ValidationError(_("A sender name cannot start or end with a space."))
