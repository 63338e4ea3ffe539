"""Twilio Programmable Messaging through the official SDK, plus its webhook helpers.

Sending is the easy part; deciding what a failure *means* is the hard part, because
Twilio has no idempotency key for ``Messages.create``. Every failure is sorted into one
of three answers (see ``smsnotify.gateways.base``):

- ``TransientGatewayError``: Twilio surely did not create the message. Resending is safe.
- ``PermanentGatewayError``: Twilio looked at this message and refused it; it would
  refuse it again.
- ``AmbiguousGatewayError``: the request may have reached Twilio. Resending could text
  the customer twice, so the caller marks the message ``unknown`` and reconciles it with
  ``find_sent`` (Twilio lets us list messages by recipient).

When in doubt the answer is Ambiguous: a wrong "Transient" sends twice, a wrong
"Ambiguous" only costs a reconciliation.

The webhook helpers (signature check, public URL, status-callback parsing) live here
too, beside the backend whose provider sends them; the view that uses them is thin.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import make_headers
from urllib3.util.retry import Retry

from .base import (
    AmbiguousGatewayError,
    BaseGateway,
    DeliveryReport,
    GatewayError,
    InboundSms,
    OutboundSms,
    PermanentGatewayError,
    RecipientOptedOut,
    SendResult,
    SentRef,
    TransientGatewayError,
    report_billed,
)

logger = logging.getLogger(__name__)

# --- Error classification --------------------------------------------------------------------

# Refusals about Twilio's load, not the message: the message was NOT queued, and the
# same request succeeds later. 21611 = the sender's queue is full (arrives as HTTP 400,
# so it must be checked before the generic "4xx is permanent" rule); 30001 = queue
# overflow; 20429 = too many requests (arrives as HTTP 429).
TRANSIENT_CODES = frozenset({20429, 21611, 30001})

# Never let urllib3 retry on its own: a retry after a read timeout would POST the message a
# second time; a retry after a failed connect would be harmless, but the caller's backoff
# already handles that. Pinned on every pool instead of trusting defaults that may change.
_NO_RETRIES = Retry(total=0, connect=0, read=False, redirect=0, status=0, other=0)

# Exceptions that prove the TCP/TLS connection was never established, so no byte of the
# request reached Twilio. NewConnectionError covers refused connections and (through its
# subclass NameResolutionError) DNS failures; ConnectTimeoutError is a connect timeout.
# A certificate that fails verification also aborts before the request is written.
_NEVER_CONNECTED = (
    NewConnectionError,
    ConnectTimeoutError,
    ClosedPoolError,
    ConnectionRefusedError,
    socket.gaierror,
    ssl.SSLCertVerificationError,
)
# requests raises these while preparing the request, before anything is sent.
_NOT_SENT_REQUEST_ERRORS = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.URLRequired,
)


def _causes(exc: BaseException):
    """Yield ``exc`` and what it wraps: requests puts the urllib3 error in ``args[0]``,
    urllib3's MaxRetryError in ``reason``, ProxyError in ``original_error``, and
    ``raise … from`` in ``__cause__``. ``__context__`` is deliberately not followed: an
    unrelated exception handled earlier must not make a failure look harmless."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        for attr in ("reason", "original_error", "__cause__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                stack.append(inner)


