"""When a marketing text may arrive: within the shop's hours, in the recipient's local time.

The recipient's zone comes from the number (phonenumbers' time zone data) when the number maps
to exactly one zone, else the shop's own. Pure functions of a moment: time travel tests them.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import phonenumbers
from phonenumbers import timezone as number_zones

SUNDAY = 6


@functools.lru_cache(maxsize=4096)
def recipient_zone(number: str, fallback: str) -> dt.tzinfo:
    """The one time zone of ``number`` (E.164), or the zone named ``fallback``."""
    try:
        zones = number_zones.time_zones_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        zones = ()
    name = zones[0] if len(zones) == 1 and zones[0] != number_zones.UNKNOWN_TIMEZONE else fallback
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def next_allowed_moment(now: dt.datetime, *, zone: dt.tzinfo, send_from: int, send_until: int,
                        no_sundays: bool) -> dt.datetime | None:
    """None when ``now`` is within the allowed hours in ``zone``; else the next moment that is
    (``send_from`` o'clock on the next allowed day), as an aware UTC datetime."""
    local = now.astimezone(zone)
    allowed_day = not (no_sundays and local.weekday() == SUNDAY)
    if allowed_day and send_from <= local.hour < send_until:
        return None
    day = local.date() if allowed_day and local.hour < send_from else local.date() + dt.timedelta(days=1)
    if no_sundays and day.weekday() == SUNDAY:
        day += dt.timedelta(days=1)
    # The local wall-clock hour, whatever the UTC offset of that day (DST changes keep "9:00").
    opening = dt.datetime.combine(day, dt.time(send_from), tzinfo=zone)
    return opening.astimezone(dt.timezone.utc)
