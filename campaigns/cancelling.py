"""Cancelling texts that are waiting to leave, as many as the merchant picked."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from smsnotify.models import EventType, Message, Status
from smsnotify.transitions import messages_transition

CHUNK = 1000


@dataclass(frozen=True)
class CancelTally:
    cancelled: int
    not_cancelled: int  # no longer waiting: being sent or sent already (or cancelled a moment before)


def messages_cancel(*, messages: QuerySet[Message], user=None) -> CancelTally:
    """Cancel each of ``messages`` that has not been handed to the gateway yet, a thousand at a
    time (one UPDATE and one INSERT of history each: "select all 100,000" fits in a request).

    The UPDATE is conditional (scheduled or queued → cancelled): a message a worker claimed
    between the merchant's click and this call is left to leave, and counted as not cancelled;
    one a worker had queued but not claimed is cancelled, and delivery will not claim it.
    """
    pks = list(messages.order_by().values_list("pk", flat=True))
    params = {"user": user.get_username()} if user is not None else {}
    cancelled = 0
    for start in range(0, len(pks), CHUNK):
        cancelled += len(messages_transition(
            pks[start:start + CHUNK], from_statuses=[Status.SCHEDULED, Status.QUEUED], status=Status.CANCELLED,
            event=EventType.CANCELLED, params=params, user=user, error_code="cancelled", error_text="Cancelled."))
    return CancelTally(cancelled=cancelled, not_cancelled=len(pks) - cancelled)
