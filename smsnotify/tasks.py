"""Celery tasks: thin, named, safe to run twice. The database says what is due."""

from celery import shared_task

from . import aftercare, delivery, outbox


@shared_task(name="smsnotify.dispatch_due")
def dispatch_due() -> int:
    return outbox.messages_dispatch_due()


@shared_task(name="smsnotify.deliver")
def deliver(message_ids: list[int]) -> dict[str, int]:
    return delivery.messages_deliver(message_ids=message_ids)


@shared_task(name="smsnotify.recover_stale")
def recover_stale() -> int:
    return aftercare.messages_recover_stale() + aftercare.messages_reconcile_unknown()


@shared_task(name="smsnotify.poll_reports")
def poll_reports() -> int:
    return aftercare.reports_poll()
