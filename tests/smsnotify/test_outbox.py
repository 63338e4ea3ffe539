"""smsnotify/outbox.py on SQLite with the locmem gateway: scheduling, cancel, send again, dispatch, expiry."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from smsnotify import history as message_history, outbox
from smsnotify.gateways import AmbiguousGatewayError, TransientGatewayError
from smsnotify.models import LANES, EventType, Message, SmsSettings, Status
from smsnotify.phones import InvalidPhoneNumber
from tests.delivery import deliver
from tests.factories import make_shop
from tests.smsnotify.helpers import history, schedule, skip_locked_asked

pytestmark = pytest.mark.django_db


def test_send_now_is_delivered_on_commit(shop, sms_outbox, on_commit):
    with on_commit():
        message = schedule(shop, to="(202) 555-0123")
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.recipient == "+12025550123"
    assert message.sender == "TestShop"
    assert message.provider_id.startswith("LM")
    assert message.attempts == 1
    assert [(sms.to, sms.body, sms.sender) for sms in sms_outbox] == [("+12025550123", "Hello from the shop", "TestShop")]
    assert history(message) == [Status.SCHEDULED, Status.SENDING, Status.SENT]


def test_message_stores_encoding_and_segments(shop):
    message = schedule(shop, body="Zażółć gęślą jaźń " * 5)
    assert (message.encoding, message.segments) == ("UCS-2", 2)


def test_same_dedupe_key_schedules_once(shop, sms_outbox, on_commit):
    with on_commit():
        first = schedule(shop, dedupe_key="order:1:status:shipped")
        second = schedule(shop, dedupe_key="order:1:status:shipped", body="different text")
    assert first.pk == second.pk
    assert Message.objects.count() == 1
    assert len(sms_outbox) == 1


def test_dedupe_key_is_per_shop(shop):
    from tests.factories import make_shop

    other = make_shop()
    schedule(shop, dedupe_key="order:1:status:shipped")
    schedule(other, dedupe_key="order:1:status:shipped")
    assert Message.objects.count() == 2


@pytest.mark.parametrize("bad", ["", "not a number", "+1 202", "12345", "+999123456789"])
def test_invalid_recipient_never_reaches_the_outbox(shop, bad):
    with pytest.raises(InvalidPhoneNumber):
        schedule(shop, to=bad)
    assert Message.objects.count() == 0


def test_national_number_uses_the_shops_country(db):
    from tests.factories import make_shop

    polish = make_shop(country="PL")
    assert schedule(polish, to="601 234 567").recipient == "+48601234567"


def test_empty_body_is_refused(shop):
    with pytest.raises(ValidationError):
        schedule(shop, body="   ")
    assert Message.objects.count() == 0


def test_inactive_shop_cancels_with_a_reason(shop, sms_outbox, on_commit):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with on_commit():
        message = schedule(shop)
    assert (message.status, message.error_code) == (Status.CANCELLED, "sms_inactive")
    assert message_history.error_text(message) == "Not sent: SMS is switched off for this shop."
    assert message_history.event_text(message.events.get()) == "Not sent: SMS is switched off for this shop."
    assert sms_outbox == []


def test_future_message_waits_for_its_time(shop, sms_outbox, on_commit):
    message = schedule(shop, send_at=timezone.now() + dt.timedelta(days=2))
    assert outbox.messages_dispatch_due() == 0
    assert sms_outbox == []
    with time_machine.travel(timezone.now() + dt.timedelta(days=2, seconds=1)), on_commit():
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


def test_lost_doorbell_is_rung_again(shop, sms_outbox, settings, django_capture_on_commit_callbacks):
    message = schedule(shop)
    with django_capture_on_commit_callbacks(execute=False):  # the broker dropped the task
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert sms_outbox == []
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS + 1)):
        with django_capture_on_commit_callbacks(execute=True):
            outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1


def test_message_far_past_due_expires(shop, sms_outbox, settings):
    message = schedule(shop, send_at=timezone.now() - dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS, minutes=1))
    outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "expired")
    assert sms_outbox == []


def test_cancel_only_before_sending(shop):
    waiting = schedule(shop, send_at=timezone.now() + dt.timedelta(hours=1))
    assert outbox.message_cancel(message=waiting)
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    sent = schedule(shop)
    deliver([sent.pk])
    assert not outbox.message_cancel(message=sent)


def test_merchant_can_send_an_unknown_message_again(shop, sms_outbox, gateway_errors, on_commit):
    message = schedule(shop)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    deliver([message.pk])
    with on_commit():
        assert outbox.message_send_again(message=message)
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1



def test_a_queued_message_far_past_due_expires_too(shop, sms_outbox, settings, django_capture_on_commit_callbacks):
    """A row whose doorbell rang but whose worker never came (queued, not scheduled) is not sent days late."""
    message = schedule(shop)
    with django_capture_on_commit_callbacks(execute=False):  # rang, but no worker took it
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    late = timezone.now() + dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS, minutes=1)
    with time_machine.travel(late), django_capture_on_commit_callbacks(execute=True):
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "expired")
    expired = message.events.get(type=EventType.EXPIRED)
    assert expired.parameters == {"hours": settings.SMS_LATE_CUTOFF_HOURS}
    assert message_history.event_text(expired) == f"Not sent: more than {settings.SMS_LATE_CUTOFF_HOURS} hours late."
    assert sms_outbox == []


def test_only_the_late_messages_expire_not_the_on_time_ones_of_another_shop(shop, sms_outbox, settings,
                                                                           django_capture_on_commit_callbacks):
    other = make_shop(credits=1000)
    hours = settings.SMS_LATE_CUTOFF_HOURS
    late_scheduled = schedule(shop, send_at=timezone.now() - dt.timedelta(hours=hours, minutes=5))
    late_queued = schedule(shop, send_at=timezone.now() - dt.timedelta(hours=hours, minutes=5))
    Message.objects.filter(pk=late_queued.pk).update(status=Status.QUEUED, queued_at=timezone.now())
    later = schedule(other, send_at=timezone.now() + dt.timedelta(hours=1))
    on_time_queued = schedule(other)
    Message.objects.filter(pk=on_time_queued.pk).update(status=Status.QUEUED, queued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        outbox.messages_dispatch_due()
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {late_scheduled.pk: Status.FAILED, late_queued.pk: Status.FAILED,
                        later.pk: Status.SCHEDULED, on_time_queued.pk: Status.QUEUED}
    assert EventType.EXPIRED not in {e.type for m in (later, on_time_queued) for e in m.events.all()}
    assert set(Message.objects.filter(error_code="expired").values_list("pk", flat=True)) == {
        late_scheduled.pk, late_queued.pk}


def test_sending_again_after_giving_up_gives_a_full_round_of_attempts(shop, sms_outbox, gateway_errors, settings):
    """A message that used up its attempts and is sent again is retried on the next temporary
    error, not given up at once because of the attempts of its first round."""
    settings.SMS_MAX_ATTEMPTS = 2
    message = schedule(shop)
    gateway_errors.extend([TransientGatewayError("busy", code="20429")] * 2)
    deliver([message.pk])
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)):
        deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.FAILED, 2)

    assert outbox.message_send_again(message=message)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.error_code) == (Status.SCHEDULED, 0, "")
    gateway_errors.append(TransientGatewayError("busy again", code="20429"))
    deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SCHEDULED, 1)  # retried, not given up
    assert message.events.order_by("pk").last().type == EventType.RETRY
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)):
        deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert len(sms_outbox) == 1


def test_dispatch_drains_a_backlog_in_chunks_but_keeps_the_broker_shallow(shop, settings, on_commit):
    settings.SMS_DISPATCH_MAX_QUEUED = 7
    for n in range(10):
        schedule(shop, to=f"+120255501{n:02d}", send_at=timezone.now() - dt.timedelta(seconds=1))
    with mock.patch("smsnotify.outbox._ring") as ring, on_commit():
        assert outbox.messages_dispatch_due(chunk=3) == 7  # 3 + 3 + 1: the room left
        assert outbox.messages_dispatch_due(chunk=3) == 0  # still 7 waiting for a worker
    assert [len(call.args[0]) for call in ring.call_args_list] == [3, 3, 1]
    assert Message.objects.filter(status=Status.SCHEDULED).count() == 3  # the rest waits in the database


def test_a_cancelled_message_says_so_and_who_cancelled_it(shop, django_user_model):
    clerk = django_user_model.objects.create_user(username="clerk", password="x")
    by_hand = schedule(shop, send_at=timezone.now() + dt.timedelta(hours=1))
    by_system = schedule(shop, send_at=timezone.now() + dt.timedelta(hours=1))
    assert outbox.message_cancel(message=by_hand, user=clerk)
    assert outbox.message_cancel(message=by_system)
    for message in (by_hand, by_system):
        message.refresh_from_db()
        assert (message.status, message.error_code, message.error_text) == (Status.CANCELLED, "cancelled", "Cancelled.")
    event = by_hand.events.get(type=EventType.CANCELLED)
    assert (event.user, event.parameters) == (clerk, {"user": "clerk"})
    assert by_system.events.get(type=EventType.CANCELLED).parameters == {}


def test_sending_again_forgets_the_previous_attempts_provider_id_and_error(shop):
    """A late report about the old attempt must not find (and move) the new one."""
    from smsnotify import aftercare
    from smsnotify.gateways.base import DeliveryReport

    message = schedule(shop)
    deliver([message.pk])
    message.refresh_from_db()
    aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(
        provider_id=message.provider_id, status=Status.UNDELIVERED, error_code="30003", error_text="Unreachable"))
    assert outbox.message_send_again(message=message)
    message.refresh_from_db()
    assert (message.status, message.provider_id, message.error_code, message.error_text) == (
        Status.SCHEDULED, "", "", "")


def test_a_broker_that_cannot_take_the_task_is_logged_with_the_messages(shop, caplog):
    with mock.patch("smsnotify.tasks.deliver.apply_async", side_effect=ConnectionError("broker down")), \
            caplog.at_level("WARNING", logger="smsnotify.outbox"):
        outbox._ring([1, 2], "service")
    assert [r.getMessage() for r in caplog.records] == ["Could not enqueue delivery of [1, 2]; dispatch will retry."]
    assert caplog.records[0].exc_info[0] is ConnectionError  # the broker's error, for the operator


def test_dispatch_with_skip_locked_claims_late_lost_and_due_rows(shop, settings, django_capture_on_commit_callbacks):
    """The PostgreSQL path (SKIP LOCKED) builds the same claims; SQLite ignores the lock itself."""
    from django.db import connection

    now = timezone.now()
    due = schedule(shop)
    late = schedule(shop, send_at=now - dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS + 1))
    lost = schedule(shop, send_at=now + dt.timedelta(seconds=1))
    Message.objects.filter(pk=lost.pk).update(
        status=Status.QUEUED, queued_at=now - dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS + 1))
    with mock.patch.object(connection.features, "has_select_for_update_skip_locked", True), \
            skip_locked_asked() as asked, django_capture_on_commit_callbacks() as rung:
        assert outbox.messages_dispatch_due() == 1
    statuses = dict(Message.objects.filter(pk__in=[due.pk, late.pk, lost.pk]).values_list("pk", "status"))
    assert statuses == {due.pk: Status.QUEUED, late.pk: Status.FAILED, lost.pk: Status.QUEUED}
    assert len(rung) == 2  # the lost doorbell and the due message
    # two dispatchers split the rows instead of one waiting for the other's: expiry (scheduled and
    # queued), lost doorbells and each lane's claim
    assert asked == [{"skip_locked": True}] * (2 + 1 + len(LANES))


def test_expiry_takes_a_thousand_late_messages_a_beat_and_is_not_blinded_by_old_sent_ones(shop, settings):
    """Old sent messages (always far past their send_at) must not fill the window of late ones."""
    from smsnotify.models import Kind

    old = timezone.now() - dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS + 5)
    row = dict(shop=shop, kind=Kind.MANUAL, recipient="+12025550123", body="hi", created_at=old)
    Message.objects.bulk_create([Message(status=Status.SCHEDULED, send_at=old, **row) for _ in range(1001)])
    Message.objects.bulk_create([Message(status=Status.SENT, send_at=old, **row) for _ in range(1000)])  # newer: listed first
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        outbox.messages_dispatch_due()
    assert Message.objects.filter(status=Status.FAILED, error_code="expired").count() == 1000
    expired = Message.objects.filter(status=Status.FAILED).first()
    assert expired.error_text == f"Not sent: more than {settings.SMS_LATE_CUTOFF_HOURS} hours late."
    left = Message.objects.get(status=Status.QUEUED)  # the one left for the next beat is claimed as due
    assert (left.queued_at, left.updated_at) == (now, now)


def test_lost_doorbells_are_rung_a_thousand_a_beat_and_old_sent_ones_do_not_hide_them(shop, settings):
    from smsnotify.models import Kind

    now = timezone.now()
    stale = now - dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS + 60)
    later = now + dt.timedelta(hours=1)  # not due: only the doorbell is looked at, not the claim
    row = dict(shop=shop, kind=Kind.MANUAL, recipient="+12025550123", body="hi", send_at=later, queued_at=stale)
    Message.objects.bulk_create([Message(status=Status.QUEUED, **row) for _ in range(1001)])
    Message.objects.bulk_create([Message(status=Status.SENT, **row) for _ in range(1000)])  # newer: listed first
    recent = schedule(shop, send_at=later)
    Message.objects.filter(pk=recent.pk).update(status=Status.QUEUED, queued_at=now - dt.timedelta(seconds=1))
    with time_machine.travel(now, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async"):
        outbox.messages_dispatch_due()
    assert Message.objects.filter(status=Status.QUEUED, queued_at=now).count() == 1000
    recent.refresh_from_db()
    assert recent.queued_at == now - dt.timedelta(seconds=1)


@pytest.mark.parametrize("body", ["", "   \n"])
def test_an_empty_body_is_refused_with_its_code_and_reason(shop, body):
    with pytest.raises(ValidationError) as refused:
        schedule(shop, body=body)
    assert (refused.value.code, refused.value.messages) == ("empty_body", ["The message is empty."])
    assert not Message.objects.exists()


def test_a_message_keeps_what_it_is_about(shop):
    from tests.factories import CartFactory, CustomerFactory, ProductFactory

    customer = CustomerFactory(shop=shop)
    cart, product = CartFactory(shop=shop, customer=customer), ProductFactory(shop=shop)
    message = schedule(shop, customer=customer, cart=cart, product=product)
    message.refresh_from_db()
    assert (message.customer, message.cart, message.product) == (customer, cart, product)


def test_a_message_written_while_sms_is_off_stores_the_reason_in_english(shop):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    message = schedule(shop)
    message.refresh_from_db()
    assert message.error_text == "SMS is switched off for this shop."
    on = schedule(make_shop(credits=10))
    assert (on.status, on.error_code, on.error_text) == (Status.SCHEDULED, "", "")


def test_a_concurrent_caller_that_wrote_the_same_key_first_gets_its_message_back(shop):
    """Both callers looked before either wrote: the unique key refuses the second, which returns the first's row."""
    from django.db.models.query import QuerySet

    schedule(make_shop(credits=10), dedupe_key="order:1:status:shipped")  # the same key in another shop
    schedule(shop)  # and a message of this shop without a key
    first = schedule(shop, dedupe_key="order:1:status:shipped")
    with mock.patch.object(QuerySet, "first", return_value=None):
        second = schedule(shop, dedupe_key="order:1:status:shipped")
    assert second.pk == first.pk
    assert Message.objects.filter(shop=shop).count() == 2


