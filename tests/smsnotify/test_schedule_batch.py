"""outbox.messages_schedule_batch: a chunk of a batch written at once, with message_schedule's rules."""

import datetime as dt

import pytest
from django.utils import timezone

from smsnotify import outbox
from smsnotify.models import EventType, Kind, Lane, Message, MessageEvent, SmsSettings, Status
from smsnotify.outbox import BatchText
from tests.factories import make_shop

pytestmark = pytest.mark.django_db


def texts(*rows):
    return [BatchText(to=to, body=body, dedupe_key=f"b:1:{n}") for n, (to, body) in enumerate(rows)]


def test_a_chunk_is_written_with_the_outboxs_rules(shop):
    SmsSettings.objects.filter(shop=shop).update(replace_special_characters=True)
    written = outbox.messages_schedule_batch(shop=shop, kind=Kind.BULK, batch_ref="b:1", texts=texts(
        ("+12025550101", "Zażółć gęślą jaźń"), ("(202) 555-0102", "Hi"), ("12", "Hi"), ("+12025550104", "  ")))
    messages = {m.recipient: m for m in Message.objects.filter(pk__in=written)}
    assert set(messages) == {"+12025550101", "+12025550102"}  # national input read; invalid and empty skipped
    first = messages["+12025550101"]
    assert (first.body, first.encoding, first.segments, first.lane, first.batch_ref) == (
        "Zazolc gesla jazn", "GSM-7", 1, Lane.MARKETING, "b:1")
    assert set(MessageEvent.objects.filter(message__in=written).values_list("type", flat=True)) == {EventType.SCHEDULED}
    assert outbox.messages_schedule_batch(shop=shop, kind=Kind.BULK, batch_ref="b:1",
                                         texts=texts(("+12025550101", "Again"))) == []  # a re-run writes nothing


def test_with_sms_off_they_are_written_cancelled_with_the_reason(db):
    shop = make_shop(active=False)
    written = outbox.messages_schedule_batch(shop=shop, kind=Kind.BULK_SERVICE, batch_ref="b:1",
                                            texts=texts(("+12025550101", "Hi")))
    message = Message.objects.get(pk__in=written)
    assert (message.status, message.error_code, message.lane) == (Status.CANCELLED, "sms_inactive", Lane.SERVICE)
    assert message.events.get().type == EventType.STOPPED


def test_a_later_send_time_is_kept_and_not_rung(shop, on_commit):
    later = timezone.now() + dt.timedelta(hours=3)
    from unittest import mock

    with mock.patch("smsnotify.outbox._ring") as ring, on_commit():
        written = outbox.messages_schedule_batch(shop=shop, kind=Kind.BULK, batch_ref="b:1", send_at=later,
                                                texts=texts(("+12025550101", "Hi")))
    assert Message.objects.get(pk__in=written).send_at == later
    assert not ring.called
