"""Cancelling texts that are waiting to leave, as many as the merchant picked."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from smsnotify.models import Message
from smsnotify.outbox import message_cancel


@dataclass(frozen=True)
class CancelTally:
    cancelled: int
    not_cancelled: int  # no longer waiting: being sent or sent already (or cancelled a moment before)


def messages_cancel(*, messages: QuerySet[Message], user=None) -> CancelTally:
    """Cancel each of ``messages`` that has not been handed to the gateway yet.

    One conditional UPDATE per message (outbox.message_cancel): a message a worker claimed
    between the merchant's click and this call is left to leave, and counted as not cancelled;
    one a worker had queued but not claimed is cancelled, and delivery will not claim it.
    """
    cancelled = total = 0
    for message in messages.select_related(None).only("pk").order_by().iterator(chunk_size=500):
        total += 1
        cancelled += message_cancel(message=message, user=user)
    return CancelTally(cancelled=cancelled, not_cancelled=total - cancelled)
