"""Short-link clicks per second under gunicorn, against a naive Django view.

The project's redirect (smsnotify/redirect.py: a WSGI layer before Django, raw SQL, links kept in
the process, a click written once per visitor) and the naive one (bench/naive_shortlink.py: a
Django view behind every middleware, an ORM get and a click row saved per request) are each
served by gunicorn with the project's WSGI application — 2 worker processes of 4 threads (gthread),
PostgreSQL, connections kept (DATABASE_CONN_MAX_AGE=60) — and loaded by ``wrk`` (C, keep-alive,
2 threads, 32 connections; ``apt-get install wrk``) for 10 s each, on the same machine.

Two loads on one server, each request a link of a 60,000-link bulk send (a code per recipient):
  first clicks   each request another link: a lookup and a click written per request (target ≥ 2,000/s)
  repeat clicks  then browsers coming back with the link's cookie (the naive view writes a row anyway)

Run: make bench (or DATABASE_URL=postgres://… .venv/bin/python bench/bench_shortlink.py).
It works in a database of its own (<name>_shortlink, dropped and made again).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 2_000  # first clicks per second
PORT = 8731
LINKS = 60_000
SECONDS = 10

# wrk walks the codes of its file, each of its 2 threads from its own half; ``cookie`` adds the
# redirect's cookie, as a returning browser sends it.
WRK_SCRIPT = """
local codes = {}
for line in io.lines("%(codes)s") do codes[#codes + 1] = line end
local prefix, cookie = "%(prefix)s", "%(cookie)s"
local counter = 0
local next_offset = 0
setup = function(thread) thread:set("offset", next_offset); next_offset = next_offset + math.floor(#codes / 2) end
request = function()
  counter = counter + 1
  local code = codes[((offset + counter) %% #codes) + 1]
  local headers = {["User-Agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
  if cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", prefix .. code, headers)
end
"""


def _urls() -> tuple[str, str]:
    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres"):
        sys.exit("bench_shortlink needs DATABASE_URL=postgres://… (make bench sets it).")
    parts = urlsplit(database)
    name = (parts.path.lstrip("/") or "bench") + "_shortlink"
    return urlunsplit(parts._replace(path="/" + name)), name


def _env() -> dict:
    database, _name = _urls()
    return {"DATABASE_URL": database, "DEBUG": "false", "SECRET_KEY": "bench-only", "ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "smsnotify.settings", "LOG_LEVEL": "WARNING", "DATABASE_CONN_MAX_AGE": "60",
            "PUBLIC_SHORT_URL": f"http://127.0.0.1:{PORT}/s", "REDIS_URL": "",
            "SECURE_SSL_REDIRECT": "false",  # TLS ends at the proxy in production; here it is plain HTTP
            "DATABASE_PREPARE_THRESHOLD": "5"}  # PostgreSQL reached directly, as README advises then


def _recreate_database() -> None:
    import psycopg

    _url, name = _urls()
    maintenance = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _links(count: int) -> list[str]:
    """A shop's bulk send of ``count`` texts with a link each: their codes."""
    from django.db import transaction

    from shop.models import Customer
    from shop.services import shop_create
    from smsnotify.models import Kind, ShortLink, SmsSettings
    from smsnotify.outbox import PreparedMessage, messages_schedule_many

    shop = shop_create(name="Links", slug="links", country="US", currency="USD")
    SmsSettings.objects.filter(shop=shop).update(active=True, sender="Bench")
    Customer.objects.bulk_create([Customer(shop=shop, first_name="Bench", phone=f"+1202555{n % 10_000:04d}")
                                  for n in range(1_000)])
    customers = list(Customer.objects.filter(shop=shop).values_list("pk", flat=True))
    for start in range(0, count, 5_000):
        with transaction.atomic():
            messages_schedule_many(shop=shop, kind=Kind.BULK, batch_ref="bulk:1", numbers_checked=True, rows=[
                PreparedMessage(to=f"+1202555{n % 10_000:04d}", dedupe_key=f"bulk:1:customer:{n}",
                                customer_id=customers[n % len(customers)],
                                body=f"Winter sale, 30% off: https://shop.example/sale?utm_source=sms&c={n}")
                for n in range(start, min(start + 5_000, count))])
    return list(ShortLink.objects.order_by("?").values_list("code", flat=True))


def ceiling(environ, start_response):
    """A WSGI application that does nothing but redirect: what gunicorn and wrk alone allow here."""
    start_response("302 Found", [("Location", "https://shop.example/sale"), ("Content-Length", "0")])
    return [b""]


def _gunicorn(env: dict, app: str = "smsnotify.wsgi:application") -> subprocess.Popen:
    # --preload: the application is loaded once, before the workers fork. Without it each worker
    # imports Django after the port already accepts, and on a loaded machine wrk's first seconds
    # went to a worker still booting (first clicks varied twofold from run to run).
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{PORT}", "-w", "2",
         "-k", "gthread", "--threads", "4", "--keep-alive", "30", "--log-level", "warning", "--preload"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited: {server.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not start")


def _wrk(codes_file: str, prefix: str, cookie: str = "") -> tuple[float, int]:
    """Requests per second and non-3xx answers of one load."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"codes": codes_file, "prefix": prefix, "cookie": cookie})
    done = subprocess.run(["wrk", "-t2", "-c32", f"-d{SECONDS}s", "-s", script.name, f"http://127.0.0.1:{PORT}"],
                          capture_output=True, text=True, check=True)
    os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return rate, int(bad.group(1)) if bad else 0


def _served(env: dict, codes_file: str, prefix: str, code: str, cookies: tuple[str, ...] = ("",),
            app: str = "smsnotify.wsgi:application") -> list[tuple[float, int]]:
    """The loads, one after the other on one server (so the second finds what the first left in it)."""
    server = _gunicorn(env, app)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{PORT}{prefix}{code}", method="GET")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        try:
            urllib.request.build_opener(NoRedirect).open(request)
        except urllib.error.HTTPError as answer:  # the 302, not followed
            assert answer.code == 302 and answer.headers["Location"].startswith("https://shop.example/sale"), answer
        results = []
        for cookie in cookies:
            rate, bad = _wrk(codes_file, prefix, cookie)
            print(f"  {prefix}{' with the cookie' if cookie else ''}: {rate:,.0f} requests/s, {bad} errors")
            results.append((rate, bad))
        return results
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=LINKS)
    args = parser.parse_args()
    try:
        subprocess.run(["wrk", "--version"], capture_output=True, check=False)
    except FileNotFoundError:
        sys.exit("bench_shortlink needs wrk (apt-get install wrk).")
    env = _env()
    _recreate_database()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.report import record
    from smsnotify.models import LinkClick

    codes = _links(args.links)
    from django.db import connection

    connection.close()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as codes_file:
        codes_file.write("\n".join(codes) + "\n")
    naive_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.naive_shortlink_settings"}
    try:
        both = ("", "sl_seen=1")
        (first, bad_first), (repeat, bad_repeat) = _served(env, codes_file.name, "/s/", codes[0], both)
        clicks = LinkClick.objects.count()  # the first clicks: the returning browsers wrote none
        (naive_first, bad_naive), (naive_repeat, _bad) = _served(naive_env, codes_file.name, "/n/", codes[0], both)
        ((bare, _bad),) = _served(env, codes_file.name, "/x/", codes[0], app="bench.bench_shortlink:ceiling")
    finally:
        os.unlink(codes_file.name)
    if bad_first or bad_repeat or bad_naive:
        print(f"errors: first {bad_first}, repeat {bad_repeat}, naive {bad_naive}")
    load = os.getloadavg()[0]
    notes = (f"gunicorn 2 workers x 4 threads (gthread), PostgreSQL, wrk -t2 -c32 {SECONDS}s keep-alive, "
             f"{args.links:,} links; {clicks:,} first clicks written; a WSGI app doing nothing served "
             f"{bare:,.0f}/s in the same run (load average {load:.1f} on {os.cpu_count()} cores)")
    met = record("shortlink_first_clicks", figure=first, unit="requests/s", target=TARGET, naive=naive_first,
                 notes=notes)
    record("shortlink_repeat_clicks", figure=repeat, unit="requests/s", target=None, naive=naive_repeat,
           notes=notes + "; returning browsers (the cookie) on the same server: no click written, a link read "
                         "once per process")
    return 0 if met and not (bad_first or bad_repeat or bad_naive) else 1


if __name__ == "__main__":
    sys.exit(main())
