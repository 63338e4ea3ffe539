"""Celery tasks of the campaigns: thin, named, safe to run twice (the scans are idempotent; for a
bulk send the database says what is left)."""

from celery import shared_task

from . import bulk
from .cart_reminders import abandoned_carts_run
from .date_campaigns import date_campaigns_run


@shared_task(name="campaigns.date_campaigns_run")
def date_campaigns() -> int:
    return date_campaigns_run()


@shared_task(name="campaigns.abandoned_carts_run")
def abandoned_carts() -> int:
    return abandoned_carts_run()


# In the marketing queue: a 100,000-recipient fan-out takes seconds of writing, which may delay
# other marketing texts but never beat's dispatch (housekeeping) nor codes and service texts.
@shared_task(name="campaigns.bulk_fan_out", queue="sms.marketing")
def bulk_fan_out_task(bulk_id: int) -> None:
    bulk.bulk_fan_out(bulk_id=bulk_id)


@shared_task(name="campaigns.bulk_sends_finish")
def bulk_sends_finish() -> int:
    """Beat's sweep: finish the bulk sends with nothing left waiting; enqueue again a fan-out that stalled."""
    for bulk_id in bulk.bulk_sends_stalled():
        bulk_fan_out_task.delay(bulk_id)
    return bulk.bulk_sends_finish()
