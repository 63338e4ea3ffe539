"""Phone number normalisation for the outbox.

``PhoneNumberField`` stores raw input when no form ran, so services validate again here.
"""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class InvalidPhoneNumber(ValidationError):
    """The recipient cannot be parsed into a valid E.164 number."""


def to_e164(raw, *, region: str) -> str:
    """Return ``raw`` (a string or PhoneNumber) as E.164, reading national input in ``region``."""
    text = str(raw or "").strip()
    if not text:
        raise InvalidPhoneNumber(_("No phone number."), code="empty")
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(_("%(value)s is not a phone number."), code="unparseable", params={"value": text}) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_("%(value)s is not a valid phone number."), code="invalid", params={"value": text})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
