"""Attempt counters for public forms, kept in Django's cache (Redis when REDIS_URL is set, so
every web process counts together; the process's own memory otherwise).

A fixed window opens with the first attempt under a key; past ``limit`` attempts in it the
answer is "too many" until the window closes. A cache that forgets a key only forgives early.
"""

from __future__ import annotations

from django.core.cache import cache


def limit_exceeded(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one more attempt under ``key``; True when it is over ``limit`` in this window."""
    cache.add(key, 0, timeout=window_seconds)  # only the first attempt of a window sets it
    try:
        count = cache.incr(key)
    except ValueError:  # the window closed between add and incr: this attempt opens a new one
        cache.add(key, 1, timeout=window_seconds)
        count = 1
    return count > limit
