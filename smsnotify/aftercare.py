"""After the gateway call: stuck rows, reconciliation with the provider, delivery reports.

The stuck-message rule: a row that stays in ``sending`` longer than
SMS_SENDING_LEASE_SECONDS (its worker died between the claim and recording the result)
may or may not have reached the provider, so it is never sent again blindly: it becomes
``unknown``. ``messages_reconcile_unknown`` then asks the provider (Twilio lists messages by
To and date): found → ``sent``; surely absent after SMS_RECONCILE_GRACE_SECONDS → sent
again; cannot tell → stays ``unknown`` until the merchant checks and chooses "Send again".
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest
from django.utils import timezone

from .gateways import DeliveryReport, OutboundSms, SentRef, get_gateway
from .history import iso
from .models import EventType, Message, MessageEvent, Status
from .outbox import messages_ring
from .policies import Outcome, delivery_policies
from .transitions import message_transition, messages_transition

log = logging.getLogger(__name__)

REPORT_WINDOW = dt.timedelta(days=3)  # delivery reports and reconciliation stop after this

# The statuses a delivery report may move a message from; a report never moves one back.
_REPORT_SOURCES = {
    Status.SENT: [Status.SENDING, Status.UNKNOWN],
    Status.DELIVERED: [Status.SENDING, Status.UNKNOWN, Status.SENT],
    Status.UNDELIVERED: [Status.SENDING, Status.UNKNOWN, Status.SENT],
    Status.FAILED: [Status.SENDING, Status.UNKNOWN, Status.SENT],
}


def messages_recover_stale() -> int:
    """Apply the stuck-message rule (see the module docstring). Returns how many.

    A row whose current attempt was never stamped (no ATTEMPT event since its ``sending_at``:
    the worker stopped before the gateway call) surely did not leave: it goes back to
    ``scheduled`` with its attempt given back. Only a stamped one may have reached the provider.
    """
    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS)
    attempted = MessageEvent.objects.filter(message=OuterRef("pk"), type=EventType.ATTEMPT,
                                            created_at__gte=OuterRef("sending_at"))
    rows = list(Message.objects.filter(status=Status.SENDING, sending_at__lt=stale)
                .annotate(attempted=Exists(attempted)).values_list("pk", "attempted")[:1000])
    maybe_sent = [pk for pk, was_attempted in rows if was_attempted]
    never_sent = [pk for pk, was_attempted in rows if not was_attempted]
    moved = messages_transition(
        maybe_sent, from_statuses=[Status.SENDING], status=Status.UNKNOWN, event=EventType.LEASE_EXPIRED,
        error_code="lease_expired", error_text="The worker stopped while handing it to the gateway.")
    released = messages_transition(
        never_sent, from_statuses=[Status.SENDING], status=Status.SCHEDULED, event=EventType.HELD,
        params={"reason": "worker_stopped", "until": iso(now)}, attempts=Greatest(F("attempts") - 1, 0), send_at=now)
    return len(moved) + len(released)


def messages_reconcile_unknown() -> int:
    """Ask the provider about messages in ``unknown``. Returns how many were settled."""
    gateway = get_gateway()
    now = timezone.now()
    grace = dt.timedelta(seconds=settings.SMS_RECONCILE_GRACE_SECONDS)
    rows = Message.objects.filter(status=Status.UNKNOWN, gateway=gateway.name, sending_at__gte=now - REPORT_WINDOW)
    settled = 0
    with gateway:
        for message in rows.order_by("sending_at")[:200]:
            sms = OutboundSms(reference=f"msg-{message.pk}", to=message.recipient, body=message.body,
                              sender=message.sender)
            try:
                found = gateway.find_sent(sms, since=message.sending_at - dt.timedelta(minutes=2))
            except NotImplementedError:
                return settled  # this gateway cannot look messages up: the merchant decides
            except Exception:  # noqa: BLE001 - cannot tell now; the next message may still be settled
                log.warning("Could not reconcile message %s", message.pk, exc_info=True)
                continue
            if found is not None:
                settled += message_transition(
                    message.pk, from_statuses=[Status.UNKNOWN], status=Status.SENT, event=EventType.FOUND,
                    params={"provider_id": found.provider_id}, provider_id=found.provider_id,
                    sent_at=message.sending_at, error_code="", error_text="")
            elif now - message.sending_at > grace:
                resent = message_transition(
                    message.pk, from_statuses=[Status.UNKNOWN], status=Status.SCHEDULED, event=EventType.NOT_FOUND,
                    send_at=now, error_code="", error_text="")
                if resent:
                    messages_ring(message_ids=[message.pk], lane=message.lane)
                settled += resent
    return settled


def report_apply(*, gateway_name: str, report: DeliveryReport) -> Message | None:
    """Record a provider's report; out-of-order or repeated reports never move a message back."""
    if not report.provider_id:  # nothing to find it by (and the index holds only messages with an id)
        return None
    message = Message.objects.filter(gateway=gateway_name, provider_id=report.provider_id).first()
    if message is None or report.status not in _REPORT_SOURCES:
        return message
    fields = {}
    if report.status == Status.DELIVERED:
        fields["delivered_at"] = timezone.now()
    if report.error_code or report.error_text:
        fields.update(error_code=report.error_code[:32], error_text=report.error_text[:500])
    params = {"status": report.status, "code": report.error_code[:32], "text": report.error_text[:300]}
    with transaction.atomic():  # the report and what it settles (a refund) commit together
        moved = message_transition(message.pk, from_statuses=_REPORT_SOURCES[report.status], status=report.status,
                                   event=EventType.REPORT, params=params, **fields)
        message.refresh_from_db()
        if moved:
            detail = " ".join(part for part in (report.error_code, report.error_text) if part)
            summary = f"Provider reports {report.status}" + (f" ({detail})" if detail else "")
            outcome = Outcome(message, report.status, report.billed, summary)
            for policy in reversed(delivery_policies()):
                policy.settle([outcome])
    return message


def reports_poll(*, limit: int = 200) -> int:
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
        report_apply(gateway_name=gateway.name, report=report)
    return len(reports)
