"""A local, Twilio-compatible HTTP server for tests (standard library only).

It speaks just enough of the REST API (``/2010-04-01/Accounts/{AccountSid}/…``) for the
real ``twilio`` SDK to run against it unchanged:

- ``POST Messages.json``        create a message (form-encoded To, From,
                                 MessagingServiceSid, Body, StatusCallback…)
- ``GET  Messages.json``        list, newest first, with the ``To``, ``From``,
                                 ``DateSent``, ``DateSent<``, ``DateSent>`` filters and
                                 Twilio's paging envelope (``next_page_uri`` …)
- ``GET  Messages/{Sid}.json``  fetch one message

Every request needs HTTP Basic auth with the server's account SID and auth token.

Failures are scripted, one action consumed per POST to Messages.json, in order; when the
script is empty the POST succeeds::

    server.script(Reply(status=400, code=21211))   # refused, nothing created
    server.script(Reply(status=429))               # rate limited
    server.script(Reply(status=500, create=True))  # created, then a 500 anyway
    server.script(Delay(1.5))                      # created at once, answered late
    server.script(Drop())                          # created, connection closed unanswered

Modelling choices, where Twilio's behaviour is not documented:

- ``date_sent`` is null until the message leaves the queue (``set_status(sid, "sent")``
  or later), as on Twilio; a DateSent filter never matches a message without one.
- Lists are newest first; messages still without ``date_sent`` come first.
- Unknown query parameters on a list are refused with 400 (Twilio ignores them) so that
  a misspelt filter fails loudly in tests instead of silently matching everything.

Load the fixture with ``pytest_plugins = ["tests.fakes.twilio_server"]``.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import itertools
import json
import math
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
DEFAULT_FROM = "+15017122661"  # the number a Messaging Service "picks" once a message is sent

ERROR_MESSAGES = {
    20001: "Invalid parameter.",
    20003: "Authentication Error - invalid username",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number is not a valid phone number.",
    21212: "The 'From' number is not a valid phone number, shortcode, or alphanumeric sender ID.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21612: "The 'To' phone number is not currently reachable via SMS.",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}
DEFAULT_CODE_FOR_STATUS = {400: 20001, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")
_ALLOWED_LIST_PARAMS = {"To", "From", "DateSent", "DateSent<", "DateSent>", "PageSize", "Page", "PageToken"}


def num_segments(body: str) -> int:
    """Rough SMS segment count: GSM-7 (160/153, escapes count twice) or UCS-2 (70/67)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def rfc2822(moment: dt.datetime | None) -> str | None:
    return format_datetime(moment.astimezone(dt.timezone.utc)) if moment else None


def sign(url: str, params: dict, auth_token: str) -> str:
    """The X-Twilio-Signature Twilio would send for a form POST of ``params`` to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params)


# --- Script actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Answer with ``status``. A 2xx creates the message as usual; an error answers with
    Twilio's error JSON (``code``/``message`` default from the status) and creates the
    message only when ``create`` is true. ``body`` (bytes) replaces the JSON entirely."""

    status: int = 201
    code: int | None = None
    message: str = ""
    create: bool = False
    body: bytes | None = None


