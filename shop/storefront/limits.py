"""Attempt counters for public forms, kept in Django's cache (Redis when REDIS_URL is set, so
every web process counts together; the process's own memory otherwise).

A fixed window opens with the first attempt under a key; past ``limit`` attempts in it the
answer is "too many" until the window closes. A cache that forgets a key only forgives early.
"""

from __future__ import annotations

import math
import time

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


def limit_wait(*, key: str, limit: int, window_seconds: int) -> int:
    """Count one more attempt under ``key``: 0 while within ``limit`` in this window, else the
    seconds until the window closes (what a "try again in …" message says)."""
    now = time.time()
    cache.add(f"{key}:opened", now, timeout=window_seconds)
    if limit_exceeded(key=key, limit=limit, window_seconds=window_seconds):
        opened = cache.get(f"{key}:opened") or now
        return max(1, math.ceil(opened + window_seconds - now))
    return 0
