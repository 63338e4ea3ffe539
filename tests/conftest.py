import os

import pytest

from smsnotify.gateways import locmem

pytest_plugins = ["tests.fakes.twilio_server", "tests.plugins.real_services", "tests.plugins.template_db"]


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    """Like Django's mail.outbox: every test starts with an empty locmem gateway."""
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture(autouse=True)
def _fresh_pricing():
    """Prices are cached per process; a test's rates roll back with its transaction, so forget them."""
    from credits.pricing import forget_rates

    forget_rates()
    yield
    forget_rates()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and webhook tokens live in the cache (Redis in CI): each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_pacing():
    """Senders' buckets start full in every test: forget the bucket and, in Redis, its state."""
    from smsnotify import pacing

    pacing.bucket.cache_clear()
    if isinstance(pacing.bucket(), pacing.RedisBucket):
        client = pacing.bucket().client
        for key in client.scan_iter("smsnotify:pace:*"):
            client.delete(key)
    yield
    pacing.bucket.cache_clear()


@pytest.fixture
def sms_outbox():
    return locmem.outbox


@pytest.fixture
def gateway_errors():
    """Append GatewayError instances: the next locmem sends raise them in order."""
    return locmem.errors


@pytest.fixture
def shop(db):
    from tests.factories import make_shop

    return make_shop(credits=100_000)  # enough credits that sending never runs out


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the outbox's on_commit doorbells the way a committed transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


@pytest.fixture
def daytime():
    """A weekday at 10:00 in New York and 16:00 in Warsaw: marketing texts may leave (campaigns'
    QuietHours policy holds them outside 8:00-20:00 in the recipient's zone), whenever the suite runs."""
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc), tick=True):
        yield


@pytest.fixture(autouse=True)
def _fresh_short_links():
    """The redirect keeps links and visitors per process; a test's rows roll back, so forget them."""
    from smsnotify.redirect import caches_clear

    caches_clear()
    yield
    caches_clear()
