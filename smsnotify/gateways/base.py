"""The contract every SMS gateway backend fulfils.

Shaped after ``django.core.mail.backends.base``: a backend is built from settings,
``open()`` / ``close()`` hold a connection so that a batch reuses one HTTP session,
and it can be used as a context manager. Backends take plain value objects and
return plain value objects; they never touch the ORM (services persist results).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """Everything a gateway needs to hand one SMS to a provider."""

    reference: str  # our id for the message, e.g. "msg-42"; providers may echo it
    to: str  # E.164
    body: str
    sender: str = ""  # alphanumeric sender id or E.164 number; "" = provider default
    status_callback: str = ""  # absolute URL for delivery reports, "" = none
    validity_seconds: int = 0  # the provider drops it if it could not leave within this long; 0 = its default


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said when it accepted a message."""

    provider_id: str
    status: str = "sent"  # one of our Message statuses: "sent" or "delivered"


@dataclass(frozen=True, slots=True)
class SentRef:
    """A message the provider accepted earlier, to ask about again."""

    provider_id: str
    to: str
    sent_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An incoming text as a provider reports it (smsnotify/inbound.py stores it)."""

    sender: str  # the customer's number
    to: str  # our number (or short code) it was sent to
    body: str
    provider_id: str
    gateway: str
    opt_out_type: str = ""  # the provider's own reading of an opt-out keyword (Twilio's OptOutType), if any


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A status the provider reports for a message it accepted earlier."""

    provider_id: str
    status: str  # one of our Message statuses: sent, delivered, undelivered, failed
    error_code: str = ""
    error_text: str = ""
    billed: bool = True  # False when the provider does not charge for it (the backend knows its rules)
    extra: dict = field(default_factory=dict)


# Undelivered reports that give the merchant the credits back, as failed ones do (Twilio does
# not bill a failed message): the number cannot receive SMS at all. Twilio's codes, which the
# sandbox mirrors: 30003 unreachable handset, 30005 unknown handset, 30006 landline.
UNREACHABLE_CODES = frozenset({"30003", "30005", "30006"})


def report_billed(status: str, error_code: str) -> bool:
    """Whether a delivery report leaves the message paid for."""
    return not (status == "failed" or (status == "undelivered" and error_code in UNREACHABLE_CODES))


class GatewayError(Exception):
    """Base for errors a backend raises from ``send``."""

    def __init__(self, text: str = "", *, code: str = ""):
        super().__init__(text or code)
        self.code = str(code or "")
        self.text = text


class TransientGatewayError(GatewayError):
    """The provider surely did not take the message; sending again is safe."""


class PermanentGatewayError(GatewayError):
    """The provider refused the message; sending it again would fail the same way."""


class RecipientOptedOut(PermanentGatewayError):
    """The provider refused because the recipient opted out with it (Twilio's 21610: the number
    texted STOP to the sender): the shop's own opt-out list learns it."""


class AmbiguousGatewayError(GatewayError):
    """The request may have reached the provider (read timeout, 5xx after sending).

    Never resend blindly: the message becomes ``unknown`` until it is reconciled.
    """


class BaseGateway:
    """Base class for SMS gateway backends."""

    name = "base"
    # True for backends with no real phones behind them: the admin may then simulate a customer's
    # incoming text (a real provider's arrive through its webhook).
    simulates_inbound = False
    # True for a real provider, whose senders have rates (smsnotify/pacing.py); a sandbox is unlimited.
    paced = False
    # Who sends a message that names no sender (a shop without its own): the pacing bucket's key.
    default_sender = ""
    # How many send() calls a delivery run keeps in flight at once (send_many). Backends that
    # wait on a network set it higher; the calls share the backend's pooled connection.
    max_in_flight = 1
    # How long after sending to start polling fetch_reports() for a message still "sent";
    # None for backends that never report by polling.
    poll_reports_after: dt.timedelta | None = None

    def __init__(self, **kwargs):
        # Unlike django.core.mail backends there is no fail_silently: send() always raises,
        # since a swallowed error would leave the message's status wrong.
        pass

    def open(self) -> None:
        """Open a network connection; a no-op for backends that need none."""

    def close(self) -> None:
        """Close the network connection."""

    def __enter__(self):
        try:
            self.open()
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()

    def send(self, sms: OutboundSms) -> SendResult:
        """Hand one SMS to the provider, or raise a ``GatewayError`` subclass."""
        raise NotImplementedError("subclasses of BaseGateway must override send()")

    def send_many(self, messages: list[OutboundSms]) -> list[SendResult | Exception]:
        """Send each message; the answers come in the same order, an exception in place of a
        result for a message that failed. Up to ``max_in_flight`` calls run at once."""
        if self.max_in_flight <= 1 or len(messages) <= 1:
            return [self._answer(sms) for sms in messages]
        return list(_pool(self.max_in_flight).map(self._answer, messages))

    def _answer(self, sms: OutboundSms) -> SendResult | Exception:
        try:
            return self.send(sms)
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, which classifies it
            return exc

    def find_sent(self, sms: OutboundSms, *, since: dt.datetime) -> SendResult | None:
        """Look for an SMS the provider may have accepted despite an ambiguous error.

        Returns the result when the provider has it, None when it surely does not,
        and raises ``GatewayError`` when it cannot tell. Backends that cannot look
        messages up raise ``NotImplementedError``.
        """
        raise NotImplementedError

    def fetch_reports(self, sent: list[SentRef]) -> list[DeliveryReport]:
        """Poll delivery statuses, for providers that report by polling (or to heal lost webhooks)."""
        return []


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    """One pool of threads per process and size, kept across delivery runs (starting threads
    for every batch would cost more than the calls they make to a fast provider)."""
    with _pools_lock:
        if size not in _pools:
            _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sms-send")
        return _pools[size]


def _forget_pools() -> None:
    """In a forked child: the parent's pools come along but not their threads, so work handed to
    them would wait forever (an idle pool starts no thread). The child starts its own."""
    global _pools_lock
    _pools_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _pools.clear()


os.register_at_fork(after_in_child=_forget_pools)
