"""The pacing bucket in Redis: the Lua script counts as the Python rule does, and workers racing for
one sender never get more than its rate between them."""

import threading
import uuid

import pytest

from smsnotify import pacing

pytestmark = pytest.mark.integration


def test_the_redis_script_counts_as_the_python_rule(require_redis):
    bucket = pacing.RedisBucket(require_redis)
    key = f"test-{uuid.uuid4().hex}"
    tokens, updated = 10.0, 1000.0  # a new bucket starts full
    for costs, now in [([1] * 12, 1000.0), ([3, 1], 1000.5), ([2, 2, 2], 1002.0), ([15], 1004.0), ([1], 1004.2)]:
        expected = pacing._take(tokens, updated, 10.0, costs, now)
        assert bucket.take(key, 10.0, costs, now) == pytest.approx(expected)
        tokens, updated = expected[1], now


def test_racing_workers_share_one_senders_rate(require_redis):
    bucket = pacing.RedisBucket(require_redis)
    key = f"test-{uuid.uuid4().hex}"
    granted, lock = [], threading.Lock()

    def worker():
        got, _left = bucket.take(key, 10.0, [1] * 8, 5000.0)  # the same instant, 8 parts each
        with lock:
            granted.append(got)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 10
