"""Celery tasks of credits: thin and named."""

from celery import shared_task

from . import purchases


@shared_task(name="credits.expire_pending_purchases")
def expire_pending_purchases() -> int:
    return purchases.purchases_expire()
