"""The date campaigns' scan (campaigns/date_campaigns.py), with time travel: each trigger after
its delay at the shop's local hour (also across a daylight-saving change), the look-back, the
switch, consent, idempotency (every scan run twice writes nothing more, also after a crash),
discount codes, and a query count that does not grow with the customers."""

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from campaigns.date_campaigns import LOOKBACK, date_campaigns_run, due_days
from campaigns.models import DateCampaign
from shop import services as shop_services
from shop.models import Coupon, MarketingConsent, OrderStatus
from smsnotify.models import EventType, Kind, Message, SmsSettings, Status
from templates_sms import services as template_services
from templates_sms.models import SmsTemplate
from tests.factories import CustomerFactory, OrderFactory, make_shop

pytestmark = pytest.mark.django_db

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")
UTC = dt.timezone.utc


def at(year, month, day, hour=0, minute=0, zone=UTC):
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


@pytest.fixture
def warsaw(db):
    return make_shop(name="Bałtyk", country="PL", currency="PLN", time_zone="Europe/Warsaw", language="pl",
                     credits=10_000)


def _template(shop, event, body=None):
    template = SmsTemplate.objects.get(shop=shop, event=event, is_standard=True)
    if body is not None:
        template_services.template_update(template=template, body=body)
    return template


def _campaign(shop, trigger, *, created, body=None, **fields):
    template = _template(shop, f"date:{trigger}", body)
    with time_machine.travel(created, tick=False):
        return DateCampaign.objects.create(shop=shop, name=trigger, trigger=trigger, template=template, **fields)


def _consenting(shop, **fields):
    fields.setdefault("phone", "+48601234567" if shop.country == "PL" else "+12025550123")
    return CustomerFactory(shop=shop, marketing_consent=MarketingConsent.GRANTED, **fields)


def _run(moment):
    with time_machine.travel(moment, tick=False):
        return date_campaigns_run()


def _texts(**filters):
    return list(Message.objects.filter(kind=Kind.DATE_CAMPAIGN, **filters).order_by("pk"))


# --- when a date falls due -----------------------------------------------------------------------


def test_due_days_keep_the_local_hour_across_the_spring_change():
    # Warsaw moves to summer time on Sunday 29 March 2026: 9:00 is 8:00 UTC before, 7:00 UTC after.
    days = due_days(start=at(2026, 3, 27, 12), end=at(2026, 3, 31, 12), hour=9, zone=WARSAW)
    assert days == [(dt.date(2026, 3, 28), at(2026, 3, 28, 8)), (dt.date(2026, 3, 29), at(2026, 3, 29, 7)),
                    (dt.date(2026, 3, 30), at(2026, 3, 30, 7)), (dt.date(2026, 3, 31), at(2026, 3, 31, 7))]
    # and back on Sunday 25 October: 9:00 is 8:00 UTC again
    autumn = due_days(start=at(2026, 10, 24, 12), end=at(2026, 10, 26, 12), hour=9, zone=WARSAW)
    assert [moment for _day, moment in autumn] == [at(2026, 10, 25, 8), at(2026, 10, 26, 8)]


def test_an_hour_the_clocks_skip_or_repeat_is_due_once_that_day():
    # 2:00 does not exist in Warsaw on 29 March 2026 (2:00 → 3:00): due at 3:00 summer time.
    assert due_days(start=at(2026, 3, 28, 12), end=at(2026, 3, 29, 12), hour=2, zone=WARSAW) == [
        (dt.date(2026, 3, 29), at(2026, 3, 29, 1))]
    # 2:00 happens twice on 25 October 2026 (3:00 → 2:00): due the first time only.
    assert due_days(start=at(2026, 10, 24, 12), end=at(2026, 10, 25, 12), hour=2, zone=WARSAW) == [
        (dt.date(2026, 10, 25), at(2026, 10, 25, 0))]