@dataclass(frozen=True)
class Delay:
    """Create the message at once (a real provider may), then answer ``then`` (default:
    normal success) after ``seconds`` — long enough for the client to time out. An
    invalid request (no To, no sender…) is still refused at once, without delay."""

    seconds: float
    then: Reply | None = None


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering, after creating the message (unless
    ``create`` is false). ``reset`` sends a TCP RST instead of a clean close."""

    create: bool = True
    reset: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    form: dict[str, str]  # first value of every form field
    form_lists: dict[str, list[str]]
    headers: dict[str, str]
    authorized: bool
    client: tuple = ()  # (host, port) of the client socket: one port = one connection
    at: float = field(default_factory=time.time)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API, so sessions are reused
    # An answer leaves in one write (headers and body buffered, flushed by send_json), with Nagle's
    # algorithm off: written in two parts, the body waited for the client's delayed ACK of the
    # headers, 40 ms on Linux added to every answer, which the real API does not have.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    def setup(self):
        super().setup()
        self.server.fake._connections.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._connections.discard(self.connection)

    def do_GET(self):
        with self.server.fake._busy():
            self.server.fake._handle(self, "GET")

    def do_POST(self):
        with self.server.fake._busy():
            self.server.fake._handle(self, "POST")

    def do_DELETE(self):
        with self.server.fake._busy():
            self.server.fake._handle(self, "DELETE")

    # helpers used by FakeTwilioServer
    def send_json(self, status: int, payload, *, raw: bytes | None = None):
        body = raw if raw is not None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Twilio-Request-Id", "RQ" + uuid.uuid4().hex)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            # The client gave up (read timeout) before the late answer: as on the real API.
            self.close_connection = True
            self.wfile = io.BytesIO()  # what could not be written is dropped, not written again


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # socketserver's 5 resets connections when many calls are in flight
    fake: FakeTwilioServer


class FakeTwilioServer:
    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None, latency: float = 0.0):
        self.latency = latency  # seconds every create waits before answering, as the real API's round trip
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.posts: list[RecordedRequest] = []  # POSTs to Messages.json, in arrival order
        self.requests: list[RecordedRequest] = []  # every request
        self.messages: dict[str, dict] = {}  # sid -> Message resource (JSON-ready), in creation order
        self._meta: dict[str, dict] = {}  # sid -> sort keys
        self._script: list[Reply | Delay | Drop] = []
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._seq = itertools.count()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilioServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        for conn in list(self._connections):  # wake keep-alive handlers blocked on a read
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls -------------------------------------------------------------------------

    def script(self, *actions: Reply | Delay | Drop) -> None:
        with self._lock:
            self._script.extend(actions)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled (e.g. a Delay has answered)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def set_status(self, sid: str, status: str, error_code: int | None = None, error_message: str | None = None):
        with self._lock:
            message = self.messages[sid]
            now = dt.datetime.now(dt.timezone.utc)
            message["status"] = status
            message["date_updated"] = rfc2822(now)
            if status in ("sent", "delivered", "undelivered", "read") and message["date_sent"] is None:
                message["date_sent"] = rfc2822(now)
                self._meta[sid]["date_sent"] = now
                if message["from"] is None:
                    message["from"] = DEFAULT_FROM
                if message["num_segments"] == "0":
                    message["num_segments"] = str(num_segments(message["body"]))
            if error_code is not None:
                message["error_code"] = int(error_code)
                message["error_message"] = error_message or ERROR_MESSAGES.get(int(error_code), "Error")
            if status in ("sent", "delivered", "undelivered") and message["price"] is None:
                message["price"] = "-0.00790"
            return dict(message)

    def callback_params(self, sid: str) -> dict[str, str]:
        """The form Twilio would POST to the message's StatusCallback for its current status."""
        with self._lock:
            message = self.messages[sid]
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": message["from"] or "",
                "MessageSid": sid,
                "MessageStatus": message["status"],
                "SmsSid": sid,
                "SmsStatus": message["status"],
                "To": message["to"],
            }
            if message["messaging_service_sid"]:
                params["MessagingServiceSid"] = message["messaging_service_sid"]
            if message["error_code"] is not None:
                params["ErrorCode"] = str(message["error_code"])
            return params

    # -- request handling ----------------------------------------------------------------------

    def _busy(self):
        fake = self

        class _Busy:
            def __enter__(self):
                with fake._lock:
                    fake._in_flight += 1

            def __exit__(self, *exc):
                with fake._idle:
                    fake._in_flight -= 1
                    fake._idle.notify_all()

        return _Busy()

    def _handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        form_lists = parse_qs(raw.decode("utf-8"), keep_blank_values=True) if raw else {}
        query = parse_qs(parts.query, keep_blank_values=True)
        authorized = self._authorized(handler.headers.get("Authorization", ""))
        record = RecordedRequest(
            method=method,
            path=parts.path,
            query=query,
            form={key: values[0] for key, values in form_lists.items()},
            form_lists=form_lists,
            headers=dict(handler.headers.items()),
            authorized=authorized,
            client=tuple(handler.client_address),
        )
        prefix = f"/{API_VERSION}/Accounts/"
        with self._lock:
            self.requests.append(record)
            if method == "POST" and re.fullmatch(rf"{re.escape(prefix)}[^/]+/Messages\.json", parts.path):
                self.posts.append(record)

        if not authorized:
            handler.send_json(401, self._error_body(401, 20003, "Authentication Error - invalid username"))
            return
        match = re.fullmatch(rf"{re.escape(prefix)}([^/]+)/Messages(?:/([^/]+))?\.json", parts.path)
        if not match or match.group(1) != self.account_sid:
            handler.send_json(404, self._error_body(404, 20404, f"The requested resource {parts.path} was not found"))
            return
        sid = match.group(2)
        if method == "POST" and sid is None:
            self._create(handler, record)
        elif method == "GET" and sid is None:
            self._list(handler, parts.path, query)
        elif method == "GET":
            with self._lock:
                message = self.messages.get(sid)
                message = dict(message) if message else None
            if message is None:
                handler.send_json(404, self._error_body(404, 20404, f"The requested resource {parts.path} was not found"))
            else:
                handler.send_json(200, message)
        else:
            handler.send_json(405, self._error_body(405, 20004, "Method not allowed"))

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    def _error_body(self, status: int, code: int | None, message: str = "") -> dict:
        code = code if code is not None else DEFAULT_CODE_FOR_STATUS.get(status, status)
        return {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _validation_error(self, form: dict[str, str]) -> tuple[int, str] | None:
        if not form.get("To"):
            return 21604, ""
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return 21603, ""
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return 21602, ""
        if len(form.get("Body", "")) > 1600:
            return 21617, ""
        return None

    def _create(self, handler: _Handler, record: RecordedRequest) -> None:
        with self._lock:
            action = self._script.pop(0) if self._script else Reply()
        reply = action.then if isinstance(action, Delay) else action
        reply = reply or Reply()
        creates = (
            action.create if isinstance(action, Drop) else (200 <= reply.status < 300 or reply.create)
        )

        invalid = self._validation_error(record.form) if creates else None
        if invalid:
            code, text = invalid
            handler.send_json(400, self._error_body(400, code, text))
            return
        message = self._store(record.form) if creates else None

        if isinstance(action, Drop):
            handler.close_connection = True
            if action.reset:
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if isinstance(action, Delay):
            time.sleep(action.seconds)
        elif self.latency:
            time.sleep(self.latency)
        if reply.body is not None:
            handler.send_json(reply.status, None, raw=reply.body)
        elif 200 <= reply.status < 300:
            handler.send_json(reply.status, message)
        else:
            handler.send_json(reply.status, self._error_body(reply.status, reply.code, reply.message))

    def _store(self, form: dict[str, str]) -> dict:
        now = dt.datetime.now(dt.timezone.utc)
        sid = "SM" + uuid.uuid4().hex
        service = form.get("MessagingServiceSid") or None
        sender = form.get("From") or None
        body = form.get("Body", "")
        pooled = service is not None and sender is None  # the service picks a sender later
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": None,
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "0" if pooled else str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if pooled else "queued",
            "subresource_uris": {
                "media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json",
            },
            "to": form.get("To"),
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages[sid] = message
            self._meta[sid] = {"date_created": now, "date_sent": None, "seq": next(self._seq)}
            return dict(message)

    def _list(self, handler: _Handler, path: str, query: dict[str, list[str]]) -> None:
        unknown = set(query) - _ALLOWED_LIST_PARAMS
        if unknown:
            handler.send_json(400, self._error_body(400, 20001, f"Unknown parameter(s): {', '.join(sorted(unknown))}"))
            return
        params = {key: values[0] for key, values in query.items()}
        try:
            filters = self._date_filters(params)
            page_size = int(params.get("PageSize", 50))
            page = int(params.get("Page", 0))
            token = params.get("PageToken")
            offset = int(token[2:]) if token else page * page_size
            if not (1 <= page_size <= 1000) or page < 0 or offset < 0 or (token and not token.startswith("PA")):
                raise ValueError
        except ValueError:
            handler.send_json(400, self._error_body(400, 20001, "Invalid paging or date parameter"))
            return

        with self._lock:
            rows = [
                (sid, dict(message), self._meta[sid])
                for sid, message in self.messages.items()
                if (not params.get("To") or message["to"] == params["To"])
                and (not params.get("From") or message["from"] == params["From"])
                and all(check(self._meta[sid]["date_sent"]) for check in filters)
            ]
        # Newest first; messages not sent yet (no date_sent) before the sent ones.
        rows.sort(
            key=lambda row: (
                row[2]["date_sent"] is None,
                row[2]["date_sent"] or row[2]["date_created"],
                row[2]["seq"],
            ),
            reverse=True,
        )
        items = [message for _, message, _ in rows[offset : offset + page_size]]
        filter_params = [(key, params[key]) for key in ("To", "From", "DateSent", "DateSent<", "DateSent>") if key in params]

        def uri(page_number: int, page_offset: int) -> str:
            extra = [("PageSize", page_size), ("Page", page_number)]
            if page_offset:
                extra.append(("PageToken", f"PA{page_offset}"))
            return f"{path}?{urlencode(filter_params + extra)}"

        has_next = offset + page_size < len(rows)
        handler.send_json(
            200,
            {
                "end": offset + len(items) - 1 if items else offset,
                "first_page_uri": uri(0, 0),
                "messages": items,
                "next_page_uri": uri(page + 1, offset + page_size) if has_next else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": uri(page - 1, max(offset - page_size, 0)) if offset > 0 else None,
                "start": offset,
                "uri": uri(page, offset),
            },
        )

    @staticmethod
    def _date_filters(params: dict[str, str]):
        """DateSent, DateSent< and DateSent> take YYYY-MM-DD (a whole GMT day) or a
        YYYY-MM-DDTHH:MM:SSZ moment (what the SDK sends for a datetime). A message with
        no date_sent never matches, as in a SQL comparison with NULL."""

        def parse(value: str):
            for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
                try:
                    moment = dt.datetime.strptime(value, fmt).replace(tzinfo=dt.timezone.utc)
                except ValueError:
                    continue
                return moment, fmt == "%Y-%m-%d"
            raise ValueError(value)

        checks = []
        if "DateSent>" in params:
            moment, _ = parse(params["DateSent>"])  # on or after (midnight, for a day)
            checks.append(lambda sent, m=moment: sent is not None and sent >= m)
        if "DateSent<" in params:
            moment, whole_day = parse(params["DateSent<"])  # on or before (the whole day)
            if whole_day:
                checks.append(lambda sent, d=moment.date(): sent is not None and sent.date() <= d)
            else:
                checks.append(lambda sent, m=moment: sent is not None and sent <= m)
        if "DateSent" in params:
            moment, _ = parse(params["DateSent"])  # sent on that GMT day
            checks.append(lambda sent, d=moment.date(): sent is not None and sent.date() == d)
        return checks


@pytest.fixture
def twilio_server():
    """A fresh fake Twilio API on 127.0.0.1 (ephemeral port) for one test."""
    server = FakeTwilioServer().start()
    try:
        yield server
    finally:
        server.stop()
