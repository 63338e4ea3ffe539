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
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from urllib3.exceptions import ClosedPoolError, ConnectTimeoutError, NewConnectionError
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

# Never let urllib3 retry on its own. requests' default is already Retry(0, read=False),
# but the SDK mounts its own adapter for https:// (with Retry(n) when max_retries is set),
# so we pin the behaviour on both schemes instead of trusting defaults that may change.
# A retry after a read timeout would POST the message a second time; a retry after a
# failed connect would be harmless, but the caller's backoff already handles that.
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
        if 400 <= status < 500:
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
    return (ours or "").translate(_SMART_QUOTES).strip() == (theirs or "").translate(_SMART_QUOTES).strip()


def _setting(name: str, default):
    return getattr(settings, name, default)


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
        # Twilio answers in a few hundred ms: one call at a time would send a handful a second.
        self.max_in_flight = int(_setting("TWILIO_MAX_IN_FLIGHT", 32))

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

        self._session: requests.Session | None = None
        self._local = threading.local()

    # -- connection ---------------------------------------------------------------------------

    def open(self) -> None:
        if self._session is not None:
            return
        session = requests.Session()
        # One pooled connection per call in flight (send_many runs max_in_flight at once).
        adapter = HTTPAdapter(max_retries=_NO_RETRIES, pool_connections=1, pool_maxsize=self.max_in_flight)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._session, self._local = session, threading.local()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session, self._local = None, threading.local()

    @property
    def _client(self) -> Client | None:
        """This thread's SDK client over the shared session. One per thread, because the SDK's
        HTTP client keeps each response on itself before returning it (TwilioHttpClient.request:
        ``self._test_only_last_response``), so two threads sharing one could swap answers."""
        if self._session is None:
            return None
        client = getattr(self._local, "client", None)
        if client is None:
            http = TwilioHttpClient(timeout=self.timeout, pool_connections=True)
            http.session = self._session
            client = Client(self.account_sid, self.auth_token, http_client=http)
            if self.api_base_url:
                # Every Messages call (create, list, next pages, fetch) builds its URL from
                # Domain.base_url at call time (twilio/base/domain.py: absolute_url), so
                # replacing it on the "api" domain redirects all of them.
                client.api.base_url = self.api_base_url.rstrip("/")
                # TWILIO_REGION / TWILIO_EDGE in the environment would make the SDK rewrite
                # the host (ClientBase.get_hostname); a custom base URL means this host exactly.
                client.region = None
                client.edge = None
            self._local.client = client
        return client

    def _with_client(self, call):
        """Run ``call(client)``, opening (and afterwards closing) a connection when the
        caller did not open one for a batch, as django.core.mail backends do."""
        if self._session is not None:
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

        opened_here = self._session is None
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
        if sender and (message.from_ or "").lower() != sender.lower():
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