def test_the_window_is_half_open_so_a_moment_is_due_once():
    assert due_days(start=at(2026, 1, 15, 8), end=at(2026, 1, 16, 8), hour=9, zone=WARSAW) == [
        (dt.date(2026, 1, 16), at(2026, 1, 16, 8))]


def test_a_birthday_is_texted_at_the_local_hour_across_the_dst_change(warsaw):
    campaign = _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9,
                         body="Happy birthday, {firstname}! {shop_name}")
    spring = _consenting(warsaw, first_name="Ola", birthday=dt.date(1990, 3, 30))  # the day after the change
    winter = _consenting(warsaw, first_name="Jan", birthday=dt.date(1985, 3, 27), phone="+48601234568")

    assert _run(at(2026, 3, 27, 7, 59)) == 0  # 8:59 in Warsaw (winter time)
    assert _run(at(2026, 3, 27, 8, 0)) == 1  # 9:00 in Warsaw
    assert _run(at(2026, 3, 30, 6, 59)) == 0  # 8:59 in Warsaw (summer time)
    assert _run(at(2026, 3, 30, 7, 1)) == 1  # 9:01 in Warsaw

    jan, ola = _texts()
    assert (jan.customer, jan.dedupe_key) == (winter, f"date:{campaign.pk}:birthday:customer:{winter.pk}:2026")
    assert (ola.customer, ola.dedupe_key) == (spring, f"date:{campaign.pk}:birthday:customer:{spring.pk}:2026")
    assert ola.body == "Happy birthday, Ola! Bałtyk" and ola.recipient == "+48601234567"
    assert ola.send_at == at(2026, 3, 30, 7, 1) and ola.status == Status.SCHEDULED
    assert ola.events.get().type == EventType.SCHEDULED
    # every run again (and a later one the same day) writes nothing more
    for moment in (at(2026, 3, 30, 7, 1), at(2026, 3, 30, 20)):
        assert _run(moment) == 0
    assert len(_texts()) == 2
    # next year, the same birthday is a new text
    assert _run(at(2027, 3, 29, 12)) == 0
    assert _run(at(2027, 3, 30, 7, 30)) == 1
    assert _texts()[-1].dedupe_key.endswith(f":{spring.pk}:2027")


def test_a_29_february_birthday_is_texted_on_the_28th_in_other_years(warsaw):
    _campaign(warsaw, "birthday", created=at(2027, 2, 1), send_hour=10)
    leapling = _consenting(warsaw, birthday=dt.date(2000, 2, 29))
    assert _run(at(2027, 2, 28, 9, 30)) == 1
    assert _texts()[0].customer == leapling
    assert _run(at(2027, 3, 1, 9, 30)) == 0


def test_days_after_an_order_was_shipped(warsaw):
    campaign = _campaign(warsaw, "after_shipped", created=at(2026, 5, 1), delay_days=3, send_hour=10,
                         body="{firstname}, how is order {order_id}?")
    customer = _consenting(warsaw, first_name="Ola")
    order = OrderFactory(shop=warsaw, customer=customer, number="PL-7")
    with time_machine.travel(at(2026, 5, 10, 21, 30), tick=False):  # 23:30 in Warsaw, 10 May
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    unshipped = OrderFactory(shop=warsaw, customer=_consenting(warsaw, phone="+48601234569"),
                             status_changed_at=at(2026, 5, 10, 12))

    assert _run(at(2026, 5, 13, 7, 59)) == 0  # 9:59 in Warsaw, 13 May
    assert _run(at(2026, 5, 13, 8, 0)) == 1
    (text,) = _texts()
    assert (text.order, text.body, text.dedupe_key) == (order, "Ola, how is order PL-7?", f"date:{campaign.pk}:after_shipped:order:{order.pk}")
    assert _run(at(2026, 5, 13, 8, 0)) == 0
    assert not _texts(order=unshipped)


