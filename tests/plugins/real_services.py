"""Fixtures for tests that need the real services: PostgreSQL, Redis and a Celery worker.

Without them such tests skip on a laptop, but FAIL under CI (CI=true), where a missing
service is a broken machine, not a reason to pass.
"""

import os
from contextlib import contextmanager

import pytest
from django.db import connection


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"CI needs this service: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def require_postgres(transactional_db):
    if connection.vendor != "postgresql":
        _missing("PostgreSQL is not the test database (set DATABASE_URL=postgres://…)")


@pytest.fixture
def require_redis():
    import redis

    url = os.environ.get("REDIS_URL")
    if not url:
        _missing("REDIS_URL is not set")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _missing(f"Redis at {url} does not answer: {exc}")
    return url


@contextmanager
def _worker(app):
    from celery.contrib.testing.worker import start_worker

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=20,
                          queues=[queue.name for queue in app.conf.task_queues]):  # every lane
            yield
    finally:
        app.conf.task_always_eager = True


@pytest.fixture
def celery_worker(require_postgres, require_redis):
    """A real Celery worker consuming from Redis, in this process (so time-machine reaches it)."""
    from smsnotify.celery import app

    app.control.purge()
    with _worker(app):
        yield app
