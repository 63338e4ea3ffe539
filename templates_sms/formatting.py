"""Money and dates as a shop's customers read them, in text fit for an SMS.

Amounts are integers in minor units (cents, grosze). We keep a small table of symbols and
patterns for the languages the product speaks (close to CLDR's) instead of adding Babel:
the numbers themselves come from Django's own locale formats.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.utils import formats, timezone, translation

# ISO 4217 minor-unit exponents that are not 2.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

# Symbols customers expect per language; a currency missing here is written as its code.
# "zł" and "R$" hold characters outside GSM-7 ("ł") or not, as the language writes them:
# the shop's "Replace special characters" option turns "zł" into "zl" if it wants to.
_SYMBOLS = {
    "en": {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "BRL": "R$"},
    "pl": {"PLN": "zł", "EUR": "€", "GBP": "£"},
    "pt": {"EUR": "€", "BRL": "R$", "USD": "US$", "GBP": "£"},
}
# Where the symbol goes: before the number with no space (English "$12.50"), after it with a space.
_SYMBOL_FIRST = {"en"}

# Thin and no-break spaces are not in GSM-7; one of them would turn the whole SMS into UCS-2.
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


def _language(language: str | None) -> str:
    return (language or translation.get_language() or "en").split("-")[0]


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get((currency or "").upper(), 2)


def format_number(value, *, decimal_pos: int | None = None, language: str | None = None) -> str:
    with translation.override(_language(language)):
        text = formats.number_format(value, decimal_pos=decimal_pos, use_l10n=True, force_grouping=True)
    return text.translate(_SPACES)


def format_money(amount: int | None, currency: str, language: str | None = None) -> str:
    """``format_money(123450, "PLN", "pl")`` → ``"1 234,50 zł"``; None → ``""``."""
    if amount is None:
        return ""
    language = _language(language)
    code = (currency or "").upper()
    exponent = currency_exponent(code)
    number = format_number(Decimal(amount).scaleb(-exponent), decimal_pos=exponent, language=language)
    symbol = _SYMBOLS.get(language, {}).get(code)
    if symbol is None:
        return f"{code} {number}" if language in _SYMBOL_FIRST else f"{number} {code}"
    return f"{symbol}{number}" if language in _SYMBOL_FIRST else f"{number} {symbol}"


def shop_zone(time_zone: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def format_date(value: dt.datetime | dt.date | None, *, time_zone: str, language: str | None = None) -> str:
    """A date as the shop's customers write it, on the shop's calendar (an order placed at
    23:30 UTC on 1 January is 2 January in Warsaw)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.timezone.utc)
        value = timezone.localtime(value, shop_zone(time_zone)).date()
    with translation.override(_language(language)):
        return formats.date_format(value, "SHORT_DATE_FORMAT", use_l10n=True).translate(_SPACES)
