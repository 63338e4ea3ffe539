"""Mobile numbers as merchants write them: a calling code and a national number from a file,
or a search term in any format, read into the E.164 form customers' numbers are stored in."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber

# Numbers that cannot receive a text. US and Canadian numbers are FIXED_LINE_OR_MOBILE: allowed.
NOT_TEXTABLE = frozenset({
    phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.UAN, phonenumbers.PhoneNumberType.PAGER, phonenumbers.PhoneNumberType.VOICEMAIL,
})

_E164 = phonenumbers.PhoneNumberFormat.E164


def calling_code_read(text: str) -> int | None:
    """``+48``, ``48``, ``0048`` or ``PL`` as a calling code (48); None for an empty cell.

    Raises ValidationError (code ``calling_code_unknown``) for a code no country has."""
    text = text.strip()
    if not text:
        return None
    if len(text) == 2 and text.isalpha():  # a region, as some shop platforms export it
        code = phonenumbers.country_code_for_region(text.upper())
    else:
        digits = text.removeprefix("+")
        digits = digits[2:] if digits.startswith("00") else digits
        code = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 3 else 0
    if not code or code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        raise ValidationError(_("%(value)s is not an international calling code."), code="calling_code_unknown",
                              params={"value": text})
    return code


def mobile_parse(number: str, *, calling_code: int | None, region: str) -> phonenumbers.PhoneNumber:
    """A mobile number from a file: read in the country of ``calling_code``, or in ``region``
    (the shop's country) when the file gives none. A number written with its own ``+code``
    must agree with the calling code.

    Raises ValidationError with code ``number_invalid``, ``number_not_mobile`` or
    ``calling_code_mismatch``."""
    text = number.strip()
    international = text.startswith("+") or text.startswith("00")
    try:
        if international:
            parsed = phonenumbers.parse("+" + text[2:] if text.startswith("00") else text, None)
        elif calling_code is not None:
            home = phonenumbers.region_code_for_country_code(calling_code)
            # "001" is a non-geographic code (+800, +882 …): no national form to read in a region
            parsed = (phonenumbers.parse(f"+{calling_code}{text}", None) if home == "001"
                      else phonenumbers.parse(text, home))
        else:
            parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and calling_code is not None and parsed.country_code != calling_code:
        raise ValidationError(_("%(value)s does not belong to calling code +%(code)s."), code="calling_code_mismatch",
                              params={"value": text, "code": calling_code})
    # number_type is UNKNOWN exactly when is_valid_number is False: one look-up instead of two
    # (a 50,000-row file is checked twice, at its preview and at its confirmation).
    kind = phonenumbers.number_type(parsed) if parsed is not None else phonenumbers.PhoneNumberType.UNKNOWN
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise ValidationError(_("%(value)s is not a valid phone number."), code="number_invalid",
                              params={"value": text})
    if kind in NOT_TEXTABLE:
        raise ValidationError(_("%(value)s cannot receive text messages: it is not a mobile number."),
                              code="number_not_mobile", params={"value": text})
    return parsed


class CheckedPhoneNumber(PhoneNumber):
    """A number already parsed and validated (``mobile_parse``): PhoneNumberField stores it
    without parsing and validating it twice more (on assignment and on save), which is most
    of the time of writing 50,000 imported customers."""

    @classmethod
    def of(cls, parsed: phonenumbers.PhoneNumber) -> CheckedPhoneNumber:
        number = cls()
        number.merge_from(parsed)
        return number

    def is_valid(self) -> bool:
        return True


def e164_split(number) -> tuple[str, str]:
    """A stored number (a PhoneNumber or its E.164 text) as the file's two columns:
    (national number, "+<calling code>"); an unreadable one stays whole in the first."""
    parsed = number if isinstance(number, phonenumbers.PhoneNumber) else None
    if parsed is None or not parsed.country_code:
        try:
            parsed = phonenumbers.parse(str(number), None)
        except phonenumbers.NumberParseException:
            return str(number), ""
    return phonenumbers.national_significant_number(parsed), f"+{parsed.country_code}"


_PHONE_LIKE = re.compile(r"\(?\+?[\d\s().\-/]+")  # "(+48) 538 506 896" too
_MIN_DIGITS = 3  # fewer would match most customers' numbers


def phone_search_q(term: str, *, region: str | None) -> Q | None:
    """The customers a search term finds by their mobile number, or None when the term is not
    a number (then names and emails are searched as usual).

    "+48 538 506 896", "0048538506896" and, in a Polish shop, "538506896" or "538-506-896" all
    find +48538506896: the term is read as a whole number (national input in ``region``) and
    compared with the stored E.164 form, and its digits also match anywhere in a stored number,
    so that part of a number ("506 896") finds it too."""
    term = term.strip()
    if not _PHONE_LIKE.fullmatch(term):
        return None
    digits = re.sub(r"\D", "", term)
    if len(digits) < _MIN_DIGITS:
        return None
    international = "+" in term or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    whole = set()
    try:
        parsed = phonenumbers.parse("+" + digits if international else digits, None if international else region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        whole.add(phonenumbers.format_number(parsed, _E164))
    query = Q(phone__in=whole) | Q(phone__contains=digits)
    prefix = _national_prefix(region) if not international else None
    if prefix and digits.startswith(prefix) and len(digits) - len(prefix) >= _MIN_DIGITS:
        # "07911 12" in a British shop: the trunk 0 is not part of the stored +447911…
        query |= Q(phone__contains=digits[len(prefix):])
    return query


def _national_prefix(region: str | None) -> str | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    return metadata.national_prefix if metadata is not None else None
