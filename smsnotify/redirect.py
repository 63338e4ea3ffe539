"""The short links' redirect (smsnotify/links.py makes the links): a WSGI layer in front of Django.

A click must be fast and reveal nothing, so it never reaches Django's stack (no session, no
middleware, no URL resolver): ``ShortLinkRedirect`` wraps the project's WSGI application
(smsnotify/wsgi.py, which ``runserver`` and gunicorn both load) and answers requests for
``PUBLIC_SHORT_URL``'s host (a short domain of its own) or path (``…/s/<code>``) itself:

* a code of the right shape that exists: 302 to the address as written (its query kept);
* anything else under that prefix: the same bare 404, without a database read for a code
  of the wrong shape; every other request goes to Django.

A click counts once per visitor: a visitor is a keyed hash of their address and browser
(blake2b with a key derived from SECRET_KEY: no address is stored), one row per link and
visitor (a unique index, ``ON CONFLICT DO NOTHING``). A browser that comes back sends the
cookie set on its first visit (scoped to that link's path), and a visitor this process saw
lately is remembered: neither reads nor writes the database. Link previews do not count: a
HEAD request, an empty browser name, or one of the link unfurlers' names (iMessage and
WhatsApp previews, Facebook, Slack, Telegram, Discord, Skype, search crawlers…) is
redirected without being counted.

Links never change, so this process keeps the ones it answered lately (a few minutes, a
bounded number): a repeat click costs no query at all, and a first click on a link not kept is
one statement (the lookup and the click's INSERT together, on PostgreSQL). Django's request
signals are not sent (they cost more than the rest of a click): the database connection is
checked as they would check it, before it is used.
"""

from __future__ import annotations

import hashlib
import re
import time
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.encoding import iri_to_uri

from .links import CODE_RE
from .pg_arrays import execute_binary
from .models import LinkClick, Message, ShortLink

COOKIE = "sl_seen"
_COOKIE_RE = re.compile(rf"(?:^|;)\s*{COOKIE}=1(?:;|$)")
# Link unfurlers and crawlers (their documented user agents); iMessage's preview calls itself
# facebookexternalhit and Twitterbot. Not a bare "bot": a CUBOT phone's browser is a person.
_BOTS = re.compile(
    r"bot/|compatible;[^)]*bot|crawler|spider|preview|facebookexternalhit|facebot|whatsapp|slack|telegram|discord|"
    r"skypeuripreview|linkedin|embedly|pinterest|vkshare|bitlybot|google-pagerenderer|headless",
    re.IGNORECASE)
LINKS_KEPT = 50_000  # per process; past it the memory starts again
LINK_SECONDS = 300.0  # a link is read again after this (a deleted shop's links stop answering)
VISITORS_KEPT = 100_000

_NOT_FOUND = b"Not found"
_links: dict[str, tuple[float, int, str, int | None]] = {}  # code → (until, link id, location, customer id)
_visitors: dict[tuple[int, str], float] = {}  # (link id, visitor) → until


@lru_cache(maxsize=4)
def _route(short_url: str) -> tuple[str, str] | None:
    """(host, path prefix) of the short links: the host only matters when the prefix is "/"."""
    if not short_url:
        return None
    parts = urlsplit(short_url)
    return parts.netloc.lower(), parts.path.rstrip("/") + "/"


@lru_cache(maxsize=1)
def _visitor_key(secret: str) -> bytes:
    return hashlib.blake2b(b"smsnotify.short-link-visitor:" + secret.encode(), digest_size=32).digest()


def visitor_of(address: str, browser: str) -> str:
    """A visitor's name in the click table: not their address, and not reversible without the key."""
    return hashlib.blake2b(f"{address}\n{browser}".encode(errors="replace"), digest_size=16,
                           key=_visitor_key(settings.SECRET_KEY)).hexdigest()


def is_preview(method: str, browser: str) -> bool:
    """A request that is not a person opening the link: a HEAD, no browser name, an unfurler."""
    return method == "HEAD" or not browser.strip() or _BOTS.search(browser) is not None


def connection_checked() -> None:
    """What Django's request signals do before a view runs: a broken connection, or one older than
    CONN_MAX_AGE, is closed (the next query opens a new one)."""
    connection.close_if_unusable_or_obsolete()


