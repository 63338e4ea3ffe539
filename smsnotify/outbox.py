"""The outbox: every SMS is a Message row first; workers only deliver rows that are due.

Life of a message (each arrow is a conditional UPDATE plus a MessageEvent row):

    scheduled ──dispatch_due──► queued ──deliver claims──► sending ──gateway──► sent ──report──► delivered
        │  ▲                                                   │  │  │                  └──────► undelivered / failed
        │  └──────── transient error: send_at = now + backoff ─┘  │  └─ permanent error ─► failed
        └─ cancel / SMS switched off ─► cancelled                 └─ ambiguous error / lease ─► unknown

The stuck-message rule: a row that stays in ``sending`` longer than
SMS_SENDING_LEASE_SECONDS (its worker died between the claim and recording the result)
may or may not have reached the provider, so it is never sent again blindly: it becomes
``unknown``. ``reconcile_unknown`` then asks the provider (Twilio lists messages by To and
date): found → ``sent``; surely absent after SMS_RECONCILE_GRACE_SECONDS → sent again;
cannot tell → stays ``unknown`` until the merchant checks and chooses "Send again".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from credits import services as credits
from shop.models import Shop

from .encoding import segment_info, transliterate
from .gateways import (
    AmbiguousGatewayError,
    BaseGateway,
    DeliveryReport,
    OutboundSms,
    PermanentGatewayError,
    SentRef,
    TransientGatewayError,
    get_gateway,
)
from .models import Message, MessageEvent, Status
from .phones import to_e164
from .selectors import sms_settings_for

log = logging.getLogger(__name__)

SMS_OFF = "SMS is switched off for this shop."
NO_CREDITS = "Insufficient credits"
REPORT_WINDOW = dt.timedelta(days=3)  # delivery reports and reconciliation stop after this

# Rank of statuses a delivery report may move between; a report never moves a message back.
_REPORT_SOURCES = {
    Status.SENT: [Status.SENDING, Status.UNKNOWN],
    Status.DELIVERED: [Status.SENDING, Status.UNKNOWN, Status.SENT],
    Status.UNDELIVERED: [Status.SENDING, Status.UNKNOWN, Status.SENT],
    Status.FAILED: [Status.SENDING, Status.UNKNOWN, Status.SENT],
}


# --- writing transitions ---------------------------------------------------------------


def _transition(pk: int, *, from_statuses: Iterable[str], status: str, detail: str = "", **fields) -> bool:
    """Move one message to ``status`` if it is still in ``from_statuses``; log an event if it moved."""
    now = timezone.now()
    with transaction.atomic():
        moved = Message.objects.filter(pk=pk, status__in=list(from_statuses)).update(
            status=status, updated_at=now, **fields
        )
        if moved:
            MessageEvent.objects.create(message_id=pk, status=status, detail=detail[:500], created_at=now)
    return bool(moved)


def _bulk_transition(pks: list[int], *, from_status: str, status: str, detail: str, **fields) -> list[int]:
    """Move many rows at once; call inside a transaction that holds them (locked or IMMEDIATE)."""
    if not pks:
        return []
    now = timezone.now()
    Message.objects.filter(pk__in=pks, status=from_status).update(status=status, updated_at=now, **fields)
    MessageEvent.objects.bulk_create(
        [MessageEvent(message_id=pk, status=status, detail=detail, created_at=now) for pk in pks]
    )
    return pks


def _ring(pks: list[int]) -> None:
    """Enqueue delivery. The broker is only a doorbell: if it is down, beat rings again."""
    from .tasks import deliver

    for start in range(0, len(pks), settings.SMS_DISPATCH_BATCH):
        try:
            deliver.delay(pks[start : start + settings.SMS_DISPATCH_BATCH])
        except Exception:  # noqa: BLE001 - any broker failure; the rows stay due in the database
            log.warning("Could not enqueue delivery of %s; dispatch_due will retry.", pks, exc_info=True)
            return


# --- scheduling ----------------------------------------------------------------------------


def schedule(
    *,
    shop: Shop,
    to,
    body: str,
    kind: str,
    send_at: dt.datetime | None = None,
    dedupe_key: str | None = None,
    customer=None,
    order=None,
    cart=None,
    product=None,
) -> Message:
    """Write a Message in the caller's transaction and return it.

    Idempotent by ``dedupe_key``: the same key for the same shop returns the existing row.
    Raises ``InvalidPhoneNumber`` (a ValidationError) for a recipient that is not a valid
    number and ``ValidationError`` for an empty body; nothing is written then.
    """
    recipient = to_e164(to, region=shop.country)
    if not body or not body.strip():
        raise ValidationError(_("The message is empty."), code="empty_body")
    if dedupe_key:
        existing = Message.objects.filter(shop=shop, dedupe_key=dedupe_key).first()
        if existing:
            return existing

    now = timezone.now()
    sms_settings = sms_settings_for(shop)
    active = sms_settings.active
    body = sendable_text(sms_settings, body)
    info = segment_info(body)
    message = Message(
        shop=shop,
        kind=kind,
        recipient=recipient,
        body=body,
        encoding=info.encoding,
        segments=info.segments,
        dedupe_key=dedupe_key or None,
        send_at=send_at or now,
        customer=customer,
        order=order,
        cart=cart,
        product=product,
        status=Status.SCHEDULED if active else Status.CANCELLED,
        error_code="" if active else "sms_inactive",
        error_text="" if active else SMS_OFF,
        created_at=now,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if dedupe_key:  # a concurrent caller wrote the same key first
            return Message.objects.get(shop=shop, dedupe_key=dedupe_key)
        raise
    detail = "" if active else SMS_OFF
    MessageEvent.objects.create(message=message, status=message.status, detail=detail, created_at=now)
    if active and message.send_at <= now:
        transaction.on_commit(functools.partial(_ring, [message.pk]))
    return message


def sendable_text(sms_settings, body: str) -> str:
    """The text as it will really be sent (and counted and priced): the shop's
    "replace special characters" option applied. Estimates call this too, so they agree."""
    return transliterate(body) if sms_settings.replace_special_characters else body


def cancel(message: Message, *, reason: str) -> bool:
    """Cancel a message that has not been handed to the gateway yet."""
    return _transition(
        message.pk, from_statuses=[Status.SCHEDULED, Status.QUEUED], status=Status.CANCELLED,
        detail=reason, error_code="cancelled", error_text=reason[:500],
    )


def send_again(message: Message, *, reason: str) -> bool:
    """The merchant's decision to resend a message that failed or whose fate is unknown."""
    moved = _transition(
        message.pk, from_statuses=[Status.UNKNOWN, Status.FAILED, Status.UNDELIVERED], status=Status.SCHEDULED,
        detail=reason, send_at=timezone.now(), attempts=0, error_code="", error_text="", provider_id="",
    )
    if moved:
        transaction.on_commit(functools.partial(_ring, [message.pk]))
    return moved


