"""Dates as a shop's customers read them, in text fit for an SMS (money: ``shop.money``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import formats, timezone, translation

from shop.money import PLAIN_SPACES, base_language


def _zone(time_zone: str) -> dt.tzinfo:
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
        value = timezone.localtime(value, _zone(time_zone)).date()
    with translation.override(base_language(language)):
        return formats.date_format(value, "SHORT_DATE_FORMAT", use_l10n=True).translate(PLAIN_SPACES)