def _connection_never_opened(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    return any(isinstance(cause, _NEVER_CONNECTED) for cause in _causes(exc))


def classify_send_error(exc: Exception) -> GatewayError:
    """Map what ``Messages.create`` raised to Transient / Permanent / Ambiguous."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(exc.status or 0)
        code = exc.code
        if isinstance(exc, TwilioServiceException):
            text = exc.detail or exc.title or ""
        else:
            text = exc.msg or ""
        code_str = str(code) if code is not None else str(status)
        if status == 429:
            # Rate limited: Twilio answered before creating anything.
            return TransientGatewayError(text, code=code_str)
        if status >= 500:
            # The request reached Twilio and something broke while handling it; the
            # message may have been created before the failure. Never resend blindly,
            # whatever code the body carries.
            return AmbiguousGatewayError(text, code=code_str)
        if code in TRANSIENT_CODES:
            return TransientGatewayError(text, code=code_str)
        if status == 401:
            # Deliberate deviation from "every 4xx is permanent": 401 (20003) means our
            # credentials were refused — an account-level configuration error (a token
            # rotated, a typo in the environment), not a fault of this message. Twilio
            # created nothing, so retrying is safe, and once the token is fixed the
            # message goes out instead of a whole batch failing for good.
            return TransientGatewayError(text, code=code_str)
        if code_str == "21610":
            return RecipientOptedOut(text, code=code_str)
        if status >= 400:  # a 4xx (5xx returned above)
            # Twilio validated this message and refused it (21211 invalid To, 21212 invalid
            # From, 21408 region not enabled, 21610 STOP, 21612 cannot route, 21614 not a
            # mobile, 21617 body too long …): the same request would be refused again.
            return PermanentGatewayError(text, code=code_str)
        # 1xx/3xx or no status at all: nothing proves the message was not created.
        return AmbiguousGatewayError(text, code=code_str)

    if isinstance(exc, requests.exceptions.RequestException):
        if isinstance(exc, _NOT_SENT_REQUEST_ERRORS):
            return TransientGatewayError(f"Twilio request not sent: {exc}", code="url")
        if isinstance(exc, requests.exceptions.ConnectionError) and _connection_never_opened(exc):
            # Refused, DNS failure, connect timeout, certificate rejected: no byte of
            # the request left this machine.
            return TransientGatewayError(f"Could not connect to Twilio: {exc}", code="connect")
        if isinstance(exc, requests.exceptions.Timeout):
            # ReadTimeout: the request was sent and we stopped waiting for the answer.
            # Twilio may well have created the message.
            return AmbiguousGatewayError(f"No answer from Twilio in time: {exc}", code="timeout")
        # Anything else happened on an open connection after (or while) the request was
        # written: the connection was reset or dropped, the response was truncated
        # (ChunkedEncodingError), a proxy failed mid-way... Twilio may have the message.
        return AmbiguousGatewayError(f"Connection to Twilio failed after sending: {exc}", code="connection")

    if isinstance(exc, ValueError):
        # The SDK got a 2xx but the body was not the JSON it expected: Twilio most
        # likely created the message, but we do not have its SID.
        return AmbiguousGatewayError(f"Unreadable answer from Twilio: {exc}", code="response")

    # Unknown failure once the SDK was called: be conservative.
    return AmbiguousGatewayError(f"Unexpected error talking to Twilio: {exc!r}", code="unexpected")


def _lookup_error(exc: Exception) -> GatewayError:
    """Errors of read-only calls (list, fetch): retrying them can never send anything."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return TransientGatewayError(
            getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "") or "",
            code=str(exc.code or exc.status or ""),
        )
    return TransientGatewayError(f"Twilio lookup failed: {exc}", code="lookup")


# --- Statuses --------------------------------------------------------------------------------

_STATUS_MAP = {
    # Accepted by Twilio but not (yet) confirmed by the carrier: for us, "sent".
    "accepted": "sent",  # a Messaging Service took it and will pick a sender
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",  # handed to the carrier; many carriers never report further
    "delivered": "delivered",
    # A read receipt (WhatsApp, RCS) implies delivery; we have no "read" status.
    "read": "delivered",
    "undelivered": "undelivered",  # the carrier could not deliver it (30003-30008 …)
    "failed": "failed",  # Twilio could not send it (not charged)
    # Canceled only happens to scheduled messages canceled before their send time: the
    # customer never got it and Twilio does not charge it. Our Message model has no
    # "canceled"; "failed" is the terminal state that means "never sent", which keeps
    # refunds and the merchant's view right.
    "canceled": "failed",
    # Inbound statuses are not reports about something we sent.
    "receiving": "",
    "received": "",
}


def map_status(twilio_status: str | None) -> str:
    """Twilio's message status in our terms: sent, delivered, undelivered, failed, or ""
    for statuses that say nothing about delivery (inbound messages, unknown values such
    as ``partially_delivered``, which callers should log and ignore)."""
    return _STATUS_MAP.get((twilio_status or "").strip().lower(), "")


# --- The backend ------------------------------------------------------------------------------

# How far our clock and Twilio's may disagree when matching a message we might have
# created. Wider would risk matching an identical, older message to the same person.
CLOCK_SKEW = dt.timedelta(seconds=60)
# Records read from Twilio when looking for a message that has no date_sent yet.
FIND_SCAN_LIMIT = 200

_SMART_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
     "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u00a0": " "}
)


