"""Celery tasks: thin, named, safe to run twice. The database says what is due."""

from celery import shared_task

from . import outbox


@shared_task(name="smsnotify.dispatch_due")
def dispatch_due() -> int:
    return outbox.dispatch_due()


@shared_task(name="smsnotify.deliver")
def deliver(message_ids: list[int]) -> None:
    outbox.deliver_batch(message_ids)


@shared_task(name="smsnotify.recover_stale")
def recover_stale() -> int:
    return outbox.recover_stale_sending() + outbox.reconcile_unknown()


@shared_task(name="smsnotify.poll_reports")
def poll_reports() -> int:
    return outbox.poll_reports()
