"""Code texts: the shop's template in its language, a service text in the codes lane (no consent,
no quiet hours), charged, and never held back by a marketing blast."""

import datetime as dt
import re
from unittest import mock

import pytest
import time_machine

from campaigns.codes import code_text
from shop.verification import verification_code_send
from smsnotify.models import Kind, Lane, Message, Status
from templates_sms.models import SmsTemplate
from tests.delivery import deliver
from tests.factories import make_shop
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc)
DUE = START - dt.timedelta(seconds=1)


def request_code(shop, number="+12025550147"):
    code = verification_code_send(shop=shop, channel="sms", address=number, purpose="signup", ip="203.0.113.7")
    return Message.objects.get(dedupe_key=f"code:{code.pk}")


def test_a_code_is_a_verification_code_text_in_the_codes_lane(shop):
    text = request_code(shop)
    assert (text.kind, text.lane, text.recipient, text.status) == (
        Kind.VERIFICATION_CODE, Lane.CODES, "+12025550147", Status.SCHEDULED)
    assert re.fullmatch(rf"\d{{6}} is your {shop.name} verification code\.", text.body)


def test_a_code_rings_the_codes_queue_at_once(shop, on_commit):
    with mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, on_commit():
        text = request_code(shop)
    assert [(call.args[0][0], call.kwargs["queue"]) for call in enqueue.call_args_list] == [([text.pk], "sms.codes")]


def test_the_text_is_the_shops_template_in_its_language():
    shop = make_shop(country="PL", language="pl", currency="PLN", credits=1000)
    template = SmsTemplate.objects.get(shop=shop, event="signup:code")
    assert "{code}" in template.body and template.body != "{code} is your {shop_name} verification code."
    assert code_text(shop=shop, secret="123456") == template.body.replace("{code}", "123456").replace(
        "{shop_name}", shop.name)
    template.body = "Kod {code} dla [[shop_name]]"
    template.save()
    assert code_text(shop=shop, secret="123456") == f"Kod 123456 dla {shop.name}"


@pytest.mark.parametrize("change", ["switched off", "edited without the code"])
def test_a_template_that_would_not_carry_the_code_gives_way_to_the_standard_text(shop, change):
    template = SmsTemplate.objects.get(shop=shop, event="signup:code")
    if change == "switched off":
        template.active = False
    else:
        template.body = "Welcome to {shop_name}!"
    template.save()
    assert code_text(shop=shop, secret="654321") == f"654321 is your {shop.name} verification code."


def test_a_code_reaches_a_customer_without_marketing_consent_at_night_and_is_charged(shop, sms_outbox):
    night = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)  # 3:00 in New York
    with time_machine.travel(night, tick=False):
        text = request_code(shop)
        promo = schedule(shop, to="+12025550148", kind=Kind.BULK, ring=False)
        deliver([text.pk, promo.pk])
    text.refresh_from_db()
    promo.refresh_from_db()
    assert text.status == Status.SENT and text.credits_charged > 0
    assert promo.status != Status.SENT  # the same night, a marketing text waits (or lacks consent)
    assert [sms.to for sms in sms_outbox] == ["+12025550147"]
    assert sms_outbox[0].validity_seconds == 600  # worth nothing after its ten minutes


@pytest.fixture
def paced(settings):
    settings.SMS_GATEWAY = "tests.smsnotify.test_pacing.PacedGateway"
    settings.SMS_DISPATCH_INTERVAL = 5


def test_a_code_leaves_while_a_marketing_blast_is_paced(shop, paced, on_commit, sms_outbox):
    from smsnotify import outbox
    from tests.smsnotify.test_pacing import PacedGateway

    with time_machine.travel(DUE, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async"), on_commit():
        blast = [schedule(shop, to=f"+1202555{n:04d}", kind=Kind.BULK) for n in range(200, 300)]
    with time_machine.travel(START, tick=False), mock.patch("smsnotify.tasks.deliver.apply_async") as enqueue, \
            on_commit():
        outbox.messages_dispatch_due()  # the blast is released at its sender's pace: 40 of 100
        text = request_code(shop)
        queued = [m.pk for m in blast if Message.objects.get(pk=m.pk).status == Status.QUEUED]
        deliver(queued, gateway=PacedGateway())  # the marketing share of the sender's second is used up
        deliver([text.pk], gateway=PacedGateway())
    assert ([text.pk], "sms.codes") in [(call.args[0][0], call.kwargs["queue"]) for call in enqueue.call_args_list]
    assert Message.objects.filter(pk__in=[m.pk for m in blast], status=Status.SCHEDULED).count() >= 60
    text.refresh_from_db()
    assert text.status == Status.SENT
    assert "+12025550147" in [sms.to for sms in sms_outbox]


def test_once_a_code_has_left_its_digits_are_not_kept(shop, sms_outbox, settings):
    settings.SMS_CODE_TEXTS_FORGOTTEN = True  # production's default (DEBUG off)
    text = request_code(shop)
    secret = re.search(r"\d{6}", text.body).group()
    deliver([text.pk])
    assert secret in sms_outbox[0].body  # the customer got it
    text.refresh_from_db()
    assert secret not in text.body and text.body == f"****** is your {shop.name} verification code."
    other = schedule(shop, to="+12025550148", kind=Kind.ORDER_STATUS, body="Order 123456 shipped", ring=False)
    deliver([other.pk])
    other.refresh_from_db()
    assert other.body == "Order 123456 shipped"  # only code texts are forgotten


def test_on_a_laptop_a_code_text_is_kept_for_the_demo(shop, settings):
    settings.SMS_CODE_TEXTS_FORGOTTEN = False  # DEBUG's default: the admin shows the sandbox's codes
    text = request_code(shop)
    secret = re.search(r"\d{6}", text.body).group()
    deliver([text.pk])
    text.refresh_from_db()
    assert secret in text.body


def test_a_code_text_that_could_not_leave_within_ten_minutes_is_not_sent_nor_charged(shop, sms_outbox):
    with time_machine.travel(START, tick=False):
        text = request_code(shop)
    with time_machine.travel(START + dt.timedelta(minutes=10), tick=False):  # the workers were down
        deliver([text.pk])
    text.refresh_from_db()
    assert (text.status, text.error_code, text.credits_charged) == (Status.FAILED, "code_expired", 0)
    assert sms_outbox == []
    fresh = request_code(make_shop(credits=1000), number="+12025550148")
    deliver([fresh.pk])
    fresh.refresh_from_db()
    assert fresh.status == Status.SENT
