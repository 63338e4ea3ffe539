"""A message's history in words: typed events put into the shop's language and time zone when shown.

Events are stored as a type, parameters and the user who acted (Saleor's order events), so the
same row reads "Sent again by anna" to an English merchant and "Wysłano ponownie (anna)" to a
Polish one, and a retry time reads in New York time for a New York shop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _, gettext_lazy

from .gateways import gateway_name
from .models import EventType, Message, MessageEvent, Status
from .policies import policy_reasons
from .provider_errors import PLAIN_WORDS, provider_answer, provider_error_reason

# Reasons the core itself gives (policies bring their own, see policies.policy_reasons).
CORE_REASONS = {
    "expired": gettext_lazy("Not sent: it was due too long ago."),
    "lease_expired": gettext_lazy("The worker stopped while handing it to the gateway: it may or may not have been sent."),
    "cancelled": gettext_lazy("Cancelled before it was sent."),
    "transient": gettext_lazy("The provider kept failing temporarily."),
    "internal_error": gettext_lazy("An internal error stopped it before it was sent; it will be tried again."),
    "worker_stopped": gettext_lazy("The worker stopped before handing it to the gateway; it will be sent again."),
    "test_not_retried": gettext_lazy("Not tried again: a test text is sent once."),
    "test_internal_error": gettext_lazy("Not sent: an internal error stopped the test text."),
}

_TEXTS = {
    EventType.SCHEDULED: gettext_lazy("Scheduled for %(send_at)s."),
    EventType.RECEIVED: gettext_lazy("Received via %(gateway)s."),
    EventType.ATTEMPT: gettext_lazy("Attempt %(attempt)s via %(gateway)s."),
    EventType.ACCEPTED: gettext_lazy("Accepted by the provider as %(provider_id)s."),
    EventType.REFUSED: gettext_lazy("Refused by the provider: %(error)s."),
    EventType.RETRY: gettext_lazy("Temporary failure: %(error)s. Attempt %(attempt)s at %(at)s."),
    EventType.GAVE_UP: gettext_lazy("Gave up after %(attempts)s attempts: %(error)s."),
    EventType.AMBIGUOUS: gettext_lazy("The gateway may have accepted it: %(error)s. It is checked with the "
                                      "provider before anything is sent again."),
    EventType.LEASE_EXPIRED: CORE_REASONS["lease_expired"],
    EventType.FOUND: gettext_lazy("Found at the provider as %(provider_id)s."),
    EventType.NOT_FOUND: gettext_lazy("The provider has no record of it: sending again."),
    EventType.EXPIRED: gettext_lazy("Not sent: more than %(hours)s hours late."),
    EventType.HELD: gettext_lazy("Held until %(until)s: %(reason)s"),
    EventType.REPEATED: gettext_lazy("The order came back to this status at %(at)s: already texted for it, "
                                     "not sent again."),
}


def _when(value: str) -> str:
    """A time an event names, as the rest of a message's page shows times (moment_text); a value
    that is no ISO time with its offset stays as it is."""
    moment = parse_datetime(value or "")
    if moment is None or timezone.is_naive(moment):
        return value or ""
    return moment_text(moment)


def _error(params: dict) -> str:
    """A provider's error inside an event's sentence: its meaning in the active language where the
    code is known, the provider's own words kept beside it (support needs them verbatim)."""
    code, text = params.get("code", ""), params.get("text", "")
    if code in PLAIN_WORDS:
        words = str(PLAIN_WORDS[code])
        if text:
            return _("%(reason)s (provider's answer: “%(text)s”, code %(code)s)") % {
                "reason": words, "text": text, "code": code}
        return _("%(reason)s (code %(code)s)") % {"reason": words, "code": code}
    return f"{code}: {text}" if code and text else code or text or _("no details")


def reason_text(code: str, params: dict | None = None) -> str:
    """A reason code (a policy's or the core's) in words, in the active language."""
    text = policy_reasons().get(code) or CORE_REASONS.get(code)
    if text is None:
        return code
    try:
        return str(text) % (params or {})
    except (KeyError, TypeError, ValueError):
        return str(text)


def event_text(event: MessageEvent) -> str:
    """The event in words, in the active language and time zone."""
    params = event.parameters or {}
    kind = event.type
    user = params.get("user", "")
    if kind == EventType.REPORT:
        status = Status(params["status"]).label if params.get("status") in Status.values else params.get("status", "")
        values = {"status": str(status).lower(), "error": _error(params)}
        if params.get("code") or params.get("text"):
            return _("The provider reports it %(status)s: %(error)s.") % values
        return _("The provider reports it %(status)s.") % values
    if kind == EventType.CANCELLED:
        return _("Cancelled by %(user)s.") % {"user": user} if user else _("Cancelled.")
    if kind == EventType.SEND_AGAIN:
        return _("Sent again by %(user)s.") % {"user": user} if user else _("Sent again.")
    if kind == EventType.STOPPED:
        return reason_text(params.get("reason", ""), params)
    if kind == EventType.SCHEDULED and user:
        if params.get("send_at"):
            return _("Written by %(user)s, to be sent at %(send_at)s.") % {"user": user, "send_at": _when(params["send_at"])}
        return _("Written by %(user)s.") % {"user": user}
    if kind == EventType.SCHEDULED and not params.get("send_at"):
        return _("Created.")
    if kind == EventType.NOTE:  # written before events were typed: its text, or at least its status
        return params.get("detail") or str(Status(event.status).label if event.status in Status.values else "")
    template = _TEXTS.get(kind)
    if template is None:  # every type has its sentence: this one is of a later (or earlier) version
        return kind
    values = {**params, "error": _error(params)}
    if params.get("gateway"):
        values["gateway"] = gateway_name(params["gateway"])
    for key in ("send_at", "at", "until"):
        if key in values:
            values[key] = _when(values[key])
    if kind == EventType.HELD:
        values["reason"] = reason_text(params.get("reason", ""), params)
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        return str(EventType(kind).label)


@dataclass(frozen=True, slots=True)
class ErrorWords:
    """Why a message failed or stopped: ``reason`` in the active language, and for a provider's
    error ``detail``, its own words and code ("Provider's answer: …"), which support needs."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}. {self.detail}" if self.detail else self.reason


def error_words(message: Message) -> ErrorWords:
    """Why a message failed or stopped, in the active language: our own reasons, and a provider's
    error by its code where the code is known, its own words kept as the detail."""
    code, text = message.error_code, message.error_text
    if code in policy_reasons() or code in CORE_REASONS:
        stopped = message.events.filter(type=EventType.STOPPED).order_by("-created_at", "-pk").first()
        return ErrorWords(reason_text(code, stopped.parameters if stopped else None))
    if not code and not text:
        return ErrorWords("")
    return ErrorWords(provider_error_reason(code) or _("Error reported by the SMS provider"),
                      provider_answer(code, text))


def error_text(message: Message) -> str:
    """``error_words`` as one line of text."""
    return str(error_words(message))


def moment_text(moment: dt.datetime) -> str:
    """A time in a message's history, to the second (a delivery report follows within seconds),
    in the active time zone and language."""
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M:%S}"


def in_shop_terms(shop, render, *args):
    """Call ``render`` with the shop's language and time zone active."""
    with translation.override(shop.language), timezone.override(shop.time_zone):
        return render(*args)


def iso(moment: dt.datetime) -> str:
    """A time as an event parameter (JSON has no datetime)."""
    return moment.isoformat()
