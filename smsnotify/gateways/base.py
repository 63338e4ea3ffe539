"""The contract every SMS gateway backend fulfils.

Shaped after ``django.core.mail.backends.base``: a backend is built from settings,
``open()`` / ``close()`` hold a connection so that a batch reuses one HTTP session,
and it can be used as a context manager. Backends take plain value objects and
return plain value objects; they never touch the ORM (services persist results).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """Everything a gateway needs to hand one SMS to a provider."""

    reference: str  # our id for the message, e.g. "msg-42"; providers may echo it
    to: str  # E.164
    body: str
    sender: str = ""  # alphanumeric sender id or E.164 number; "" = provider default
    status_callback: str = ""  # absolute URL for delivery reports, "" = none


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
class DeliveryReport:
    """A status the provider reports for a message it accepted earlier."""

    provider_id: str
    status: str  # one of our Message statuses: sent, delivered, undelivered, failed
    error_code: str = ""
    error_text: str = ""
    extra: dict = field(default_factory=dict)


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


class AmbiguousGatewayError(GatewayError):
    """The request may have reached the provider (read timeout, 5xx after sending).

    Never resend blindly: the message becomes ``unknown`` until it is reconciled.
    """


class BaseGateway:
    """Base class for SMS gateway backends."""

    name = "base"
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