def test_days_after_the_first_order_count_from_the_first_only(warsaw):
    campaign = _campaign(warsaw, "after_first_order", created=at(2026, 4, 1), delay_days=2, send_hour=12,
                         body="{firstname}: thanks for order {order_id} of {order_date}")
    customer = _consenting(warsaw, first_name="Ola")
    first = OrderFactory(shop=warsaw, customer=customer, number="F-1", placed_at=at(2026, 4, 10, 9))
    OrderFactory(shop=warsaw, customer=customer, number="F-2", placed_at=at(2026, 4, 11, 9))

    assert _run(at(2026, 4, 12, 10, 0)) == 1  # 12:00 in Warsaw, two days after the first order
    (text,) = _texts()
    assert text.order == first and text.dedupe_key == f"date:{campaign.pk}:after_first_order:customer:{customer.pk}"
    assert text.body == "Ola: thanks for order F-1 of 10-04-2026"
    assert _run(at(2026, 4, 13, 10, 0)) == 0  # the second order is not a first


def test_days_after_the_last_order_only_for_who_has_not_ordered_since(warsaw):
    campaign = _campaign(warsaw, "after_last_order", created=at(2026, 4, 1), delay_days=5, send_hour=12)
    gone = _consenting(warsaw, phone="+48601234567")
    back = _consenting(warsaw, phone="+48601234568")
    last = OrderFactory(shop=warsaw, customer=gone, placed_at=at(2026, 4, 10, 9))
    OrderFactory(shop=warsaw, customer=back, placed_at=at(2026, 4, 10, 9))
    OrderFactory(shop=warsaw, customer=back, placed_at=at(2026, 4, 13, 9))

    assert _run(at(2026, 4, 15, 10, 30)) == 1
    (text,) = _texts()
    assert (text.customer, text.order, text.dedupe_key) == (gone, last, f"date:{campaign.pk}:after_last_order:order:{last.pk}")
    assert _run(at(2026, 4, 18, 10, 30)) == 1  # five days after back's last order
    assert _texts()[-1].customer == back


def test_days_after_registration_on_the_shops_calendar(warsaw):
    _campaign(warsaw, "after_registration", created=at(2026, 6, 1), delay_days=1, send_hour=8)
    # 23:30 UTC on 9 June is already 10 June in Warsaw
    customer = _consenting(warsaw, registered_at=at(2026, 6, 9, 23, 30))
    assert _run(at(2026, 6, 10, 6, 30)) == 0  # 8:30 on 10 June: the registration's own day
    assert _run(at(2026, 6, 11, 6, 30)) == 1  # 8:30 on 11 June
    assert _texts()[0].customer == customer


# --- who ----------------------------------------------------------------------------------------------


def test_only_consenting_customers_with_a_phone(warsaw):
    _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    birthday = dt.date(1990, 3, 10)
    yes = _consenting(warsaw, birthday=birthday)
    CustomerFactory(shop=warsaw, birthday=birthday, marketing_consent=MarketingConsent.UNKNOWN)
    CustomerFactory(shop=warsaw, birthday=birthday, marketing_consent=MarketingConsent.REVOKED)
    _consenting(warsaw, birthday=birthday, phone="")
    _consenting(make_shop(), birthday=birthday)  # another shop's customer, and a campaign it has not
    assert _run(at(2026, 3, 10, 8, 30)) == 1
    assert _texts()[0].customer == yes


def test_an_order_without_the_customers_phone_is_texted_on_the_orders(warsaw):
    _campaign(warsaw, "after_shipped", created=at(2026, 5, 1), send_hour=10)
    customer = _consenting(warsaw, phone="")
    OrderFactory(shop=warsaw, customer=customer, phone="+48601234599", status=OrderStatus.SHIPPED,
                 status_changed_at=at(2026, 5, 10, 6))
    assert _run(at(2026, 5, 10, 8, 30)) == 1
    assert _texts()[0].recipient == "+48601234599"


# --- the window: look-back, new campaigns, the switch ------------------------------------------


def test_a_new_campaign_does_not_text_dates_that_fell_due_before_it(warsaw):
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    _campaign(warsaw, "birthday", created=at(2026, 3, 10, 12), send_hour=9)  # after 9:00 that day
    assert _run(at(2026, 3, 10, 12, 5)) == 0


