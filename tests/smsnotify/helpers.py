"""Helpers for the messaging core's tests."""

import contextlib
from unittest import mock

from django.db.models import QuerySet

from smsnotify import outbox
from smsnotify.models import Kind
from smsnotify.redirect import ShortLinkRedirect

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def schedule(shop, **kwargs):
    defaults = dict(shop=shop, to="+12025550123", body="Hello from the shop", kind=Kind.MANUAL)
    return outbox.message_schedule(**{**defaults, **kwargs})


def history(message):
    return list(message.events.values_list("status", flat=True))


def _django(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"django"]


def visit(path: str, *, host: str = "s.example.com", agent: str = IPHONE, address: str = "203.0.113.5",
          cookie: str = "", method: str = "GET") -> tuple[str, dict, bytes]:
    """A request through the project's WSGI layer, as gunicorn would make it. Its connection check
    would close the test's connection (its transaction): the test client leaves Django's out too."""
    answer = {}

    def start_response(status, headers):
        answer.update(status=status, headers=dict(headers))

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": host, "HTTP_USER_AGENT": agent,
               "REMOTE_ADDR": address, "HTTP_COOKIE": cookie, "wsgi.url_scheme": "https"}
    with mock.patch("smsnotify.redirect.connection_checked"):
        body = b"".join(ShortLinkRedirect(_django)(environ, start_response))
    return answer["status"], answer["headers"], body


@contextlib.contextmanager
def skip_locked_asked():
    """What each claim asked select_for_update() for (SQLite ignores the lock; PostgreSQL takes it)."""
    asked = []
    original = QuerySet.select_for_update

    def spy(self, **kwargs):
        asked.append(kwargs)
        return original(self, **kwargs)

    with mock.patch.object(QuerySet, "select_for_update", spy):
        yield asked
