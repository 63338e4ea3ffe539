"""Celery tasks of the campaigns: thin, named, safe to run twice (the scans are idempotent)."""

from celery import shared_task

from .cart_reminders import abandoned_carts_run
from .date_campaigns import date_campaigns_run


@shared_task(name="campaigns.date_campaigns_run")
def date_campaigns() -> int:
    return date_campaigns_run()


@shared_task(name="campaigns.abandoned_carts_run")
def abandoned_carts() -> int:
    return abandoned_carts_run()