def test_a_missed_run_catches_up_but_not_beyond_the_look_back(warsaw):
    assert LOOKBACK == dt.timedelta(hours=24)
    _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    _consenting(warsaw, birthday=dt.date(1990, 3, 5), phone="+48601234567")  # 4 days before the run
    yesterday = _consenting(warsaw, birthday=dt.date(1990, 3, 8), phone="+48601234568")
    # Beat was down from 1 March to 9 March 7:00 UTC: yesterday's 9:00 is caught up, 5 March's is not.
    assert _run(at(2026, 3, 9, 7)) == 1
    assert _texts()[0].customer == yesterday


def test_a_campaign_switched_off_texts_nobody_and_is_not_late_when_back_on(warsaw):
    campaign = _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9, active=False)
    _consenting(warsaw, birthday=dt.date(1990, 3, 10), phone="+48601234567")
    later = _consenting(warsaw, birthday=dt.date(1990, 3, 11), phone="+48601234568")
    assert _run(at(2026, 3, 10, 9)) == 0
    DateCampaign.objects.filter(pk=campaign.pk).update(active=True)  # on again at 11:00 Warsaw
    assert _run(at(2026, 3, 10, 10, 5)) == 0  # the 10th's birthday fell due while it was off
    assert _run(at(2026, 3, 11, 8, 5)) == 1
    assert _texts()[0].customer == later


def test_a_campaign_whose_text_is_off_sends_nothing(warsaw):
    template = _template(warsaw, "date:birthday")
    with time_machine.travel(at(2026, 3, 1), tick=False):
        DateCampaign.objects.create(shop=warsaw, name="b", trigger="birthday", send_hour=9)  # the standard text
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    assert not template.active  # marketing texts start off
    assert _run(at(2026, 3, 10, 8, 30)) == 0
    template_services.template_toggle(template=template)
    _consenting(warsaw, birthday=dt.date(1990, 3, 11), phone="+48601234568")
    assert _run(at(2026, 3, 11, 8, 30)) == 1


def test_two_campaigns_of_one_trigger_text_each_once(warsaw):
    first = _campaign(warsaw, "after_shipped", created=at(2026, 5, 1), delay_days=1, send_hour=10)
    second = _campaign(warsaw, "after_shipped", created=at(2026, 5, 1), delay_days=30, send_hour=10)
    order = OrderFactory(shop=warsaw, customer=_consenting(warsaw), status=OrderStatus.SHIPPED,
                         status_changed_at=at(2026, 5, 1, 12))
    assert _run(at(2026, 5, 2, 8, 30)) == 1
    assert _run(at(2026, 5, 31, 8, 30)) == 1
    assert [m.dedupe_key for m in _texts()] == [f"date:{first.pk}:after_shipped:order:{order.pk}",
                                                f"date:{second.pk}:after_shipped:order:{order.pk}"]


# --- idempotency ------------------------------------------------------------------------------------


def test_a_crash_before_the_window_moved_on_texts_nobody_twice(warsaw):
    campaign = _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    assert _run(at(2026, 3, 10, 8, 30)) == 1
    # The worker died after writing the texts, before recording how far it scanned.
    DateCampaign.objects.filter(pk=campaign.pk).update(scanned_until=at(2026, 3, 1))
    assert _run(at(2026, 3, 10, 8, 31)) == 0
    assert len(_texts()) == 1


def test_with_sms_switched_off_nothing_is_written_and_the_day_is_caught_up_when_it_is_on(warsaw):
    SmsSettings.objects.filter(shop=warsaw).update(active=False)
    _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    assert _run(at(2026, 3, 10, 8, 30)) == 0
    assert not _texts()  # no cancelled row per customer, no discount code, no key used up
    SmsSettings.objects.filter(shop=warsaw).update(active=True)
    assert _run(at(2026, 3, 10, 9)) == 1
    assert _run(at(2026, 3, 10, 9, 5)) == 0