def _same_body(ours: str, theirs: str | None) -> bool:
    # A Messaging Service with Smart Encoding on may swap typographic quotes and dashes
    # for GSM-7 ones; that must not hide the message we are looking for.
    return theirs is not None and ours.translate(_SMART_QUOTES).strip() == theirs.translate(_SMART_QUOTES).strip()


def _setting(name: str, default):
    return getattr(settings, name, default)


# A connection kept by the process is dropped when it sat unused this long: a load balancer may
# close an idle keep-alive socket (AWS's default after 60 s) just as a request goes out on it, and
# a request lost that way is ambiguous (the message becomes unknown until reconciled).
KEEP_ALIVE_IDLE_SECONDS = 30.0


def _form_pairs(values: Mapping) -> list[tuple]:
    """``values`` as requests encodes a dict: a list is one pair per item, None is left out."""
    pairs = []
    for key, value in values.items():
        items = [value] if isinstance(value, str | bytes) or not hasattr(value, "__iter__") else value
        pairs += [(key, item) for item in items if item is not None]
    return pairs


def _as_requests_error(exc: Exception) -> Exception:
    """The requests exception requests' HTTPAdapter.send raises for this urllib3 failure, so that
    classify_send_error reads a failure the same whichever library made the call."""
    if isinstance(exc, LocationValueError):
        return requests.exceptions.InvalidURL(exc)
    if isinstance(exc, ProtocolError | OSError):
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, MaxRetryError):
        reason = exc.reason
        if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
            return requests.exceptions.ConnectTimeout(exc)
        if isinstance(reason, ResponseError):
            return requests.exceptions.RetryError(exc)
        if isinstance(reason, Urllib3ProxyError):
            return requests.exceptions.ProxyError(exc)
        if isinstance(reason, Urllib3SSLError):
            return requests.exceptions.SSLError(exc)
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, ClosedPoolError):
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, Urllib3ProxyError):
        return requests.exceptions.ProxyError(exc)
    if isinstance(exc, Urllib3SSLError):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    return exc


class _HttpClient(HttpClient):
    """The SDK's HTTP client on the process's urllib3 pool. The SDK's own (TwilioHttpClient) goes
    through requests' Session for every call: a Request, a PreparedRequest, cookie jars, hooks,
    the environment's proxy settings read again; that doubled the CPU a Messages call costs a
    worker (1.5 ms against 0.8 ms here), and a batch's calls share one interpreter lock. Failures
    are raised as requests raises them (``_as_requests_error``), so they are classified alike."""

    def __init__(self, connection: _Connection):
        super().__init__(logger=logging.getLogger("twilio.http_client"), is_async=False, timeout=connection.timeout)
        self.connection = connection

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False) -> TwilioResponse:
        timeout = self.timeout if timeout is None else timeout
        headers = dict(headers or {})
        if params:
            url += ("&" if "?" in url else "?") + urlencode(_form_pairs(params))
        body = None
        if data:
            if headers.get("Content-Type") in ("application/json", "application/scim+json"):
                body = json.dumps(data).encode()
            else:
                body = urlencode(_form_pairs(data)).encode()
        if auth:
            headers["Authorization"] = make_headers(basic_auth=f"{auth[0]}:{auth[1]}")["authorization"]
        if self.logger.isEnabledFor(logging.INFO):
            self.log_request({"method": method.upper(), "url": url, "params": None, "headers": headers})
        try:
            answer = self.connection.pool.urlopen(
                method.upper(), url, body=body, headers=headers, redirect=allow_redirects, retries=_NO_RETRIES,
                timeout=urllib3.Timeout(connect=timeout, read=timeout), assert_same_host=False,
                preload_content=True)
        except Exception as exc:  # noqa: BLE001 - mapped as requests maps it
            raise _as_requests_error(exc) from exc
        response = TwilioResponse(answer.status, answer.data.decode("utf-8", "replace"), answer.headers)
        if self.logger.isEnabledFor(logging.INFO):
            self.log_response(answer.status, response)
        return response


