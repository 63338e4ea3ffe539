"""Pacing: a sender sends at most its rate (message parts per second) across every worker; what is
over waits in the database until its sender has room; shops sharing a sender take turns."""

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from smsnotify import history, pacing
from smsnotify.gateways.locmem import LocmemGateway
from smsnotify.models import LANES, EventType, Kind, Message, SenderRate, SmsSettings, Status
from tests.delivery import deliver
from tests.factories import make_shop
from tests.smsnotify.helpers import schedule, skip_locked_asked

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc)
DUE = START - dt.timedelta(seconds=1)  # written before START, whenever the suite runs


class PacedGateway(LocmemGateway):
    """The test outbox, with a real provider's rates."""

    paced = True
    default_sender = "+12025550100"  # a long code: 1 part per second


@pytest.mark.parametrize("sender, kind", [
    ("MyShop", "alphanumeric"), ("+12025550100", "long_code"), ("+48601000100", "long_code"),
    ("+18005550100", "toll_free"), ("+18885550100", "toll_free"), ("12345", "short_code"), ("654321", "short_code"),
    ("MG" + "a" * 32, "long_code"),
])
def test_the_kind_of_sender_gives_the_providers_rate(sender, kind):
    assert pacing.sender_kind(sender) == kind
    assert pacing.sender_rate(sender, {}) == pacing.DEFAULT_RATES[kind]


def _many(shop, count, **kwargs):
    return [schedule(shop, to=f"+1202555{n:04d}", ring=False, send_at=DUE, **kwargs) for n in range(count)]


def _statuses(messages):
    return [Message.objects.get(pk=m.pk).status for m in messages]


def test_an_alphanumeric_sender_sends_ten_parts_a_second_and_the_rest_waits_in_the_database(shop, sms_outbox):
    messages = _many(shop, 15)  # sender "TestShop": 10 parts per second
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in messages], gateway=PacedGateway())
    assert _statuses(messages) == [Status.SENT] * 10 + [Status.SCHEDULED] * 5
    waiting = Message.objects.get(pk=messages[10].pk)
    assert waiting.send_at == START + dt.timedelta(seconds=1) and waiting.credits_charged == 0
    with translation.override("en"):
        assert history.event_text(waiting.events.get(type=EventType.HELD)).endswith(
            ": its sender's rate (10 SMS parts per second) is used up for now.")
    with time_machine.travel(START + dt.timedelta(seconds=1), tick=False):
        deliver([m.pk for m in messages], gateway=PacedGateway())
    assert _statuses(messages) == [Status.SENT] * 15
    assert len(sms_outbox) == 15


def test_two_workers_share_the_senders_rate(shop):
    first, second = _many(shop, 8), _many(shop, 8)
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in first], gateway=PacedGateway())  # one worker
        deliver([m.pk for m in second], gateway=PacedGateway())  # another, the same second
    assert Message.objects.filter(status=Status.SENT).count() == 10


def test_a_long_text_may_leave_a_slow_sender_and_the_next_waits_for_what_it_owes(shop):
    SmsSettings.objects.filter(shop=shop).update(sender="+12025550100")  # a long code: 1 part/s
    long_text = schedule(shop, body="x" * 400, ring=False, send_at=DUE)  # 3 parts
    short = schedule(shop, ring=False, send_at=DUE)
    with time_machine.travel(START, tick=False):
        deliver([long_text.pk, short.pk], gateway=PacedGateway())
    assert _statuses([long_text, short]) == [Status.SENT, Status.SCHEDULED]
    assert Message.objects.get(pk=short.pk).send_at == START + dt.timedelta(seconds=3)
    with time_machine.travel(START + dt.timedelta(seconds=1), tick=False):
        deliver([short.pk], gateway=PacedGateway())
    assert _statuses([short]) == [Status.SCHEDULED]  # the long text's parts are still owed
    with time_machine.travel(START + dt.timedelta(seconds=3), tick=False):
        deliver([short.pk], gateway=PacedGateway())
    assert _statuses([short]) == [Status.SENT]