def _fetch(sql: str, params: list) -> tuple | None:
    """One statement on Django's connection; its first row. On PostgreSQL the parameters are bound
    by the server, so with DATABASE_PREPARE_THRESHOLD set the statement is planned once per
    connection (planning the lookup took longer than running it)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if cursor.description else None
    rows = execute_binary(sql, params)
    return rows[0] if rows else None


_LOOKUP = (f"SELECT l.id, l.url, m.customer_id FROM {ShortLink._meta.db_table} l "
           f"JOIN {Message._meta.db_table} m ON m.id = l.message_id WHERE l.code = %s")
_CLICK = (f"INSERT INTO {LinkClick._meta.db_table} (link_id, visitor, customer_id, clicked_at) "
          "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING")
# On PostgreSQL a click's commit does not wait for the disk: ``synchronous_commit`` is off for the
# statement's own transaction (set_config(…, true)). A click is a statistic: a crash of the database
# server may lose the last fraction of a second of them, never half a row; the wait was most of a click.
_ASYNC = "(SELECT set_config('synchronous_commit', 'off', true)) AS async"
_CLICK_PG = (f"INSERT INTO {LinkClick._meta.db_table} (link_id, visitor, customer_id, clicked_at) "
             f"SELECT %s, %s, %s, %s FROM {_ASYNC} ON CONFLICT DO NOTHING")
_LOOKUP_AND_CLICK_PG = (f"WITH link AS ({_LOOKUP}), click AS ("
                        f"INSERT INTO {LinkClick._meta.db_table} (link_id, visitor, customer_id, clicked_at) "
                        f"SELECT id, %s, customer_id, %s FROM link, {_ASYNC} ON CONFLICT DO NOTHING) "
                        "SELECT id, url, customer_id FROM link")


def _kept(code: str, now: float) -> tuple[int, str, int | None] | None:
    kept = _links.get(code)
    return kept[1:] if kept is not None and kept[0] > now else None


def _link(code: str, now: float, visitor: str | None) -> tuple[int, str, int | None] | None:
    """(link id, where it goes, the text's customer) of a code, or None; and ``visitor``'s click
    recorded when one is given."""
    kept = _kept(code, now)
    if kept is not None:
        if visitor is not None:
            _click(kept[0], kept[2], visitor, now)
        return kept
    connection_checked()
    both = visitor is not None and connection.vendor == "postgresql"
    row = _fetch(_LOOKUP_AND_CLICK_PG, [code, visitor, timezone.now()]) if both else _fetch(_LOOKUP, [code])
    if row is None:
        return None
    if len(_links) >= LINKS_KEPT:
        _links.clear()
    found = (row[0], iri_to_uri(row[1]), row[2])
    _links[code] = (now + LINK_SECONDS, *found)
    if both:
        _seen(found[0], visitor, now)
    elif visitor is not None:
        _click(found[0], found[2], visitor, now)
    return found


def _click(link_id: int, customer_id: int | None, visitor: str, now: float) -> None:
    """The visitor's first click on the link (a repeat changes nothing; one this process saw
    lately is not even tried)."""
    seen = _visitors.get((link_id, visitor))
    if seen is not None and seen > now:
        return
    connection_checked()
    _fetch(_CLICK_PG if connection.vendor == "postgresql" else _CLICK,
           [link_id, visitor, customer_id, connection.ops.adapt_datetimefield_value(timezone.now())])
    _seen(link_id, visitor, now)


def _seen(link_id: int, visitor: str, now: float) -> None:
    if len(_visitors) >= VISITORS_KEPT:
        _visitors.clear()
    _visitors[(link_id, visitor)] = now + LINK_SECONDS


class ShortLinkRedirect:
    """WSGI middleware: the short links' requests are answered here, the rest by ``app``."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        route = _route(settings.PUBLIC_SHORT_URL)
        path = environ.get("PATH_INFO", "")
        if route is None or not path.startswith(route[1]):
            return self.app(environ, start_response)
        host, prefix = route
        if prefix == "/" and environ.get("HTTP_HOST", "").lower() != host:
            return self.app(environ, start_response)  # a short domain of its own: only its host
        return self.answer(environ, start_response, path[len(prefix):], prefix)

    @staticmethod
    def answer(environ, start_response, code: str, prefix: str):
        if not CODE_RE.fullmatch(code):
            return _not_found(start_response)
        now = time.monotonic()
        browser = environ.get("HTTP_USER_AGENT", "")
        counted = (not is_preview(environ.get("REQUEST_METHOD", "GET"), browser)
                   and not _COOKIE_RE.search(environ.get("HTTP_COOKIE", "")))
        try:
            link = _link(code, now, visitor_of(_address(environ), browser) if counted else None)
        except DatabaseError:  # the next click's connection check replaces a broken connection
            link = _kept(code, now)  # a click that could not be counted still goes where it points
            if link is None:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "5")])
                return [b"Try again in a moment"]
        if link is None:
            return _not_found(start_response)
        headers = [("Location", link[1]), ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"),
                   ("X-Robots-Tag", "noindex"), ("Content-Length", "0")]
        if counted:
            secure = "; Secure" if settings.PUBLIC_SHORT_URL.startswith("https:") else ""
            headers.append(("Set-Cookie", f"{COOKIE}=1; Path={prefix}{code}; Max-Age=31536000; HttpOnly; "
                                          f"SameSite=Lax{secure}"))
        start_response("302 Found", headers)
        return [b""]


def _address(environ) -> str:
    address = environ.get("REMOTE_ADDR", "")
    if settings.TRUST_PROXY_FORWARDED_FOR:  # the address the trusted proxy appended last
        address = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip() or address
    return address


def _not_found(start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(_NOT_FOUND))),
                                     ("Cache-Control", "no-store")])
    return [_NOT_FOUND]


def caches_clear() -> None:
    """Forget the links and visitors this process kept (tests, after rows they rolled back)."""
    _links.clear()
    _visitors.clear()