def test_the_event_of_a_message_written_while_sms_is_off_says_it_was_cancelled(shop):
    SmsSettings.objects.filter(shop=shop).update(active=False)
    message = schedule(shop)
    assert (message.events.get().type, message.events.get().status) == (EventType.STOPPED, Status.CANCELLED)


def test_a_text_rings_its_lane_only_when_due_written_to_be_sent_and_asked_to(shop, on_commit):
    from smsnotify.models import Kind

    later = timezone.now() + dt.timedelta(hours=1)
    with mock.patch("smsnotify.outbox._ring") as ring, on_commit():
        due = schedule(shop, kind=Kind.ORDER_STATUS)
        schedule(shop, kind=Kind.ORDER_STATUS, send_at=later)  # beat's dispatch takes it when due
        schedule(shop, kind=Kind.ORDER_STATUS, ring=False)  # the caller rings its batch itself
        SmsSettings.objects.filter(shop=shop).update(active=False)
        schedule(shop, kind=Kind.ORDER_STATUS)  # written cancelled: nothing to deliver
    ring.assert_called_once_with([due.pk], "service")


def test_ringing_without_a_lane_rings_each_message_on_its_own(shop, on_commit):
    from smsnotify.models import Kind

    service = schedule(shop, kind=Kind.ORDER_STATUS, ring=False)
    marketing = schedule(shop, kind=Kind.BULK, ring=False)
    with mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, on_commit():
        outbox.messages_ring(message_ids=[service.pk, marketing.pk])
    assert {call.kwargs["queue"]: (call.args[0], call.kwargs["argsrepr"]) for call in enqueue.call_args_list} == {
        "sms.marketing": (([marketing.pk],), "(1 message ids)"), "sms.service": (([service.pk],), "(1 message ids)")}


def test_ringing_no_message_asks_for_nothing_on_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        outbox.messages_ring(message_ids=[], lane="service")
        outbox.messages_ring(message_ids=[])
    assert callbacks == []