def test_shops_sharing_a_sender_take_turns(db):
    blast, small = make_shop(credits=1000), make_shop(credits=1000)
    SmsSettings.objects.filter(shop__in=[blast, small]).update(sender="")  # both send from the platform's number
    SenderRate.objects.create(sender="+12025550100", segments_per_second=4)
    big = _many(blast, 12)
    mine = _many(small, 2)
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in big + mine], gateway=PacedGateway())
    assert _statuses(mine) == [Status.SENT, Status.SENT]
    assert _statuses(big).count(Status.SENT) == 2


def test_the_operators_rate_wins_over_the_providers_rule(shop):
    SenderRate.objects.create(sender="TestShop", segments_per_second=2)
    messages = _many(shop, 5)
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in messages], gateway=PacedGateway())
    assert _statuses(messages).count(Status.SENT) == 2


def test_a_sandbox_is_not_paced(shop):
    messages = _many(shop, 30)
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in messages], gateway=LocmemGateway())
    assert _statuses(messages) == [Status.SENT] * 30


def test_a_stopped_text_uses_none_of_the_rate(shop):
    """Pacing runs after every check that stops a text: a suppressed one takes no slot."""
    from campaigns.models import OptOut

    OptOut.objects.create(shop=shop, phone="+12025550000")
    messages = _many(shop, 11)  # the first goes to the opted-out number
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in messages], gateway=PacedGateway())
    assert _statuses(messages) == [Status.SUPPRESSED] + [Status.SENT] * 10


def test_the_database_bucket_and_the_redis_script_agree():
    costs = [1, 3, 2, 5, 1]
    for tokens, updated, rate, now in [(10, 0, 10, 0), (0, 0, 1, 0.5), (1, 0, 1, 10), (-4, 0, 3, 1), (5, 0, 100, 0)]:
        granted, left = pacing._take(tokens, updated, rate, costs, now)
        capacity = max(rate, 1)
        start = min(capacity, tokens + (now - updated) * rate)
        assert left == start - sum(costs[:granted])
        if granted < len(costs):
            assert left < min(costs[granted], capacity)


# --- a blast against everything else ---------------------------------------------------------------


def test_a_marketing_batch_leaves_the_reserve_to_an_order_text_of_the_same_sender(shop, sms_outbox):
    blast = _many(shop, 20, kind=Kind.BULK)
    Message.objects.filter(pk__in=[m.pk for m in blast]).update(kind=Kind.MANUAL)  # past consent; still marketing
    order_text = schedule(shop, to="+12025559999", kind=Kind.ORDER_STATUS, ring=False, send_at=DUE)
    with time_machine.travel(START, tick=False):
        deliver([m.pk for m in blast], gateway=PacedGateway())  # 10 parts/s, 2 of them kept for service texts
        deliver([order_text.pk], gateway=PacedGateway())
    assert _statuses(blast).count(Status.SENT) == 8
    assert _statuses([order_text]) == [Status.SENT]


@pytest.fixture
def paced(settings):
    settings.SMS_GATEWAY = "tests.smsnotify.test_pacing.PacedGateway"
    settings.SMS_DISPATCH_INTERVAL = 5


