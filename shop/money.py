"""Money and counts as people read them: the project's one formatter.

Amounts are integers in minor units (cents, grosze) with an ISO 4217 currency; Order,
Product, credit packs and purchases all store them so. It lives in ``shop``, the lowest app
with money, so that credits (prices, purchases), templates_sms (SMS tokens) and the admin
write "$58.90" or "58,90 zł" the same way.

We keep a small table of symbols and patterns for the languages the product speaks (close
to CLDR's) instead of adding Babel: the numbers themselves come from Django's own locale
formats. The text is also fit for an SMS (no no-break spaces), so one function serves both.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import formats, translation

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

# Thin and no-break spaces are not in GSM-7; one of them would turn a whole SMS into UCS-2.
PLAIN_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})


def base_language(language: str | None = None) -> str:
    """``"pt-br"`` → ``"pt"``; None → the active language (the request's, in the admin)."""
    return (language or translation.get_language() or "en").split("-")[0]


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get((currency or "").upper(), 2)


def format_number(value, *, decimal_pos: int | None = None, language: str | None = None) -> str:
    """``format_number(1000000, language="pl")`` → ``"1 000 000"``: grouped as the language writes it."""
    with translation.override(base_language(language)):
        text = formats.number_format(value, decimal_pos=decimal_pos, use_l10n=True, force_grouping=True)
    return text.translate(PLAIN_SPACES)


def format_money(amount: int | None, currency: str, language: str | None = None) -> str:
    """``format_money(123450, "PLN", "pl")`` → ``"1 234,50 zł"``; None → ``""``.

    Without ``language`` it follows the active one: the admin shows prices in the reader's language.
    """
    if amount is None:
        return ""
    language = base_language(language)
    code = (currency or "").upper()
    exponent = currency_exponent(code)
    number = format_number(Decimal(amount).scaleb(-exponent), decimal_pos=exponent, language=language)
    symbol = _SYMBOLS.get(language, {}).get(code)
    if symbol is None:
        return f"{code} {number}" if language in _SYMBOL_FIRST else f"{number} {code}"
    return f"{symbol}{number}" if language in _SYMBOL_FIRST else f"{number} {symbol}"


def to_major(minor: int | None, currency: str) -> Decimal | None:
    """5890 cents → Decimal("58.90"): what a person types in a form."""
    return None if minor is None else Decimal(minor).scaleb(-currency_exponent(currency))


def to_minor(major: Decimal | None, currency: str) -> int | None:
    """Decimal("58.90") → 5890. ValueError when it has more decimals than the currency has
    (58.905 dollars, 12.5 yen): such an amount cannot be paid."""
    if major is None:
        return None
    minor = major.scaleb(currency_exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(major)
    return int(minor)
