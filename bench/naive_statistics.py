"""The naive statistics, for bench_dashboard: every message of the range read into Python and
counted there, one by one, in the shop's time zone (what a first version would do)."""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone

from campaigns.statistics import Figures, Range, period_start
from smsnotify.models import Direction, Message


def naive_text_statistics(*, shop, span: Range) -> tuple[dict, dict, dict]:
    """Per period and per kind, the same Figures as campaigns.statistics.text_statistics, and the replies."""
    periods = {start: Figures() for start in span.starts}
    kinds: dict[str, Figures] = defaultdict(Figures)
    replies = dict.fromkeys(span.starts, 0)
    for message in Message.objects.filter(shop=shop, created_at__gte=span.since, created_at__lt=span.until):
        start = period_start(timezone.localtime(message.created_at, span.zone).date(), span.unit)
        if message.direction == Direction.INBOUND:
            replies[start] += 1
            continue
        periods[start].add(status=message.status, count=1, credits=message.credits_charged)
        kinds[message.kind].add(status=message.status, count=1, credits=message.credits_charged)
    return periods, dict(kinds), replies
