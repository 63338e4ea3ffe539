"""Phone number normalisation for the outbox.

``PhoneNumberField`` stores raw input when no form ran, so services validate again here.
"""

import re

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
    if E164.fullmatch(text):  # how numbers are stored: a valid one is taken as it is, without parsing
        number = _from_e164(text)
        if number is not None and phonenumbers.is_valid_number(number):
            return text
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(_("%(value)s is not a phone number."), code="unparseable", params={"value": text}) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(_("%(value)s is not a valid phone number."), code="invalid", params={"value": text})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # the shape of a number as stored (E.164)


def _from_e164(text: str) -> phonenumbers.PhoneNumber | None:
    """The number a "+<digits>" string stands for, as phonenumbers.parse would read it (the
    country code is the first 1-3 digits that are one; a leading zero of the national number is
    kept, as Italy's), at half the cost: a bulk send checks 100,000 stored numbers."""
    digits = text[1:]
    for length in (1, 2, 3):
        country_code = int(digits[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national or "0"))
            if len(national) > 1 and national[0] == "0":
                number.italian_leading_zero = True
                number.number_of_leading_zeros = len(national) - len(national.lstrip("0"))
            return number
    return None


def calling_code_split(e164: str) -> tuple[int | None, str]:
    """A stored number as (country calling code, national number): "+48538506896" → (48, "538506896").

    By calling code, never by region: +1 is shared by the US, Canada and the Caribbean, and
    +44 7911 … parses as Guernsey, yet both are one network to a shop of that calling code.
    Calling codes are prefix-free (ITU E.164), so the first 1 to 3 digits that name one are it:
    the SMS report splits a million numbers this way. A text that is not "+<digits>" comes back
    whole, with None."""
    if E164.fullmatch(e164 or ""):
        for length in (1, 2, 3):
            code = int(e164[1 : 1 + length])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                return code, e164[1 + length :]
    return None, e164 or ""