# --- dispatching -----------------------------------------------------------------------------


def dispatch_due(*, limit: int = 1000) -> int:
    """Claim due messages (scheduled → queued) and ring the workers. Returns how many."""
    now = timezone.now()
    _expire_overdue(now)
    _ring_lost_doorbells(now)
    with transaction.atomic():
        due = Message.objects.filter(status=Status.SCHEDULED, send_at__lte=now).order_by("send_at")
        if connection.features.has_select_for_update_skip_locked:
            # Two beat processes (or a slow run overlapping the next) split the rows between them.
            due = due.select_for_update(skip_locked=True)
        pks = list(due.values_list("pk", flat=True)[:limit])
        _bulk_transition(pks, from_status=Status.SCHEDULED, status=Status.QUEUED, detail="", queued_at=now)
        if pks:
            transaction.on_commit(functools.partial(_ring, pks))
    return len(pks)


def _expire_overdue(now: dt.datetime) -> None:
    """A message far past its time (workers were down for days) is not worth sending late."""
    cutoff = now - dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS)
    text = _("Not sent: more than %(hours)s hours late.") % {"hours": settings.SMS_LATE_CUTOFF_HOURS}
    for status in (Status.SCHEDULED, Status.QUEUED):
        with transaction.atomic():
            late = Message.objects.filter(status=status, send_at__lt=cutoff)
            if connection.features.has_select_for_update_skip_locked:
                late = late.select_for_update(skip_locked=True)
            pks = list(late.values_list("pk", flat=True)[:1000])
            _bulk_transition(pks, from_status=status, status=Status.FAILED, detail=text, error_code="expired", error_text=text)


def _ring_lost_doorbells(now: dt.datetime) -> None:
    """Queued rows whose task never ran (broker restarted, enqueue failed) are rung again.

    Safe because delivery claims each row (queued → sending) before calling the gateway.
    """
    stale = now - dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS)
    with transaction.atomic():
        lost = Message.objects.filter(status=Status.QUEUED, queued_at__lt=stale)
        if connection.features.has_select_for_update_skip_locked:
            lost = lost.select_for_update(skip_locked=True)
        pks = list(lost.values_list("pk", flat=True)[:1000])
        if pks:
            Message.objects.filter(pk__in=pks, status=Status.QUEUED).update(queued_at=now)
            transaction.on_commit(functools.partial(_ring, pks))


