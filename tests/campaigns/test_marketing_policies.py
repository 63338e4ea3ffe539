"""The policies a marketing text meets at the moment it would leave: consent, the allowed hours in the
recipient's time zone, and the frequency cap. Service texts meet none of them."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.utils import translation

from campaigns.models import CapAction, MarketingSettings
from campaigns.quiet_hours import next_allowed_moment, recipient_zone
from shop.models import MarketingConsent
from smsnotify import history
from smsnotify.models import EventType, Kind, Message, Status
from smsnotify.outbox import message_schedule
from tests.delivery import deliver
from tests.factories import CustomerFactory, make_shop

pytestmark = pytest.mark.django_db

NEW_YORK, WARSAW = zoneinfo.ZoneInfo("America/New_York"), zoneinfo.ZoneInfo("Europe/Warsaw")
NY_NUMBER, PL_NUMBER = "+12025550123", "+48601234567"


def at(zone, *args):
    return dt.datetime(*args, tzinfo=zone)


def marketing(shop, to=NY_NUMBER, kind=Kind.BULK, customer=None):
    return message_schedule(shop=shop, to=to, body="Sale!", kind=kind, customer=customer)


def outcome(message):
    message.refresh_from_db()
    return message.status, message.error_code


@pytest.fixture
def consenting(shop):
    return CustomerFactory(shop=shop, phone=NY_NUMBER, marketing_consent=MarketingConsent.GRANTED)


# --- consent -----------------------------------------------------------------------------------


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 12, 0), tick=False)
def test_a_marketing_text_without_consent_is_suppressed_unpaid_and_says_why(shop, sms_outbox):
    customer = CustomerFactory(shop=shop, phone=NY_NUMBER)  # never asked
    message = marketing(shop, customer=customer)
    deliver([message.pk])
    assert outcome(message) == (Status.SUPPRESSED, "no_consent")
    assert message.credits_charged == 0 and sms_outbox == []
    with translation.override("en"):
        assert history.error_text(message).startswith("Not sent: a marketing text needs the customer's consent")


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 12, 0), tick=False)
def test_a_marketing_text_with_consent_leaves(shop, consenting, sms_outbox):
    message = marketing(shop, customer=consenting)
    deliver([message.pk])
    assert outcome(message) == (Status.SENT, "")


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 12, 0), tick=False)
def test_consent_is_found_by_number_and_a_revocation_with_the_same_number_wins(shop, consenting):
    by_number = marketing(shop)
    deliver([by_number.pk])
    assert outcome(by_number) == (Status.SENT, "")
    CustomerFactory(shop=shop, phone=NY_NUMBER, marketing_consent=MarketingConsent.REVOKED)
    again = marketing(shop)
    deliver([again.pk])
    assert outcome(again) == (Status.SUPPRESSED, "no_consent")


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 12, 0), tick=False)
def test_another_shops_consent_does_not_count(shop):
    CustomerFactory(shop=make_shop(), phone=NY_NUMBER, marketing_consent=MarketingConsent.GRANTED)
    message = marketing(shop)
    deliver([message.pk])
    assert outcome(message) == (Status.SUPPRESSED, "no_consent")


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 3, 0), tick=False)
def test_a_service_text_needs_no_consent_and_ignores_the_hours(shop):
    message = marketing(shop, kind=Kind.ORDER_STATUS)
    deliver([message.pk])
    assert outcome(message) == (Status.SENT, "")


# --- the allowed hours ----------------------------------------------------------------------------


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 3, 0), tick=False)
def test_a_marketing_text_at_night_waits_for_8_in_the_recipients_zone(shop, consenting):
    message = marketing(shop, customer=consenting)
    deliver([message.pk])
    message.refresh_from_db()
    assert message.status == Status.SCHEDULED and message.send_at == at(NEW_YORK, 2026, 12, 1, 8, 0)
    held = message.events.get(type=EventType.HELD)
    with translation.override("en"):
        assert history.event_text(held).endswith(": outside the hours marketing texts may arrive.")
    with time_machine.travel(message.send_at, tick=False):
        deliver([message.pk])
    assert outcome(message) == (Status.SENT, "")


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 15, 30), tick=False)  # 21:30 in Warsaw, 15:30 for the shop
def test_the_recipients_zone_not_the_shops_decides(shop):
    CustomerFactory(shop=shop, phone=PL_NUMBER, marketing_consent=MarketingConsent.GRANTED)
    shop.time_zone = "America/New_York"
    shop.save()
    message = marketing(shop, to=PL_NUMBER)
    deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.send_at) == (Status.SCHEDULED, at(WARSAW, 2026, 12, 2, 8, 0))


def test_a_number_of_several_zones_uses_the_shops():
    assert recipient_zone("+12025550123", "Europe/Lisbon") == NEW_YORK  # one zone: the number's
    assert recipient_zone("+18005550100", "Europe/Lisbon") == zoneinfo.ZoneInfo("Europe/Lisbon")  # toll-free
    assert recipient_zone("not a number", "Nowhere/Atlantis").utcoffset(None) == dt.timedelta(0)


@time_machine.travel(at(NEW_YORK, 2026, 12, 1, 9, 0), tick=False)
def test_narrowed_hours_and_no_sundays(shop, consenting):
    MarketingSettings.objects.filter(shop=shop).update(send_from=10, send_until=18, no_sundays=True)
    early = marketing(shop, customer=consenting)
    deliver([early.pk])
    early.refresh_from_db()
    assert early.send_at == at(NEW_YORK, 2026, 12, 1, 10, 0)
    with time_machine.travel(at(NEW_YORK, 2026, 12, 5, 18, 0), tick=False):  # Saturday 18:00: next is Monday
        late = marketing(shop, customer=consenting)
        deliver([late.pk])
    late.refresh_from_db()
    assert late.send_at == at(NEW_YORK, 2026, 12, 7, 10, 0)


def test_the_next_allowed_moment_keeps_the_local_hour_across_a_dst_change():
    zone = NEW_YORK  # clocks go back on Sunday 1 November 2026
    opening = next_allowed_moment(at(zone, 2026, 10, 31, 22, 0), zone=zone, send_from=8, send_until=20,
                                  no_sundays=False)
    assert opening.astimezone(zone) == at(zone, 2026, 11, 1, 8, 0)
    assert opening.astimezone(dt.timezone.utc).hour == 13  # EST now: UTC-5, not the day before's UTC-4
    spring = next_allowed_moment(at(WARSAW, 2026, 3, 28, 23, 0), zone=WARSAW, send_from=8, send_until=20,
                                 no_sundays=False)
    assert spring.astimezone(dt.timezone.utc) == dt.datetime(2026, 3, 29, 6, 0, tzinfo=dt.timezone.utc)  # CEST


@pytest.mark.parametrize("local, expected", [
    ((2026, 12, 1, 7, 59), (2026, 12, 1, 8, 0)),
    ((2026, 12, 1, 8, 0), None),
    ((2026, 12, 1, 19, 59), None),
    ((2026, 12, 1, 20, 0), (2026, 12, 2, 8, 0)),
    ((2026, 12, 5, 20, 0), (2026, 12, 7, 8, 0)),  # Saturday evening, Sundays excluded
    ((2026, 12, 6, 12, 0), (2026, 12, 7, 8, 0)),  # Sunday noon
])
def test_the_edges_of_the_hours(local, expected):
    moment = next_allowed_moment(at(WARSAW, *local), zone=WARSAW, send_from=8, send_until=20, no_sundays=True)
    assert moment == (at(WARSAW, *expected) if expected else None)


# --- the frequency cap --------------------------------------------------------------------------


def test_a_second_marketing_text_within_24_hours_is_postponed_until_the_first_is_a_day_old(shop, consenting):
    first_at = at(NEW_YORK, 2026, 12, 1, 10, 0)
    with time_machine.travel(first_at, tick=False):
        first = marketing(shop, customer=consenting)
        deliver([first.pk])
    with time_machine.travel(first_at + dt.timedelta(hours=3), tick=False):
        second = marketing(shop, customer=consenting, kind=Kind.DATE_CAMPAIGN)
        service = marketing(shop, kind=Kind.ORDER_STATUS)
        deliver([second.pk, service.pk])
    second.refresh_from_db()
    assert (second.status, second.send_at) == (Status.SCHEDULED, first_at + dt.timedelta(hours=24))
    assert outcome(service) == (Status.SENT, "")  # service texts do not count and are not capped


def test_over_the_cap_the_merchant_may_drop_instead(shop, consenting):
    MarketingSettings.objects.filter(shop=shop).update(cap_action=CapAction.DROP, cap_count=2, cap_hours=48)
    with time_machine.travel(at(NEW_YORK, 2026, 12, 1, 10, 0), tick=False):
        texts = [marketing(shop, customer=consenting) for _ in range(3)]
        deliver([m.pk for m in texts])  # one batch: the first two leave, the third is over the cap
    assert [outcome(m) for m in texts] == [(Status.SENT, "")] * 2 + [(Status.SUPPRESSED, "frequency_cap_drop")]
    assert texts[2].credits_charged == 0


def test_the_cap_counts_per_shop(shop, consenting):
    other = make_shop(credits=100)
    CustomerFactory(shop=other, phone=NY_NUMBER, marketing_consent=MarketingConsent.GRANTED)
    with time_machine.travel(at(NEW_YORK, 2026, 12, 1, 10, 0), tick=False):
        ours, theirs = marketing(shop, customer=consenting), marketing(other)
        deliver([ours.pk, theirs.pk])
    assert outcome(ours) == outcome(theirs) == (Status.SENT, "")
    assert Message.objects.filter(status=Status.SENT).count() == 2
