"""Helpers for tests that deliver messages one run at a time."""

from smsnotify.delivery import messages_deliver


def deliver(message_ids, *, gateway=None) -> dict:
    """One delivery run over ``message_ids``; returns how many ended in each status."""
    return messages_deliver(message_ids=list(message_ids), gateway=gateway)


def deliver_one(pk: int, *, gateway=None) -> str | None:
    """Deliver one message; its new status, or None when the run did not claim it."""
    tally = messages_deliver(message_ids=[pk], gateway=gateway)
    return next(iter(tally), None)