# --- delivering ------------------------------------------------------------------------------


def deliver_batch(pks: Iterable[int]) -> None:
    """Deliver messages through one gateway connection."""
    with get_gateway() as gateway:
        for pk in pks:
            deliver_one(pk, gateway=gateway)


def deliver_one(pk: int, *, gateway: BaseGateway) -> str | None:
    """Claim one due message and hand it to the gateway. Returns its new status, or None
    when another worker has it or it is no longer due (so a re-run is harmless)."""
    now = timezone.now()
    claimed = Message.objects.filter(
        pk=pk, status__in=[Status.SCHEDULED, Status.QUEUED], send_at__lte=now
    ).update(status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1, gateway=gateway.name, updated_at=now)
    if not claimed:
        return None
    message = Message.objects.select_related("shop").get(pk=pk)
    sms_settings = sms_settings_for(message.shop)
    if not sms_settings.active:
        _transition(pk, from_statuses=[Status.SENDING], status=Status.CANCELLED, detail=SMS_OFF,
                    error_code="sms_inactive", error_text=SMS_OFF)
        return Status.CANCELLED
    if not credits.charge_for_message(message):  # committed before the gateway: whatever follows, it is paid for
        _transition(pk, from_statuses=[Status.SENDING], status=Status.FAILED, detail=NO_CREDITS,
                    error_code="insufficient_credits", error_text=NO_CREDITS)
        return Status.FAILED
    Message.objects.filter(pk=pk).update(sender=sms_settings.sender)
    MessageEvent.objects.create(message_id=pk, status=Status.SENDING, detail=f"Attempt {message.attempts} via {gateway.name}")

    sms = OutboundSms(
        reference=f"msg-{pk}", to=message.recipient, body=message.body,
        sender=sms_settings.sender, status_callback=status_callback_url(gateway.name),
    )
    try:
        result = gateway.send(sms)
    except TransientGatewayError as exc:
        credits.refund_for_message(message, reason=f"Not sent ({_describe(exc)}); a retry is charged again.")
        return _retry_later(message, exc)
    except PermanentGatewayError as exc:
        credits.refund_for_message(message, reason=f"Refused by the gateway ({_describe(exc)}).")
        _transition(pk, from_statuses=[Status.SENDING], status=Status.FAILED, detail=_describe(exc),
                    error_code=exc.code[:32], error_text=exc.text[:500])
        return Status.FAILED
    except AmbiguousGatewayError as exc:
        _mark_unknown(pk, _("The gateway may have accepted it (%(error)s).") % {"error": _describe(exc)}, exc.code)
        return Status.UNKNOWN
    except Exception as exc:  # noqa: BLE001 - a bug or an unmapped error: the SMS may have left
        log.exception("Unexpected error delivering message %s", pk)
        _mark_unknown(pk, _("Unexpected error: %(error)s") % {"error": repr(exc)}, "")
        return Status.UNKNOWN
    _transition(pk, from_statuses=[Status.SENDING], status=result.status, detail=f"Accepted as {result.provider_id}",
                provider_id=result.provider_id, sent_at=timezone.now(), error_code="", error_text="")
    return result.status


def _describe(exc) -> str:
    return f"{exc.code}: {exc.text}" if exc.code else exc.text or exc.__class__.__name__


def _mark_unknown(pk: int, detail: str, code: str) -> None:
    _transition(pk, from_statuses=[Status.SENDING], status=Status.UNKNOWN, detail=detail,
                error_code=(code or "unknown")[:32], error_text=detail[:500])


def _retry_later(message: Message, exc: TransientGatewayError) -> str:
    """Back off exponentially through ``send_at`` (not a Celery countdown: the row is the truth)."""
    attempts = message.attempts
    if attempts >= settings.SMS_MAX_ATTEMPTS:
        detail = _("Gave up after %(n)s attempts: %(error)s") % {"n": attempts, "error": _describe(exc)}
        _transition(message.pk, from_statuses=[Status.SENDING], status=Status.FAILED, detail=detail,
                    error_code=exc.code[:32] or "transient", error_text=detail[:500])
        return Status.FAILED
    delay = min(settings.SMS_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.SMS_RETRY_MAX_SECONDS)
    retry_at = timezone.now() + dt.timedelta(seconds=delay)
    detail = _("Temporary failure (%(error)s); retry %(n)s at %(at)s.") % {
        "error": _describe(exc), "n": attempts + 1, "at": retry_at.strftime("%H:%M:%S UTC"),
    }
    _transition(message.pk, from_statuses=[Status.SENDING], status=Status.SCHEDULED, detail=detail,
                send_at=retry_at, error_code=exc.code[:32], error_text=detail[:500])
    return Status.SCHEDULED


