"""The outbox against PostgreSQL + Redis + a real Celery worker (beat's task run by hand)."""

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from smsnotify import outbox
from smsnotify.models import EventType, Kind, Message, Status
from smsnotify.tasks import dispatch_due
from tests.factories import make_shop
from tests.delivery import deliver, deliver_one

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def status_of(pk):
    return Message.objects.get(pk=pk).status


def test_message_due_in_the_past_is_delivered_by_the_worker(celery_worker, sms_outbox):
    shop = make_shop(credits=10_000)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="due", kind=Kind.MANUAL,
                              send_at=timezone.now() - dt.timedelta(minutes=5))
    # a committed past-due row is rung at once, and beat's scan finds nothing left to claim
    assert wait_for(lambda: status_of(message.pk) == Status.SENT)
    dispatch_due.delay()
    time.sleep(0.5)
    assert [sms.body for sms in sms_outbox] == ["due"]


def test_scheduled_row_is_claimed_by_beats_task_on_the_worker(celery_worker, sms_outbox):
    shop = make_shop(credits=10_000)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="by beat", kind=Kind.MANUAL,
                              send_at=timezone.now() + dt.timedelta(seconds=1))
    time.sleep(1.1)
    dispatch_due.delay()
    assert wait_for(lambda: status_of(message.pk) == Status.SENT)
    assert list(message.events.values_list("type", "status")) == [
        (EventType.SCHEDULED, Status.SCHEDULED), (EventType.ATTEMPT, Status.SENDING), (EventType.ACCEPTED, Status.SENT)]
    assert Message.objects.get(pk=message.pk).queued_at is not None  # beat's dispatch rang it


def test_message_due_in_two_days_waits_then_goes(celery_worker, sms_outbox):
    shop = make_shop(credits=10_000)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="later", kind=Kind.MANUAL,
                              send_at=timezone.now() + dt.timedelta(days=2))
    dispatch_due.delay()
    time.sleep(1.0)
    assert status_of(message.pk) == Status.SCHEDULED
    assert sms_outbox == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, minutes=1), tick=True):
        dispatch_due.delay()
        assert wait_for(lambda: status_of(message.pk) == Status.SENT)
    assert [sms.body for sms in sms_outbox] == ["later"]


def test_racing_dispatchers_and_workers_never_send_twice(require_postgres, sms_outbox):
    """Four threads run dispatch + delivery at once over the same 120 due rows."""
    shop = make_shop(credits=10_000)
    later = timezone.now() + dt.timedelta(hours=1)  # not rung on commit: the threads compete for them
    ids = [outbox.message_schedule(shop=shop, to="+12025550123", body=f"n{i}", kind=Kind.MANUAL, send_at=later).pk
           for i in range(120)]
    Message.objects.filter(pk__in=ids).update(send_at=timezone.now() - dt.timedelta(seconds=1))
    barrier = threading.Barrier(4)
    errors = []

    def race():
        try:
            barrier.wait()
            for _ in range(3):
                outbox.messages_dispatch_due()
                deliver(ids)  # every thread also tries every row directly
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    bodies = [sms.body for sms in sms_outbox]
    assert len(bodies) == len(set(bodies)) == 120
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Status.SENT}
    assert all(n == 1 for n in Message.objects.filter(pk__in=ids).values_list("attempts", flat=True))