def _pool(*, base_url: str, size: int) -> urllib3.PoolManager:
    """Keep-alive connections to Twilio (``size`` per host), honouring the environment as requests
    does, read once: HTTPS_PROXY / NO_PROXY, and REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (else
    certifi's bundle, as requests)."""
    target = base_url or "https://api.twilio.com"
    environment = requests.Session().merge_environment_settings(target, {}, None, None, None)
    verify = environment["verify"]
    options = {"num_pools": 2, "maxsize": size, "retries": _NO_RETRIES}
    if verify is False:
        options["cert_reqs"] = "CERT_NONE"
    else:
        bundle = verify if isinstance(verify, str) else requests.certs.where()
        options.update(cert_reqs="CERT_REQUIRED",
                       **({"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}))
    proxy = requests.utils.select_proxy(target, environment["proxies"])
    if not proxy:
        return urllib3.PoolManager(**options)
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if parts.scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"The proxy {parts.scheme}://{parts.hostname} for Twilio is not an HTTP proxy.")
    username, password = requests.utils.get_auth_from_url(proxy)
    proxy_headers = make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
    return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **options)


class _Connection:
    """The process's pooled connections to Twilio and each thread's SDK client over them, kept
    from one delivery run to the next: a batch reuses the open keep-alive (TLS) connections and
    the built clients instead of a handshake and a client per call in flight, per batch.

    Every call stays as safe as on a fresh connection: no retry by the HTTP library
    (``_NO_RETRIES``), and urllib3 checks a pooled socket is still open before writing on it."""

    _lock = threading.Lock()
    _current: _Connection | None = None

    def __init__(self, key: tuple, *, base_url: str, size: int, timeout: float, account_sid: str, auth_token: str):
        self.key, self.base_url, self.timeout, self.account_sid, self.auth_token = (
            key, base_url, timeout, account_sid, auth_token)
        self.pool = _pool(base_url=base_url, size=size)  # one socket per call in flight
        self.local = threading.local()
        self.users = 0
        self.last_used = time.monotonic()

    @classmethod
    def take(cls, gateway: TwilioGateway) -> _Connection:
        """The process's connection for ``gateway``'s account, URL, timeout and size: the kept one,
        or a new one (kept from now on) for other settings or when the kept one sat idle too long."""
        key = (gateway.account_sid, gateway.auth_token, gateway.api_base_url, gateway.timeout, gateway.max_in_flight)
        with cls._lock:
            current = cls._current
            if current is None or current.key != key or (
                    current.users == 0 and time.monotonic() - current.last_used > KEEP_ALIVE_IDLE_SECONDS):
                if current is not None and current.users == 0:
                    current.pool.clear()  # else its last user closes it (release)
                current = cls._current = cls(key, base_url=gateway.api_base_url, size=gateway.max_in_flight,
                                             timeout=gateway.timeout, account_sid=gateway.account_sid,
                                             auth_token=gateway.auth_token)
            current.users += 1
            return current

    def release(self) -> None:
        with self._lock:
            self.users -= 1
            self.last_used = time.monotonic()
            if self is not _Connection._current and self.users == 0:
                self.pool.clear()

    @classmethod
    def forget(cls) -> None:
        """In a forked child (a Celery prefork worker): sockets and locks are never shared between
        processes, so the child starts without the parent's connection."""
        cls._current, cls._lock = None, threading.Lock()

    def client(self) -> Client:
        """This thread's SDK client (built once per thread: the SDK's objects are not documented
        as safe to share between threads)."""
        client = getattr(self.local, "client", None)
        if client is None:
            client = Client(self.account_sid, self.auth_token, http_client=_HttpClient(self))
            if self.base_url:
                # Every Messages call (create, list, next pages, fetch) builds its URL from
                # Domain.base_url at call time (twilio/base/domain.py: absolute_url), so
                # replacing it on the "api" domain redirects all of them.
                client.api.base_url = self.base_url.rstrip("/")
                # TWILIO_REGION / TWILIO_EDGE in the environment would make the SDK rewrite
                # the host (ClientBase.get_hostname); a custom base URL means this host exactly.
                client.region = None
                client.edge = None
            self.local.client = client
        return client


os.register_at_fork(after_in_child=_Connection.forget)


class TwilioGateway(BaseGateway):
    name = "twilio"
    paced = True
    # Webhooks are the primary source of delivery reports; polling heals lost callbacks
    # and is the only source when no status_callback URL is configured.
    poll_reports_after = dt.timedelta(minutes=10)

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        api_base_url: str | None = None,
        timeout: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.account_sid = account_sid if account_sid is not None else _setting("TWILIO_ACCOUNT_SID", "")
        self.auth_token = auth_token if auth_token is not None else _setting("TWILIO_AUTH_TOKEN", "")
        self.messaging_service_sid = (
            messaging_service_sid
            if messaging_service_sid is not None
            else _setting("TWILIO_MESSAGING_SERVICE_SID", "")
        )
        self.from_number = from_number if from_number is not None else _setting("TWILIO_FROM_NUMBER", "")
        self.api_base_url = (api_base_url if api_base_url is not None else _setting("TWILIO_API_BASE_URL", "")) or ""
        self.timeout = float(timeout if timeout is not None else _setting("TWILIO_TIMEOUT", 10))
        # Twilio answers in a few hundred ms: one call at a time would send a handful a second. A
        # whole batch in flight at once waits for one answer time, not one per wave of calls.
        self.max_in_flight = int(_setting("TWILIO_MAX_IN_FLIGHT", _setting("SMS_DISPATCH_BATCH", 100)))

        if not self.account_sid:
            raise ImproperlyConfigured("TwilioGateway needs TWILIO_ACCOUNT_SID (the Account SID, AC…).")
        if not self.auth_token:
            raise ImproperlyConfigured("TwilioGateway needs TWILIO_AUTH_TOKEN.")
        if not (self.messaging_service_sid or self.from_number):
            raise ImproperlyConfigured(
                "TwilioGateway needs a default sender: set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER."
            )
        if self.timeout <= 0:
            raise ImproperlyConfigured("TWILIO_TIMEOUT must be a positive number of seconds.")
        if self.api_base_url and urlsplit(self.api_base_url).scheme not in ("http", "https"):
            raise ImproperlyConfigured(f"TWILIO_API_BASE_URL={self.api_base_url!r} is not an http(s) URL.")

        self._pool: urllib3.PoolManager | None = None
        self._connection: _Connection | None = None

    # -- connection ---------------------------------------------------------------------------

    def open(self) -> None:
        if self._pool is not None:
            return
        self._connection = _Connection.take(self)
        self._pool = self._connection.pool

    def close(self) -> None:
        # The process keeps the connection (its keep-alive sockets and SDK clients) for the next
        # batch; this gateway only lets go of it.
        if self._connection is not None:
            self._connection.release()
        self._pool, self._connection = None, None

    @property
    def _client(self) -> Client | None:
        """This thread's SDK client over the process's pool; None while closed."""
        if self._connection is None:
            return None
        return self._connection.client()

    def _with_client(self, call):
        """Run ``call(client)``, opening (and afterwards closing) a connection when the
        caller did not open one for a batch, as django.core.mail backends do."""
        if self._pool is not None:
            return call(self._client)
        self.open()
        try:
            return call(self._client)
        finally:
            self.close()

    @property
    def default_sender(self) -> str:
        return self.messaging_service_sid or self.from_number

    # -- sending ------------------------------------------------------------------------------

    def _sender_kwargs(self, sms: OutboundSms) -> dict:
        # An explicit sender (a shop's alphanumeric id or number) wins; with a Messaging
        # Service configured it is still passed so the service's settings (status
        # callback, smart encoding…) apply while the sender is pinned.
        if sms.sender:
            kwargs = {"from_": sms.sender}
            if self.messaging_service_sid:
                kwargs["messaging_service_sid"] = self.messaging_service_sid
            return kwargs
        if self.messaging_service_sid:
            return {"messaging_service_sid": self.messaging_service_sid}
        return {"from_": self.from_number}

    def send(self, sms: OutboundSms) -> SendResult:
        kwargs = {"to": sms.to, "body": sms.body, **self._sender_kwargs(sms)}
        if sms.status_callback:
            kwargs["status_callback"] = sms.status_callback
        if sms.validity_seconds:
            kwargs["validity_period"] = sms.validity_seconds

        opened_here = self._pool is None
        if opened_here:
            self.open()  # outside the try: a failure here happens before anything is sent
        try:
            message = self._client.messages.create(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure must become a GatewayError
            error = classify_send_error(exc)
            logger.warning(
                "Twilio send %s to %s failed: %s %s",
                sms.reference, sms.to, type(error).__name__, error.code,
                exc_info=error.code == "unexpected",
            )
            raise error from exc
        finally:
            if opened_here:
                self.close()
        if not message.sid:
            raise AmbiguousGatewayError("Twilio answered without a message SID.", code="response")
        return SendResult(provider_id=message.sid, status="sent")

    # -- reconciliation -----------------------------------------------------------------------

    def _known_sender(self, sms: OutboundSms) -> str:
        if sms.sender:
            return sms.sender
        if not self.messaging_service_sid:
            return self.from_number
        return ""  # the Messaging Service picks the number

    def _matches(self, message, sms: OutboundSms, earliest: dt.datetime) -> bool:
        if (message.direction or "outbound-api").startswith("inbound"):
            return False
        if not _same_body(sms.body, message.body):
            return False
        sender = self._known_sender(sms)
        if sender and not (message.from_ and message.from_.lower() == sender.lower()):
            return False
        if not sender and self.messaging_service_sid and message.messaging_service_sid not in (
            None,
            "",
            self.messaging_service_sid,
        ):
            return False
        created = message.date_created
        return created is None or created >= earliest

    def find_sent(self, sms: OutboundSms, *, since: dt.datetime) -> SendResult | None:
        """Find a message Twilio may have created despite an ambiguous error.

        ``since`` is when we started the ambiguous attempt (naive values are taken as
        UTC). Two reads, because Twilio's only date filter is on ``date_sent``, which
        stays null while a message waits in Twilio's queue (queued/accepted/scheduled):

        1. ``To`` + ``DateSent>=`` the day before ``since`` — the documented
           ``YYYY-MM-DD`` form; coarse, so we filter on ``date_created`` ourselves.
           This finds every message that has left Twilio, however busy the recipient.
        2. ``To`` alone, newest first, at most FIND_SCAN_LIMIT records — for a message
           still waiting in the queue, which the date filter cannot see.

        A match needs the same body, the same sender when we know it, and a creation
        time no earlier than ``since`` minus CLOCK_SKEW. If the newest records are all
        recent and none matches, we cannot tell, and say so with TransientGatewayError.
        Every read is safe to repeat, so any failure is Transient.
        """
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
        earliest = since - CLOCK_SKEW
        day_before = (earliest.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%d")

        def lookup(client: Client) -> SendResult | None:
            messages = client.messages
            for message in messages.stream(to=sms.to, date_sent_after=day_before, page_size=100):
                if self._matches(message, sms, earliest):
                    return _found(message)
            scanned = 0
            last_created = None
            for message in messages.stream(to=sms.to, limit=FIND_SCAN_LIMIT, page_size=100):
                scanned += 1
                last_created = message.date_created
                if self._matches(message, sms, earliest):
                    return _found(message)
            if scanned >= FIND_SCAN_LIMIT and (last_created is None or last_created >= earliest):
                raise TransientGatewayError(
                    f"More than {FIND_SCAN_LIMIT} recent messages to {sms.to}; cannot tell whether "
                    f"{sms.reference} was created.",
                    code="inconclusive",
                )
            return None

        try:
            return self._with_client(lookup)
        except GatewayError:
            raise
        except Exception as exc:  # noqa: BLE001 - a lookup failure is always retryable
            raise _lookup_error(exc) from exc

    # -- polling --------------------------------------------------------------------------------

    def fetch_reports(self, sent: list[SentRef]) -> list[DeliveryReport]:
        """Fetch each message by SID. A SID Twilio no longer knows (404: deleted, or
        from another account) is skipped; any other failure raises TransientGatewayError
        and the poll simply runs again later."""

        def poll(client: Client) -> list[DeliveryReport]:
            reports = []
            for ref in sent:
                try:
                    message = client.messages(ref.provider_id).fetch()
                except (TwilioRestException, TwilioServiceException) as exc:
                    if exc.status == 404:
                        logger.warning("Twilio does not know message %s; skipped.", ref.provider_id)
                        continue
                    raise
                status = map_status(message.status)
                if not status:
                    if message.status not in ("receiving", "received"):
                        logger.warning("Unknown Twilio status %r for %s; ignored.", message.status, message.sid)
                    continue
                error_code = str(message.error_code) if message.error_code else ""
                reports.append(
                    DeliveryReport(
                        provider_id=message.sid or ref.provider_id,
                        status=status,
                        error_code=error_code,
                        error_text=message.error_message or "",
                        billed=report_billed(status, error_code),
                        extra=_message_extra(message),
                    )
                )
            return reports

        if not sent:
            return []
        try:
            return self._with_client(poll)
        except Exception as exc:  # noqa: BLE001 - a lookup failure is always retryable
            raise _lookup_error(exc) from exc


def _found(message) -> SendResult:
    status = map_status(message.status)
    # SendResult only knows "sent" and "delivered"; a later failure of a found message is
    # reported by fetch_reports / the status callback like any other.
    return SendResult(provider_id=message.sid, status="delivered" if status == "delivered" else "sent")


def _message_extra(message) -> dict:
    extra = {
        "twilio_status": message.status or "",
        "to": message.to or "",
        "from": message.from_ or "",
        "account_sid": message.account_sid or "",
        "num_segments": message.num_segments or "",
        "price": message.price or "",
        "price_unit": message.price_unit or "",
    }
    if message.date_updated:
        extra["date_updated"] = message.date_updated.isoformat()
    return extra


# --- Webhooks ---------------------------------------------------------------------------------


def signature_is_valid(*, auth_token: str, url: str, params: Mapping, signature: str) -> bool:
    """Check ``X-Twilio-Signature`` for a form-encoded webhook.

    ``url`` must be exactly the URL Twilio requested (scheme, host, path and query); see
    ``public_url``. ``params`` is the POST form. ``request.POST.dict()`` is fine for
    status callbacks (every field appears once); passing the QueryDict itself is also
    accepted, and is needed if a field can repeat, because the SDK then signs every value.
    """
    if not auth_token or not signature:
        # An empty token would make the HMAC key public: never accept it.
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


def public_url(request_path_with_query: str) -> str | None:
    """The absolute URL Twilio called, rebuilt from ``settings.PUBLIC_BASE_URL``.

    Behind a TLS-terminating proxy ``request.build_absolute_uri()`` says ``http://``
    while Twilio signed ``https://…``. Pass ``request.get_full_path()``. Returns None
    when PUBLIC_BASE_URL is empty: the caller then uses ``request.build_absolute_uri()``.
    PUBLIC_BASE_URL is an origin (``https://sms.example.com``): the request path already
    carries any script prefix, so a path in the setting would be counted twice.
    """
    base = (_setting("PUBLIC_BASE_URL", "") or "").strip()
    if not base:
        return None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ImproperlyConfigured(
            f"PUBLIC_BASE_URL={base!r} must be scheme://host[:port] with no path, e.g. https://sms.example.com"
        )
    path = request_path_with_query if request_path_with_query.startswith("/") else "/" + request_path_with_query
    return f"{parts.scheme}://{parts.netloc}{path}"


def parse_status_callback(params: Mapping) -> DeliveryReport:
    """Turn a Twilio message status callback (a POST form) into a DeliveryReport.

    ``status`` is "" for statuses that are not delivery reports (inbound messages,
    unknown values); the caller ignores those. ``extra["AccountSid"]`` must be compared
    with our account by the caller, as must the signature. Callbacks can arrive out of
    order (a late "sent" after "delivered"): the caller must not move a message back.
    Raises ValueError when the form has no message SID (answer 400).
    """
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise ValueError("Not a Twilio message status callback: no MessageSid.")
    raw_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    extra = {"twilio_status": raw_status}
    for key in ("AccountSid", "To", "From", "SmsSid", "MessagingServiceSid", "RawDlrDoneDate", "ApiVersion"):
        value = params.get(key)
        if value:
            extra[key] = value
    status, error_code = map_status(raw_status), params.get("ErrorCode") or ""
    return DeliveryReport(
        provider_id=sid,
        status=status,
        error_code=error_code,
        error_text=params.get("ErrorMessage") or "",
        billed=report_billed(status, error_code),
        extra=extra,
    )


def parse_inbound(params: Mapping) -> InboundSms:
    """Turn Twilio's incoming-message webhook (a POST form) into an InboundSms.

    ``OptOutType`` (STOP, START, HELP) is present when Twilio's own opt-out handling read the
    text as a keyword (and answered it itself). Raises ValueError without a message SID or a
    sender (answer 400); the caller checks the signature and the account.
    """
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    sender = params.get("From") or ""
    if not sid or not sender:
        raise ValueError("Not a Twilio incoming message: no MessageSid or From.")
    return InboundSms(sender=sender, to=params.get("To") or "", body=params.get("Body") or "", provider_id=sid,
                      gateway="twilio", opt_out_type=(params.get("OptOutType") or "").upper())