def test_the_number_of_queries_does_not_grow_with_the_customers(warsaw):
    _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    _campaign(warsaw, "after_registration", created=at(2026, 3, 1), send_hour=9, delay_days=1)

    def queries(day, count):
        for n in range(count):
            _consenting(warsaw, birthday=dt.date(1990, 3, day), registered_at=at(2026, 3, day - 1, 12),
                        phone=f"+4860{day:02d}{n:05d}")
        with time_machine.travel(at(2026, 3, day, 8, 30), tick=False), \
                CaptureQueriesContext(connection) as captured:
            assert date_campaigns_run() == 2 * count
        # SQLite caps the parameters of one statement, so Django splits a long INSERT there
        # (PostgreSQL writes a chunk in one: the benchmark counts those); the reads must not grow.
        return len([query for query in captured if not query["sql"].startswith("INSERT")])

    assert queries(10, 2) == queries(12, 40)


# --- discount codes -------------------------------------------------------------------------------------


def _discount_campaign(shop, **fields):
    return _campaign(shop, "birthday", created=at(2026, 3, 1), send_hour=9,
                     body="{firstname}: {coupon_value} off with {coupon_code} until {coupon_valid_until}",
                     discount_kind="percent", discount_value=15, discount_valid_days=7, **fields)


def test_a_discount_code_made_for_each_recipient_and_honoured_once(warsaw):
    campaign = _discount_campaign(warsaw)
    ola = _consenting(warsaw, first_name="Ola", birthday=dt.date(1990, 3, 10), phone="+48601234567")
    jan = _consenting(warsaw, first_name="Jan", birthday=dt.date(1991, 3, 10), phone="+48601234568")
    assert _run(at(2026, 3, 10, 8, 30)) == 2
    assert _run(at(2026, 3, 10, 8, 45)) == 0
    coupons = {coupon.customer: coupon for coupon in Coupon.objects.all()}
    assert set(coupons) == {ola, jan} and coupons[ola].code != coupons[jan].code
    code = coupons[ola]
    text = _texts(customer=ola)[0]
    assert text.body == f"Ola: 15% off with {code.code} until 17-03-2026"
    assert code.source_key == text.dedupe_key == f"date:{campaign.pk}:birthday:customer:{ola.pk}:2026"
    assert code.valid_until.astimezone(WARSAW).date() == dt.date(2026, 3, 17)
    assert (code.kind, code.value, code.shop) == ("percent", 15, warsaw)

    with time_machine.travel(at(2026, 3, 12, 10), tick=False):
        order = shop_services.order_create(shop=warsaw, number="C-1", customer=ola, subtotal=10_000,
                                           shipping_cost=1_500, coupon_code=f" {code.code.lower()} ")
    assert (order.discount, order.total) == (1_500, 10_000)
    code.refresh_from_db()
    assert code.redeemed_order == order and code.redeemed_at == at(2026, 3, 12, 10)


@pytest.mark.parametrize("case", ["used", "someone_else", "expired", "other_shop", "unknown"])
def test_a_discount_code_that_cannot_be_honoured_is_refused(warsaw, case):
    from django.core.exceptions import ValidationError

    _discount_campaign(warsaw)
    ola = _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    _run(at(2026, 3, 10, 8, 30))
    code = Coupon.objects.get().code
    shop, customer, moment = warsaw, ola, at(2026, 3, 12)
    if case == "used":
        with time_machine.travel(moment, tick=False):
            shop_services.order_create(shop=warsaw, number="C-0", customer=ola, subtotal=100, coupon_code=code)
    elif case == "someone_else":
        customer = _consenting(warsaw, phone="+48601234599")
    elif case == "expired":
        moment = at(2026, 3, 17, 23, 30)  # 18 March in Warsaw: the code ran out with 17 March
    elif case == "other_shop":
        shop = make_shop(country="PL", currency="PLN")
        customer = _consenting(shop)
    else:
        code = "NOSUCHCODE"
    with time_machine.travel(moment, tick=False), pytest.raises(ValidationError) as refused:
        shop_services.order_create(shop=shop, number="C-1", customer=customer, subtotal=100, coupon_code=code)
    assert "coupon_code" in refused.value.message_dict
    assert not Coupon.objects.filter(redeemed_order__number="C-1").exists()


