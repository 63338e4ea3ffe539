"""smsnotify/transitions.py: a conditional UPDATE plus a typed event per message moved."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from smsnotify.models import EventType, Message, Status
from smsnotify.transitions import message_transition, messages_transition
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db


def test_moving_one_message_stamps_the_time_of_the_move(shop):
    message = schedule(shop)
    later = timezone.now() + dt.timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        assert message_transition(message.pk, from_statuses=[Status.SCHEDULED], status=Status.CANCELLED,
                                  event=EventType.CANCELLED)
    message.refresh_from_db()
    assert (message.status, message.updated_at) == (Status.CANCELLED, later)
    assert message.events.last().created_at == later


def test_a_message_in_another_status_is_not_moved_and_gets_no_event(shop):
    message = schedule(shop)
    assert not message_transition(message.pk, from_statuses=[Status.SENT], status=Status.DELIVERED,
                                  event=EventType.REPORT)
    assert not messages_transition([message.pk], from_statuses=[Status.SENT], status=Status.DELIVERED,
                                   event=EventType.REPORT)
    assert list(message.events.values_list("type", flat=True)) == [EventType.SCHEDULED]


def test_per_message_fields_and_params_go_to_their_own_message_only(shop):
    first, second, untouched = schedule(shop), schedule(shop), schedule(shop)
    at = timezone.now() + dt.timedelta(hours=2)
    moved = messages_transition(
        [first.pk, second.pk], from_statuses=[Status.SCHEDULED], status=Status.FAILED, event=EventType.REFUSED,
        params={"shared": 1}, error_code="x",
        per_message={first.pk: {"fields": {"error_text": "first", "send_at": at}, "params": {"own": "a"}},
                     second.pk: {"params": {"own": "b"}}})
    assert sorted(moved) == [first.pk, second.pk]
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[first.pk, second.pk, untouched.pk])}
    assert (rows[first.pk].error_code, rows[first.pk].error_text, rows[first.pk].send_at) == ("x", "first", at)
    assert (rows[second.pk].error_code, rows[second.pk].error_text) == ("x", "")
    assert rows[second.pk].send_at == second.send_at
    assert rows[untouched.pk].status == Status.SCHEDULED
    assert rows[first.pk].events.last().parameters == {"shared": 1, "own": "a"}
    assert rows[second.pk].events.last().parameters == {"shared": 1, "own": "b"}


def test_when_someone_else_moved_some_first_only_the_rows_this_call_moved_get_an_event(shop):
    """Time stands still, so the rows others touched carry the very same updated_at."""
    import uuid

    ours, reported, cancelled_before, elsewhere = (schedule(shop) for _ in range(4))
    Message.objects.filter(pk=ours.pk).update(claim=uuid.uuid4())  # an earlier run's claim: not a filter here
    message_transition(cancelled_before.pk, from_statuses=[Status.SCHEDULED], status=Status.CANCELLED,
                       event=EventType.CANCELLED)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1), tick=False):
        message_transition(reported.pk, from_statuses=[Status.SCHEDULED], status=Status.SENT, event=EventType.FOUND)
        message_transition(elsewhere.pk, from_statuses=[Status.SCHEDULED], status=Status.CANCELLED,
                           event=EventType.CANCELLED)
        moved = messages_transition([ours.pk, reported.pk, cancelled_before.pk], from_statuses=[Status.SCHEDULED],
                                    status=Status.CANCELLED, event=EventType.EXPIRED)
    assert moved == [ours.pk]
    assert list(Message.objects.filter(events__type=EventType.EXPIRED).values_list("pk", flat=True)) == [ours.pk]


def test_a_delivery_run_records_only_the_rows_of_its_own_claim(shop):
    import uuid

    ours, theirs = schedule(shop), schedule(shop)
    run, other_run = uuid.uuid4(), uuid.uuid4()
    Message.objects.filter(pk=ours.pk).update(status=Status.SENDING, claim=run)
    Message.objects.filter(pk=theirs.pk).update(status=Status.SENDING, claim=other_run)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1), tick=False):
        assert messages_transition([theirs.pk], from_statuses=[Status.SENDING], claim=other_run,
                                   status=Status.FAILED, event=EventType.REFUSED) == [theirs.pk]
        moved = messages_transition([ours.pk, theirs.pk], from_statuses=[Status.SENDING], claim=run,
                                    status=Status.FAILED, event=EventType.REFUSED)
    assert moved == [ours.pk]
    assert theirs.events.filter(type=EventType.REFUSED).count() == 1


def test_fields_every_message_has_are_written_to_each_with_its_event_and_who_acted(shop, django_user_model):
    """On PostgreSQL this is the one-statement path over arrays (smsnotify/pg_transitions.py)."""
    import uuid

    first, second, other = schedule(shop), schedule(shop), schedule(shop)
    run = uuid.uuid4()
    Message.objects.filter(pk__in=[first.pk, second.pk]).update(status=Status.SENDING, claim=run)
    Message.objects.filter(pk=other.pk).update(status=Status.SENDING, claim=uuid.uuid4())  # another run's
    operator = django_user_model.objects.create_user("operator")
    sent_at = timezone.now()
    moved = messages_transition(
        [second.pk, other.pk, first.pk], from_statuses=[Status.SENDING, Status.QUEUED], claim=run, status=Status.SENT,
        event=EventType.ACCEPTED, params={"shared": [1, "a"]}, user=operator, sent_at=sent_at, error_text="",
        per_message={first.pk: {"fields": {"provider_id": "SM1", "error_code": "c1"}, "params": {"own": "ä"}},
                     second.pk: {"fields": {"provider_id": "SM2", "error_code": "c2"}, "params": {}},
                     other.pk: {"fields": {"provider_id": "SM3", "error_code": "c3"}}})
    assert moved == [second.pk, first.pk]  # in the order asked
    rows = {m.pk: m for m in Message.objects.filter(pk__in=[first.pk, second.pk, other.pk])}
    assert [(rows[pk].status, rows[pk].provider_id, rows[pk].error_code, rows[pk].sent_at)
            for pk in (first.pk, second.pk)] == [(Status.SENT, "SM1", "c1", sent_at), (Status.SENT, "SM2", "c2", sent_at)]
    assert (rows[other.pk].status, rows[other.pk].provider_id) == (Status.SENDING, "")
    assert not rows[other.pk].events.filter(type=EventType.ACCEPTED).exists()
    first_event, second_event = (rows[pk].events.get(type=EventType.ACCEPTED) for pk in (first.pk, second.pk))
    assert first_event.parameters == {"shared": [1, "a"], "own": "ä"}
    assert second_event.parameters == {"shared": [1, "a"]}
    assert (first_event.user, first_event.status, first_event.created_at) == (operator, Status.SENT,
                                                                              rows[first.pk].updated_at)


def test_a_partial_move_with_fields_of_its_own_records_only_the_rows_it_moved(shop):
    moved_first, ours = schedule(shop), schedule(shop)
    message_transition(moved_first.pk, from_statuses=[Status.SCHEDULED], status=Status.CANCELLED,
                       event=EventType.CANCELLED)
    moved = messages_transition(
        [moved_first.pk, ours.pk, ours.pk], from_statuses=[Status.SCHEDULED], status=Status.FAILED,
        event=EventType.REFUSED,
        per_message={pk: {"fields": {"error_code": f"e{pk}"}} for pk in (moved_first.pk, ours.pk)})
    assert moved == [ours.pk]
    moved_first.refresh_from_db()
    ours.refresh_from_db()
    assert (moved_first.status, moved_first.error_code, ours.error_code) == (Status.CANCELLED, "", f"e{ours.pk}")
    assert ours.events.filter(type=EventType.REFUSED).count() == 1
    assert not moved_first.events.filter(type=EventType.REFUSED).exists()


def test_a_field_given_as_an_expression_is_computed_by_the_database(shop):
    from django.db.models import F

    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(attempts=3)
    assert messages_transition([message.pk], from_statuses=[Status.SCHEDULED], status=Status.QUEUED,
                               event=EventType.HELD, attempts=F("attempts") - 1,
                               per_message={message.pk: {"fields": {"error_code": "held"}}}) == [message.pk]
    message.refresh_from_db()
    assert (message.attempts, message.error_code, message.status) == (2, "held", Status.QUEUED)


def test_on_postgresql_the_move_is_handed_whole_to_the_array_path(shop, monkeypatch, django_user_model):
    """The array path itself runs on PostgreSQL (the tests above, in CI's PostgreSQL pass)."""
    from django.db import connection

    from smsnotify import pg_transitions

    message = schedule(shop)
    calls = []
    monkeypatch.setattr(pg_transitions, "messages_transition", lambda pks, **kwargs: calls.append((pks, kwargs)) or [7])
    monkeypatch.setattr(connection, "vendor", "postgresql")
    user, claim, at = django_user_model.objects.create_user("u"), object(), timezone.now()
    per_message = {message.pk: {"fields": {"provider_id": "SM1"}}}
    with time_machine.travel(at, tick=False):
        moved = messages_transition([message.pk], from_statuses=(s for s in [Status.SCHEDULED]), status=Status.SENT,
                                    event=EventType.ACCEPTED, per_message=per_message, claim=claim, user=user,
                                    sent_at=at)
    assert moved == [7]
    assert calls == [([message.pk], {"from_statuses": [Status.SCHEDULED], "status": Status.SENT,
                                     "event": EventType.ACCEPTED, "params": {}, "per_message": per_message,
                                     "claim": claim, "user": user, "now": at, "fields": {"sent_at": at}})]
    message.refresh_from_db()
    assert message.status == Status.SCHEDULED  # the array path did the move: the ORM's did nothing


def test_on_postgresql_a_move_the_array_path_declines_is_made_by_the_orm(shop, monkeypatch):
    from django.db import connection

    from smsnotify import pg_transitions

    message = schedule(shop)
    monkeypatch.setattr(pg_transitions, "messages_transition", lambda pks, **kwargs: None)
    monkeypatch.setattr(connection, "vendor", "postgresql")
    assert messages_transition([message.pk], from_statuses=[Status.SCHEDULED], status=Status.CANCELLED,
                               event=EventType.CANCELLED, params={"why": "x"}) == [message.pk]
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert message.events.last().parameters == {"why": "x"}
