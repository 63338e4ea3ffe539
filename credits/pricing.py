"""What an SMS costs in credits: per segment, by destination.

The rule, in order:
1. A destination rate for the recipient's country calling code (``DestinationRate``) wins.
2. Else the domestic rate when the recipient's calling code is the shop country's calling code.
3. Else the international rate.

Domestic is decided by calling code, not region: +44 7911 123456 parses as Guernsey (GG)
yet is the same +44 network as a UK shop's customers, and +1 is shared by the US, Canada
and the Caribbean, which carriers price alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import phonenumbers
from django.conf import settings

from shop.models import Shop

from .models import DestinationRate, PricingSettings


def calling_code_of_region(region: str) -> int:
    """The country calling code of an ISO region (PL → 48); 0 when unknown."""
    return phonenumbers.country_code_for_region((region or "").upper())


def calling_code_of_number(e164: str) -> int | None:
    """The country calling code of an E.164 number, None when it cannot be read."""
    text = str(e164)
    if text.startswith("+") and text[1:].isdigit():
        # Every SMS is priced here, and the outbox stores E.164: calling codes are prefix-free
        # (ITU E.164), so the first 1 to 3 digits that name one are it. Far cheaper than parse().
        for length in (1, 2, 3):
            code = int(text[1 : 1 + length])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                return code
    try:
        return phonenumbers.parse(str(e164), None).country_code
    except phonenumbers.NumberParseException:
        return None


@dataclass(frozen=True, slots=True)
class Rates:
    domestic: int
    international: int
    by_calling_code: dict[int, int]
    loaded_at: float


_rates: Rates | None = None


def current_rates() -> Rates:
    """The platform's rates, cached in this process for CREDITS_PRICING_CACHE_SECONDS.

    Every SMS delivered is priced, and the rates change a few times a year: a worker sees
    the operator's change within that many seconds (at once in the process that saved it).
    """
    global _rates
    rates, now = _rates, time.monotonic()
    if rates is None or now - rates.loaded_at >= settings.CREDITS_PRICING_CACHE_SECONDS:
        pricing = PricingSettings.load()
        rates = _rates = Rates(
            domestic=pricing.credits_per_segment_domestic, international=pricing.credits_per_segment_international,
            by_calling_code=dict(DestinationRate.objects.values_list("calling_code", "credits_per_segment")),
            loaded_at=now,
        )
    return rates


def forget_rates() -> None:
    global _rates
    _rates = None


def segment_rate(*, shop: Shop, calling_code: int | None) -> int:
    """Credits for one segment from ``shop`` to a number with ``calling_code``."""
    rates = current_rates()
    if calling_code in rates.by_calling_code:
        return rates.by_calling_code[calling_code]
    if calling_code and calling_code == calling_code_of_region(shop.country):
        return rates.domestic
    # An unreadable recipient is priced as international: never cheaper than it may be.
    return rates.international


def domestic_segment_cost(shop: Shop) -> int:
    """One segment to a number in the shop's own country: the cheapest SMS the shop can send."""
    return segment_rate(shop=shop, calling_code=calling_code_of_region(shop.country))
