"""The project's settings with the naive short-link view routed (bench/naive_shortlink.py)."""

from smsnotify.settings import *  # noqa: F403

ROOT_URLCONF = "bench.naive_shortlink"