def test_dispatch_releases_a_blast_at_its_senders_pace_and_rings_nothing_at_writing(shop, paced, on_commit):
    from unittest import mock

    from smsnotify import outbox

    with time_machine.travel(DUE, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, \
            on_commit():
        blast = [schedule(shop, to=f"+1202555{n:04d}", kind=Kind.BULK) for n in range(100)]
        order_text = schedule(shop, to="+12025559999", kind=Kind.ORDER_STATUS)
    assert [call.kwargs["queue"] for call in enqueue.call_args_list] == ["sms.service"]  # the blast waits
    with time_machine.travel(START, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async"), on_commit():
        released = outbox.messages_dispatch_due()
    # 10 parts/s for "TestShop", 80 % of it for marketing, over a 5-second dispatch interval: 40 texts
    assert Message.objects.filter(pk__in=[m.pk for m in blast], status=Status.QUEUED).count() == 40
    assert released == 40 + 1  # and the order's text (its lane is not paced at dispatch)
    queued = Message.objects.filter(status=Status.QUEUED).order_by("send_at", "pk")
    assert order_text.pk in set(queued.values_list("pk", flat=True))


def test_shops_sharing_a_sender_share_its_pace_at_dispatch(paced, on_commit):
    from unittest import mock

    from smsnotify import outbox

    first, second = make_shop(credits=1000), make_shop(credits=1000)
    SmsSettings.objects.filter(shop__in=[first, second]).update(sender="")  # the platform's long code: 1/s
    SenderRate.objects.create(sender="+12025550100", segments_per_second=5)
    for shop in (first, second):
        _many(shop, 30, kind=Kind.BULK)
    with time_machine.travel(START, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async"), on_commit():
        outbox.messages_dispatch_due()
    queued = Message.objects.filter(status=Status.QUEUED)
    assert queued.filter(shop=first).count() == queued.filter(shop=second).count() == 10  # 5 × 0.8 × 5 s / 2


def _dispatch(on_commit):
    """One dispatch run at START, committed; returns what it released and the queues it rang."""
    from unittest import mock

    from smsnotify import outbox

    with time_machine.travel(START, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, \
            on_commit():
        released = outbox.messages_dispatch_due()
    return released, {call.kwargs["queue"] for call in enqueue.call_args_list}


def test_dispatch_releases_only_each_shops_due_marketing_texts_oldest_first(paced, on_commit):
    first, second = make_shop(credits=1000, sender="FirstShop"), make_shop(credits=1000, sender="SecondShop")
    old = _many(first, 3, kind=Kind.BULK)  # sent long ago: nothing to release, and no share of the pace
    Message.objects.filter(pk__in=[m.pk for m in old]).update(status=Status.SENT, send_at=DUE - dt.timedelta(days=1))
    blast = _many(first, 50, kind=Kind.BULK)
    small = _many(second, 10, kind=Kind.BULK)
    tomorrow = schedule(second, kind=Kind.BULK, ring=False, send_at=START + dt.timedelta(days=1))
    released, queues = _dispatch(on_commit)
    # each sender: 10 parts/s × 80 % for marketing × a 5-second interval = 40 parts
    assert released == 40 + 10 and queues == {"sms.marketing"}
    assert _statuses(blast) == [Status.QUEUED] * 40 + [Status.SCHEDULED] * 10
    assert _statuses(small) == [Status.QUEUED] * 10 and _statuses([tomorrow]) == [Status.SCHEDULED]
    assert set(Message.objects.filter(status=Status.QUEUED).values_list("queued_at", "updated_at")) == {
        (START, START)}


@pytest.mark.parametrize(("room", "released"), [(45, 45), (40, 40)])
def test_dispatch_releases_no_more_than_the_lane_has_room_for(paced, settings, on_commit, room, released):
    settings.SMS_DISPATCH_MAX_QUEUED = room  # 40 (one shop's pace) and 5 more, or just 40
    shops = [make_shop(credits=1000, sender=sender) for sender in ("FirstShop", "SecondShop")]
    for shop in shops:
        _many(shop, 40, kind=Kind.BULK)
    assert _dispatch(on_commit)[0] == released
    queued = Message.objects.filter(status=Status.QUEUED)
    assert sorted(queued.filter(shop=shop).count() for shop in shops) == sorted([40, released - 40])


def test_dispatch_releases_long_texts_by_their_parts(shop, paced, on_commit):
    long_texts = _many(shop, 20, kind=Kind.BULK, body="x" * 400)  # 3 parts each: 13 fit in 40 parts
    assert _dispatch(on_commit)[0] == 13
    assert _statuses(long_texts) == [Status.QUEUED] * 13 + [Status.SCHEDULED] * 7


def test_a_paced_release_skips_rows_another_dispatcher_has_locked(shop, paced, on_commit):
    from unittest import mock

    from django.db import connection

    _many(shop, 3, kind=Kind.BULK)
    with mock.patch.object(connection.features, "has_select_for_update_skip_locked", True), \
            skip_locked_asked() as asked:
        assert _dispatch(on_commit)[0] == 3
    # expiry (scheduled and queued), lost doorbells, each unpaced lane's claim and the marketing release
    assert asked == [{"skip_locked": True}] * (2 + 1 + len(LANES))
