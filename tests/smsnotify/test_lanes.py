"""Lanes: each kind of message travels in its lane's Celery queue, and dispatch gives each lane its
own room, so a marketing backlog never holds back an order's text."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from smsnotify import outbox
from smsnotify.models import LANES, MARKETING_KINDS, Kind, Lane, Message, Status, lane_of
from smsnotify.tasks import dispatch_due, poll_reports, recover_stale
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db


def test_texts_that_sell_travel_in_the_marketing_lane_codes_in_theirs_and_the_rest_in_service():
    assert {kind for kind in Kind if lane_of(kind) == Lane.MARKETING} == MARKETING_KINDS
    assert lane_of(Kind.ORDER_STATUS) == lane_of(Kind.KEYWORD_REPLY) == Lane.SERVICE
    assert {kind for kind in Kind if lane_of(kind) == Lane.CODES} == {Kind.VERIFICATION_CODE}


def test_a_message_is_written_with_its_lane(shop):
    assert schedule(shop, kind=Kind.BULK).lane == Lane.MARKETING
    assert schedule(shop, kind=Kind.ORDER_STATUS).lane == Lane.SERVICE


def test_a_text_due_now_rings_its_own_lanes_queue(shop, on_commit):
    with mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, on_commit():
        order_text = schedule(shop, kind=Kind.ORDER_STATUS)
        promo = schedule(shop, kind=Kind.DATE_CAMPAIGN)
    assert sorted((call.args[0][0], call.kwargs["queue"]) for call in enqueue.call_args_list) == sorted([
        ([order_text.pk], "sms.service"), ([promo.pk], "sms.marketing")])


def test_every_lane_has_a_queue_and_beats_tasks_have_their_own():
    queues = {queue.name for queue in django_settings.CELERY_TASK_QUEUES}
    assert {outbox.delivery_queue(lane) for lane in LANES} | {"sms.housekeeping"} == queues
    for task in (dispatch_due, recover_stale, poll_reports):  # beat's tasks go to the default queue
        assert task.app.amqp.router.route({}, task.name)["queue"].name == "sms.housekeeping"


def test_a_full_marketing_lane_does_not_hold_back_a_service_text(shop, settings, on_commit):
    settings.SMS_DISPATCH_MAX_QUEUED = 3
    now = timezone.now()
    row = dict(shop=shop, kind=Kind.BULK, lane=Lane.MARKETING, recipient="+12025550123", body="Sale",
               send_at=now - dt.timedelta(minutes=1))
    Message.objects.bulk_create([Message(status=Status.QUEUED, queued_at=now, **row) for _ in range(3)])
    backlog = Message.objects.bulk_create([Message(status=Status.SCHEDULED, **row) for _ in range(5)])
    order_text = schedule(shop, kind=Kind.ORDER_STATUS, send_at=now - dt.timedelta(seconds=1))
    with time_machine.travel(now, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, \
            on_commit():
        assert outbox.messages_dispatch_due() == 1
    order_text.refresh_from_db()
    assert order_text.status == Status.QUEUED
    assert [(call.args[0][0], call.kwargs["queue"]) for call in enqueue.call_args_list] == [
        ([order_text.pk], "sms.service")]
    assert Message.objects.filter(pk__in=[m.pk for m in backlog], status=Status.SCHEDULED).count() == 5


def test_each_lane_drains_up_to_its_own_room(shop, settings, on_commit):
    settings.SMS_DISPATCH_MAX_QUEUED = 2
    past = timezone.now() - dt.timedelta(minutes=1)
    service = [schedule(shop, kind=Kind.ORDER_STATUS, send_at=past, ring=False) for _ in range(3)]
    marketing = [schedule(shop, kind=Kind.BULK, send_at=past, ring=False) for _ in range(3)]
    with mock.patch("smsnotify.tasks.deliver.apply_async"), on_commit():
        assert outbox.messages_dispatch_due() == 4
    queued = set(Message.objects.filter(status=Status.QUEUED).values_list("pk", flat=True))
    assert queued == {service[0].pk, service[1].pk, marketing[0].pk, marketing[1].pk}  # oldest first in each


def test_a_lost_doorbell_rings_again_in_the_messages_own_lane(shop, settings, on_commit):
    stale = timezone.now() - dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS + 5)
    lost = [schedule(shop, kind=kind, send_at=stale, ring=False) for kind in (Kind.BULK, Kind.MANUAL)]
    Message.objects.filter(pk__in=[m.pk for m in lost]).update(status=Status.QUEUED, queued_at=stale)
    with mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, on_commit():
        outbox.messages_dispatch_due()
    assert sorted((call.args[0][0], call.kwargs["queue"]) for call in enqueue.call_args_list) == sorted([
        ([lost[0].pk], "sms.marketing"), ([lost[1].pk], "sms.service")])


def test_each_lane_tells_the_provider_how_long_its_texts_stay_worth_delivering(shop, sms_outbox):
    from tests.delivery import deliver

    texts = [schedule(shop, kind=kind, ring=False) for kind in (Kind.ORDER_STATUS, Kind.BULK)]
    Message.objects.filter(pk=texts[1].pk).update(kind=Kind.MANUAL)  # any kind: the lane decides
    deliver([m.pk for m in texts])
    assert sorted(sms.validity_seconds for sms in sms_outbox) == [3600, 4 * 3600]


def test_a_lane_without_a_validity_leaves_it_to_the_provider(shop, sms_outbox, settings):
    from tests.delivery import deliver

    settings.SMS_LANE_VALIDITY_SECONDS = {"marketing": 4 * 3600}
    text = schedule(shop, kind=Kind.ORDER_STATUS, ring=False)
    deliver([text.pk])
    assert [sms.validity_seconds for sms in sms_outbox] == [0]  # 0: the provider's own default
