"""Pacing: each sender sends at most its rate, in message segments per second, across all workers.

Providers limit each sender (Twilio: a long code 1 segment/s, toll-free 3, a short code 100, an
alphanumeric sender 10); what goes faster waits in the provider's queue, where a sign-up code
can go stale. So delivery paces itself with a token bucket per sender, shared by every worker
(in Redis when there is one, else in the database), and a message over its sender's rate goes
back to the database (``Hold``) until the moment its sender will have room, not to the broker
or the provider. A gateway with no real provider behind it (sandbox, locmem, console) is not
paced.

Fairness: within a batch the bucket serves the shops in turn (one message each, round and
round), and messages that wait reserve nothing, so a shop's blast through a shared sender
cannot push another shop's text behind all of its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import re
import time
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .gateways import get_gateway
from .models import Lane, SenderBucket, SenderRate, SmsSettings
from .policies import DeliveryPolicy, Hold

# The provider's rules per kind of sender, in segments per second (Twilio's published limits).
DEFAULT_RATES = {"alphanumeric": 10.0, "long_code": 1.0, "toll_free": 3.0, "short_code": 100.0}
# North American toll-free prefixes (+1 800, 833, 844, 855, 866, 877, 888).
_TOLL_FREE = re.compile(r"^\+1(800|833|844|855|866|877|888)\d{7}$")


def sender_kind(sender: str) -> str:
    """What kind of sender ``sender`` is: a short code (5-6 digits), a toll-free or a long code
    number, or an alphanumeric name (a Messaging Service SID counts as a long code until the
    operator gives it its pool's rate)."""
    if re.fullmatch(r"\d{5,6}", sender):
        return "short_code"
    if _TOLL_FREE.match(sender):
        return "toll_free"
    if re.fullmatch(r"\+?\d{7,15}", sender) or re.fullmatch(r"MG[0-9a-fA-F]{32}", sender):
        return "long_code"
    return "alphanumeric"


def sender_rate(sender: str, overrides: dict[str, float]) -> float:
    return overrides.get(sender) or DEFAULT_RATES[sender_kind(sender)]


def _round_robin_by_shop(messages: list) -> list:
    """The batch's messages with the shops taking turns, each shop's in their own order."""
    by_shop = defaultdict(list)
    for message in messages:
        by_shop[message.shop_id].append(message)
    turns = itertools.zip_longest(*by_shop.values())
    return [message for turn in turns for message in turn if message is not None]


# --- buckets ---------------------------------------------------------------------------------------
# take(key, rate, costs, now, reserve) → how many of ``costs`` (in order) may go now, and the tokens
# left (negative: owed). A bucket holds one second of its rate (at least one part); a text longer
# than that leaves when the bucket is full and the sender then owes the rest: a 3-part text leaves
# a 1 part/s long code at once, and the next text waits 3 s. ``reserve`` is what a marketing text
# must leave in the bucket (unless the bucket is full), so a blast never takes the last tokens an
# order's text or a code needs.

MARKETING_SHARE = 0.8  # of a sender's rate, what marketing texts may use while others wait


def _capacity(rate: float) -> float:
    return max(rate, 1.0)


def _take(tokens: float, updated: float, rate: float, costs: list[int], now: float,
          reserve: float = 0.0) -> tuple[int, float]:
    capacity = _capacity(rate)
    tokens = min(capacity, tokens + max(0.0, now - updated) * rate)
    granted = 0
    for cost in costs:
        full = tokens >= capacity - 1e-9
        if not full and tokens - reserve < min(cost, capacity) - 1e-9:
            break
        tokens -= cost
        granted += 1
    return granted, tokens


class DatabaseBucket:
    """The bucket in a row per sender, locked for the read-modify-write (SQLite: its one writer)."""

    def take(self, key: str, rate: float, costs: list[int], now: float, reserve: float = 0.0) -> tuple[int, float]:
        with transaction.atomic():
            SenderBucket.objects.get_or_create(key=key, defaults={"tokens": _capacity(rate), "updated": now})
            row = SenderBucket.objects.select_for_update().get(key=key)
            granted, tokens = _take(row.tokens, row.updated, rate, costs, now, reserve)
            SenderBucket.objects.filter(key=key).update(tokens=tokens, updated=now)
        return granted, tokens


_LUA = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local rate, now, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local capacity = math.max(rate, 1)
local tokens = tonumber(state[1]) or capacity
local updated = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local granted = 0
for i = 4, #ARGV do
  local cost = tonumber(ARGV[i])
  local full = tokens >= capacity - 1e-9
  if (not full) and tokens - reserve < math.min(cost, capacity) - 1e-9 then break end
  tokens = tokens - cost
  granted = granted + 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return {granted, tostring(tokens)}
"""


class RedisBucket:
    """The bucket in a Redis hash per sender, updated by one Lua script (atomic for every worker)."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.script = self.client.register_script(_LUA)

    def take(self, key: str, rate: float, costs: list[int], now: float, reserve: float = 0.0) -> tuple[int, float]:
        granted, tokens = self.script(keys=[f"smsnotify:pace:{key}"], args=[rate, now, reserve, *costs])
        return int(granted), float(tokens)


@functools.cache
def bucket():
    return RedisBucket(settings.REDIS_URL) if settings.REDIS_URL else DatabaseBucket()


# --- the policy ------------------------------------------------------------------------------------


class SenderPacing(DeliveryPolicy):
    """Holds what its sender cannot send yet until the moment it will have room."""

    reasons = {"paced": _("its sender's rate (%(rate)s SMS parts per second) is used up for now.")}

    def before_send(self, batch):
        gateway = batch.gateway
        if gateway is None or not gateway.paced or not batch.messages:
            return {}
        overrides = dict(SenderRate.objects.values_list("sender", "segments_per_second"))
        by_sender = defaultdict(list)  # service texts first: they take the bucket before the marketing of a batch
        for message in sorted(batch.messages, key=lambda m: m.lane == Lane.MARKETING):
            by_sender[(message.sender or gateway.default_sender, message.lane == Lane.MARKETING)].append(message)
        now = time.time()
        verdicts = {}
        for (sender, marketing), messages in by_sender.items():
            rate = sender_rate(sender, overrides)
            ordered = _round_robin_by_shop(messages)
            reserve = _capacity(rate) * (1 - MARKETING_SHARE) if marketing else 0.0
            granted, tokens = bucket().take(sender, rate, [max(1, m.segments) for m in ordered], now, reserve)
            # Those that wait: at the moment the bucket will have refilled for them, one after another.
            owed = -tokens
            for message in ordered[granted:]:
                owed += max(1, message.segments)
                until = timezone.now() + dt.timedelta(seconds=math.ceil(max(owed, 1) / rate))
                verdicts[message.pk] = Hold(until=until, code="paced", params={"rate": f"{rate:g}"})
        return verdicts


# --- releasing marketing texts at their senders' pace ------------------------------------------------


def marketing_paced() -> bool:
    """Whether marketing texts are released at their senders' pace (a real provider's gateway)."""
    return import_string(settings.SMS_GATEWAY).paced


def marketing_release(*, shop_ids: list[int]) -> dict[int, int]:
    """How many message parts of each shop's due marketing texts one dispatch run may hand to the
    workers: the marketing share of its sender's rate over a dispatch interval, split evenly
    between the shops that share a sender. A 100,000-text blast thus waits in the database and
    leaves at its sender's pace, instead of filling the queue and being held over and over."""
    default = get_gateway().default_sender
    senders = dict(SmsSettings.objects.filter(shop_id__in=shop_ids).values_list("shop_id", "sender"))
    overrides = dict(SenderRate.objects.values_list("sender", "segments_per_second"))
    sharing = defaultdict(list)
    for shop_id in shop_ids:
        sharing[senders.get(shop_id) or default].append(shop_id)
    release = {}
    for sender, shops in sharing.items():
        parts = sender_rate(sender, overrides) * MARKETING_SHARE * settings.SMS_DISPATCH_INTERVAL
        for shop_id in shops:
            release[shop_id] = max(1, math.ceil(parts / len(shops)))
    return release