def test_an_amount_off_never_exceeds_the_goods(warsaw):
    _discount_campaign(warsaw)
    DateCampaign.objects.update(discount_kind="amount", discount_value=5_000)
    ola = _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    _run(at(2026, 3, 10, 8, 30))
    assert "50,00 zł off" in _texts()[0].body
    coupon = Coupon.objects.get()
    with time_machine.travel(at(2026, 3, 11), tick=False):
        order = shop_services.order_create(shop=warsaw, number="C-1", customer=ola, subtotal=3_000,
                                           shipping_cost=900, coupon_code=coupon.code)
    assert (order.discount, order.total) == (3_000, 900)


def test_a_code_that_meets_an_existing_one_writes_nothing_until_the_next_run(warsaw, monkeypatch, caplog):
    from campaigns import date_campaigns

    campaign = _discount_campaign(warsaw)
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    Coupon.objects.create(shop=warsaw, code="TAKEN23456", kind="percent", value=5, valid_until=at(2030, 1, 1))
    monkeypatch.setattr(date_campaigns, "coupon_code_new", lambda: "TAKEN23456")
    assert _run(at(2026, 3, 10, 8, 30)) == 0
    assert not _texts() and Coupon.objects.count() == 1  # no text without its code
    assert f"A discount code of campaign {campaign.pk} was taken" in caplog.text
    monkeypatch.undo()
    assert _run(at(2026, 3, 10, 8, 35)) == 1  # the window was not moved on: the next run writes it
    assert Coupon.objects.count() == 2 and Coupon.objects.exclude(code="TAKEN23456").get().code in _texts()[0].body


# --- switched off before it leaves (the delivery policy) -----------------------------------------------


@pytest.mark.parametrize("change", ["switch_off", "delete"])
def test_a_text_held_past_its_campaigns_switching_off_is_cancelled(warsaw, change):
    from smsnotify import history
    from tests.delivery import deliver

    campaign = _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    _run(at(2026, 3, 10, 8, 30))
    (text,) = _texts()
    if change == "delete":
        campaign.delete()
    else:
        DateCampaign.objects.filter(pk=campaign.pk).update(active=False)
    with time_machine.travel(at(2026, 3, 10, 8, 31), tick=False):
        deliver([text.pk])
    text.refresh_from_db()
    assert (text.status, text.error_code) == (Status.CANCELLED, "campaign_off")
    with translation.override("en"):
        assert history.event_text(text.events.order_by("pk").last()) == (
            "Not sent: its date campaign was switched off or deleted.")


def test_a_text_of_a_campaign_still_on_leaves(warsaw, sms_outbox):
    from tests.delivery import deliver

    _campaign(warsaw, "birthday", created=at(2026, 3, 1), send_hour=9)
    _consenting(warsaw, birthday=dt.date(1990, 3, 10))
    _run(at(2026, 3, 10, 8, 30))
    (text,) = _texts()
    with time_machine.travel(at(2026, 3, 10, 8, 31), tick=False):
        deliver([text.pk])
    text.refresh_from_db()
    assert text.status == Status.SENT and [sms.to for sms in sms_outbox] == ["+48601234567"]


def test_the_campaign_of_a_key():
    from campaigns.date_campaigns import campaign_of_dedupe_key

    assert campaign_of_dedupe_key("date:3:birthday:customer:9:2027") == 3
    assert campaign_of_dedupe_key("date:12:after_shipped:order:4") == 12
    for key in (None, "", "cart:3:abandoned:1", "date:x:birthday", "date:3"):
        assert campaign_of_dedupe_key(key) is None
