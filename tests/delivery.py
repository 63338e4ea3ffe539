"""Helpers for tests that deliver messages one run at a time."""

from django.db.models import F
from django.utils import timezone

from smsnotify.delivery import messages_deliver
from smsnotify.models import EventType, Message, MessageEvent, Status


def deliver(message_ids, *, gateway=None) -> dict:
    """One delivery run over ``message_ids``; returns how many ended in each status."""
    return messages_deliver(message_ids=list(message_ids), gateway=gateway)


def deliver_one(pk: int, *, gateway=None) -> str | None:
    """Deliver one message; its new status, or None when the run did not claim it."""
    tally = messages_deliver(message_ids=[pk], gateway=gateway)
    return next(iter(tally), None)


def stuck_after_the_attempt(message, *, at=None) -> None:
    """The state a worker leaves behind when it dies after stamping an attempt (the gateway
    may have been called) and before recording the answer."""
    at = at or timezone.now()
    Message.objects.filter(pk=message.pk).update(status=Status.SENDING, sending_at=at, attempts=F("attempts") + 1)
    MessageEvent.objects.create(message_id=message.pk, type=EventType.ATTEMPT, status=Status.SENDING, created_at=at,
                                parameters={"attempt": 1, "gateway": "locmem"})