def status_callback_url(gateway_name: str) -> str:
    """The absolute URL a provider posts delivery reports to, when this gateway has one."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    try:
        return settings.PUBLIC_BASE_URL + reverse(f"webhooks:{gateway_name}-status")
    except NoReverseMatch:
        return ""


# --- after the send: stuck rows, reconciliation, delivery reports ---------------------------


def recover_stale_sending() -> int:
    """Apply the stuck-message rule (see the module docstring). Returns how many."""
    stale = timezone.now() - dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS)
    detail = _("The worker stopped while handing this message to the gateway: it may or may not have been sent.")
    count = 0
    for pk in Message.objects.filter(status=Status.SENDING, sending_at__lt=stale).values_list("pk", flat=True)[:1000]:
        if _transition(pk, from_statuses=[Status.SENDING], status=Status.UNKNOWN, detail=detail,
                       error_code="lease_expired", error_text=detail):
            count += 1
    return count


def reconcile_unknown() -> int:
    """Ask the provider about messages in ``unknown``. Returns how many were settled."""
    gateway = get_gateway()
    now = timezone.now()
    grace = dt.timedelta(seconds=settings.SMS_RECONCILE_GRACE_SECONDS)
    rows = Message.objects.filter(status=Status.UNKNOWN, gateway=gateway.name, sending_at__gte=now - REPORT_WINDOW)
    settled = 0
    with gateway:
        for message in rows.order_by("sending_at")[:200]:
            sms = OutboundSms(reference=f"msg-{message.pk}", to=message.recipient, body=message.body, sender=message.sender)
            try:
                found = gateway.find_sent(sms, since=message.sending_at - dt.timedelta(minutes=2))
            except NotImplementedError:
                return settled  # this gateway cannot look messages up: the merchant decides
            except Exception:  # noqa: BLE001 - cannot tell now; try again on the next run
                log.warning("Could not reconcile message %s", message.pk, exc_info=True)
                continue
            if found is not None:
                settled += _transition(message.pk, from_statuses=[Status.UNKNOWN], status=Status.SENT,
                                       detail=f"Found at the provider as {found.provider_id}",
                                       provider_id=found.provider_id, sent_at=message.sending_at,
                                       error_code="", error_text="")
            elif now - message.sending_at > grace:
                settled += _transition(message.pk, from_statuses=[Status.UNKNOWN], status=Status.SCHEDULED,
                                       detail=_("The provider has no record of it: sending again."),
                                       send_at=now, error_code="", error_text="")
    return settled


def apply_delivery_report(*, gateway_name: str, report: DeliveryReport) -> Message | None:
    """Record a provider's report; out-of-order or repeated reports never move a message back."""
    message = Message.objects.filter(gateway=gateway_name, provider_id=report.provider_id).first()
    if message is None or report.status not in _REPORT_SOURCES:
        return message
    fields = {}
    if report.status == Status.DELIVERED:
        fields["delivered_at"] = timezone.now()
    if report.error_code or report.error_text:
        fields.update(error_code=report.error_code[:32], error_text=report.error_text[:500])
    detail = f"Provider reports {report.status}" + (f" ({report.error_code} {report.error_text})".rstrip() if report.error_code else "")
    moved = _transition(message.pk, from_statuses=_REPORT_SOURCES[report.status], status=report.status, detail=detail,
                        **fields)
    if moved and credits.report_is_refundable(status=report.status, error_code=report.error_code):
        credits.refund_for_message(message, reason=detail)
    message.refresh_from_db()
    return message


def poll_reports(*, limit: int = 200) -> int:
    """Fetch reports for sent messages from gateways that report by polling.

    Least recently polled first, so messages a carrier never reports on (they stay "sent")
    cannot starve newer ones.
    """
    gateway = get_gateway()
    if gateway.poll_reports_after is None:
        return 0
    now = timezone.now()
    waiting = list(Message.objects.filter(
        status=Status.SENT, gateway=gateway.name,
        sent_at__lte=now - gateway.poll_reports_after, sent_at__gte=now - REPORT_WINDOW,
    ).order_by(F("report_polled_at").asc(nulls_first=True), "sent_at")[:limit])
    if not waiting:
        return 0
    Message.objects.filter(pk__in=[m.pk for m in waiting]).update(report_polled_at=now)
    with gateway:
        reports = gateway.fetch_reports([SentRef(m.provider_id, m.recipient, m.sent_at) for m in waiting])
    for report in reports:
        apply_delivery_report(gateway_name=gateway.name, report=report)
    return len(reports)
