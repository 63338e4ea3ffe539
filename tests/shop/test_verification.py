"""The rules of the storefront's one-time codes (shop/verification.py), with time travel."""

import datetime as dt
import logging
import re

import pytest
from django.core.exceptions import ValidationError
import time_machine
from django.core import mail
from django.utils import timezone

from shop.models import AccountSettings, CodeRefusal, CodeState, RefusalReason, VerificationCode
from shop.verification import (
    CodeInvalid,
    CodeRefused,
    verification_code_check,
    verification_code_send,
)
from smsnotify.models import Kind, Message

pytestmark = pytest.mark.django_db

NUMBER = "+12025550147"
START = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def send(shop, address=NUMBER, *, channel="sms", purpose="signup", ip="203.0.113.7", session_key="", **kwargs):
    return verification_code_send(shop=shop, channel=channel, address=address, purpose=purpose, ip=ip,
                                  session_key=session_key, **kwargs)


def secret_of(code) -> str:
    """The digits the customer got: read from the text, the only place they exist."""
    body = Message.objects.get(shop=code.shop, dedupe_key=f"code:{code.pk}").body
    return re.search(r"\b\d{6}\b", body).group()


def check(shop, code, address=NUMBER, purpose="signup", channel="sms"):
    return verification_code_check(shop=shop, channel=channel, address=address, purpose=purpose, code=code)


def refused(shop, **kwargs) -> CodeRefused:
    with pytest.raises(CodeRefused) as caught:
        send(shop, **kwargs)
    return caught.value


def wrong(secret: str) -> str:
    return f"{(int(secret) + 1) % 10 ** 6:06d}"


# --- the code itself ---------------------------------------------------------------------------


def test_a_code_is_six_digits_texted_once_and_stored_only_as_a_keyed_hash(shop, clock):
    code = send(shop)
    secret = secret_of(code)
    assert re.fullmatch(r"\d{6}", secret)
    code.refresh_from_db()
    stored = [str(getattr(code, field.attname)) for field in VerificationCode._meta.fields]
    assert not any(secret in value for value in stored)  # no column holds the digits
    assert re.fullmatch(r"[0-9a-f]{64}", code.code_hash)
    assert check(shop, secret).pk == code.pk
    assert VerificationCode.objects.get(pk=code.pk).state == CodeState.USED
    with pytest.raises(CodeInvalid):  # used once
        check(shop, secret)


def test_two_codes_with_the_same_digits_have_different_hashes(shop, clock):
    first = send(shop)
    clock.shift(31)
    second = send(shop)
    assert first.salt != second.salt and first.code_hash != second.code_hash


def test_a_code_works_for_ten_minutes(shop, clock):
    code = send(shop)
    clock.shift(dt.timedelta(minutes=10) - dt.timedelta(seconds=1))
    assert check(shop, secret_of(code)).pk == code.pk
    late = send(shop, address="+12025550148")
    clock.shift(dt.timedelta(minutes=10))
    with pytest.raises(CodeInvalid) as caught:
        check(shop, secret_of(late), address="+12025550148")
    assert caught.value.reason == "expired" and "expired" in caught.value.message


def test_five_wrong_tries_void_the_code(shop, clock):
    code = send(shop)
    secret = secret_of(code)
    for tries_left in (4, 3, 2, 1):
        with pytest.raises(CodeInvalid) as caught:
            check(shop, wrong(secret))
        assert (caught.value.reason, caught.value.tries_left) == ("wrong", tries_left)
    with pytest.raises(CodeInvalid) as caught:
        check(shop, wrong(secret))
    assert caught.value.reason == "voided"
    with pytest.raises(CodeInvalid) as caught:
        check(shop, secret)  # the right code, too late
    assert caught.value.reason == "voided"
    assert VerificationCode.objects.get(pk=code.pk).state == CodeState.VOIDED


def test_the_fifth_try_may_still_be_the_right_one(shop, clock):
    code = send(shop)
    secret = secret_of(code)
    for _ in range(4):
        with pytest.raises(CodeInvalid):
            check(shop, wrong(secret))
    assert check(shop, secret).pk == code.pk


def test_a_new_code_replaces_the_last_one(shop, clock):
    first = send(shop)
    clock.shift(30)
    second = send(shop)
    assert VerificationCode.objects.get(pk=first.pk).state == CodeState.REPLACED
    if secret_of(first) != secret_of(second):  # one chance in a million that they are the same digits
        with pytest.raises(CodeInvalid):
            check(shop, secret_of(first))
    assert check(shop, secret_of(second)).pk == second.pk


def test_a_code_is_for_its_purpose_and_address_only(shop, clock):
    code = send(shop)
    with pytest.raises(CodeInvalid):
        check(shop, secret_of(code), purpose="reset")
    with pytest.raises(CodeInvalid):
        check(shop, secret_of(code), address="+12025550148")


# --- how often ---------------------------------------------------------------------------------


def test_a_new_code_after_30_seconds(shop, clock):
    send(shop)
    clock.shift(29)
    too_soon = refused(shop)
    assert (too_soon.reason, too_soon.wait_seconds) == (RefusalReason.TOO_SOON, 1)
    assert "1 second" in too_soon.message
    clock.shift(1)
    send(shop)


def test_at_most_three_codes_per_number_in_an_hour(shop, clock):
    for _ in range(3):
        send(shop)
        clock.shift(60)
    fourth = refused(shop)  # 3 minutes after the first
    assert fourth.reason == RefusalReason.NUMBER_HOURLY
    assert fourth.wait_seconds == 57 * 60 and "57 minutes" in fourth.message
    clock.shift(dt.timedelta(minutes=57) - dt.timedelta(seconds=1))
    assert refused(shop).reason == RefusalReason.NUMBER_HOURLY
    clock.shift(1)
    send(shop)  # the first is an hour old


def test_the_per_number_limit_counts_every_purpose(shop, clock):
    for purpose in ("signup", "reset", "signup"):
        send(shop, purpose=purpose)
        clock.shift(31)
    assert refused(shop, purpose="reset").reason == RefusalReason.NUMBER_HOURLY


def test_at_most_n_codes_per_ip_address_in_an_hour(shop, clock, settings):
    settings.STOREFRONT_CODES_PER_IP_PER_HOUR = 2
    send(shop, "+12025550147", ip="203.0.113.7")
    send(shop, "+12025551234", ip="203.0.113.7")
    third = refused(shop, address="+12025559876", ip="203.0.113.7")
    assert third.reason == RefusalReason.IP_HOURLY and third.wait_seconds == 3600
    send(shop, "+12025559876", ip="198.51.100.4")  # another visitor
    clock.shift(3600)
    send(shop, "+12025553456", ip="203.0.113.7")


def test_at_most_n_codes_per_session_in_an_hour(shop, clock, settings):
    settings.STOREFRONT_CODES_PER_SESSION_PER_HOUR = 2
    for number, ip in (("+12025550147", "203.0.113.7"), ("+12025551234", "198.51.100.4")):
        send(shop, number, ip=ip, session_key="session-one")
    assert refused(shop, address="+12025559876", ip="192.0.2.1", session_key="session-one").reason == \
        RefusalReason.SESSION_HOURLY
    send(shop, "+12025559876", ip="192.0.2.1", session_key="session-two")
    assert not VerificationCode.objects.filter(session_hash__contains="session").exists()  # the key is not stored


def test_each_shop_counts_its_own(shop, clock):
    from tests.factories import make_shop

    other = make_shop(credits=1000)
    send(shop)
    send(other)  # the same number, at once, on another storefront


# --- against SMS pumping -----------------------------------------------------------------------


def test_codes_go_only_to_the_countries_the_shop_allows_by_default_its_own(shop, clock):
    polish = refused(shop, address="+48601234567")
    assert polish.reason == RefusalReason.COUNTRY and "US" in polish.message
    assert refused(shop, address="+14165550123").reason == RefusalReason.COUNTRY  # +1, but Canada
    AccountSettings.objects.filter(shop=shop).update(code_countries=["US", "PL"])
    send(shop, "+48601234567")
    assert refused(shop, address="+447911123456").reason == RefusalReason.COUNTRY


def test_codes_go_only_to_mobile_numbers(shop, clock):
    assert refused(shop, address="+19005550123").reason == RefusalReason.NOT_TEXTABLE  # premium rate
    AccountSettings.objects.filter(shop=shop).update(code_countries=["PL"])
    assert refused(shop, address="+48221234567").reason == RefusalReason.NOT_TEXTABLE  # a landline


def test_consecutive_numbers_of_one_range_are_refused(shop, clock, settings):
    settings.STOREFRONT_CODES_PER_RANGE_PER_HOUR = 3
    for last in ("01", "02", "03"):
        send(shop, f"+120255501{last}", ip=f"203.0.113.{int(last)}")
    fourth = refused(shop, address="+12025550104", ip="198.51.100.4")
    assert fourth.reason == RefusalReason.RANGE and fourth.wait_seconds == 3600
    clock.shift(31)
    send(shop, "+12025550101", ip="198.51.100.5")  # a number of the range already texted: not a new one
    send(shop, "+12025550204", ip="198.51.100.6")  # another range
    clock.shift(3600)
    send(shop, "+12025550104", ip="198.51.100.7")


def test_an_hourly_ceiling_per_shop_alerts_the_merchant_and_the_operator_once(shop, clock, settings, caplog):
    settings.ADMINS = [("Operator", "operator@example.com")]
    AccountSettings.objects.filter(shop=shop).update(codes_per_hour=2)
    send(shop, "+12025550147", ip="203.0.113.1")
    clock.shift(600)
    send(shop, "+12025551234", ip="203.0.113.2")
    clock.shift(60)
    with caplog.at_level(logging.ERROR, logger="shop.verification"):
        ceiling = refused(shop, address="+12025559876", ip="203.0.113.3")
    assert ceiling.reason == RefusalReason.SHOP_CEILING and ceiling.wait_seconds == 3600 - 660
    assert any("ceiling" in record.getMessage() and record.levelno == logging.ERROR for record in caplog.records)
    alert = Message.objects.get(kind=Kind.MERCHANT_ALERT)
    assert alert.recipient == "+12025550199" and "2 sign-up codes" in alert.body
    assert [message.to for message in mail.outbox] == [["operator@example.com"]]
    clock.shift(60)
    assert refused(shop, address="+12025553456", ip="203.0.113.4").reason == RefusalReason.SHOP_CEILING
    assert Message.objects.filter(kind=Kind.MERCHANT_ALERT).count() == 1 and len(mail.outbox) == 1  # once
    clock.shift(3600 - 720)
    send(shop, "+12025553456", ip="203.0.113.5")


def test_codes_by_email_are_not_bound_by_the_sms_rules(shop, clock, django_capture_on_commit_callbacks):
    AccountSettings.objects.filter(shop=shop).update(codes_per_hour=1)
    send(shop)
    with django_capture_on_commit_callbacks(execute=True):
        code = send(shop, "jane@example.com", channel="email", purpose="reset")
    assert code.channel == "email" and len(mail.outbox) == 1


# --- every refusal is kept -----------------------------------------------------------------------


def test_every_refusal_is_logged_with_its_reason_and_repeats_are_counted(shop, clock, caplog):
    with caplog.at_level(logging.WARNING, logger="shop.verification"):
        refused(shop, address="+48601234567")
        refused(shop, address="+48601234567")
        send(shop)
        refused(shop)
    rows = {(row.reason, row.address, row.ip, row.times) for row in CodeRefusal.objects.all()}
    assert rows == {(RefusalReason.COUNTRY, "+48601234567", "203.0.113.7", 2),
                    (RefusalReason.TOO_SOON, NUMBER, "203.0.113.7", 1)}
    assert sum("refused" in record.getMessage() for record in caplog.records) == 3


def test_a_shop_that_cannot_text_refuses_and_keeps_no_code(shop, clock):
    from smsnotify.models import SmsSettings

    SmsSettings.objects.filter(shop=shop).update(active=False)
    assert refused(shop).reason == RefusalReason.UNAVAILABLE
    assert not VerificationCode.objects.exists() and not Message.objects.exists()
    assert CodeRefusal.objects.get().reason == RefusalReason.UNAVAILABLE


def test_a_shop_without_credits_for_the_text_refuses(clock):
    from tests.factories import make_shop

    poor = make_shop(credits=0)
    assert refused(poor).reason == RefusalReason.UNAVAILABLE
    assert not VerificationCode.objects.exists()
    assert timezone.now() == START


def test_a_ceiling_of_nought_refuses_every_code_and_the_form_asks_for_one_at_least(shop):
    AccountSettings.objects.filter(shop=shop).update(codes_per_hour=0)  # written around the form
    assert refused(shop, address="+12025550147", ip="203.0.113.1").reason == RefusalReason.SHOP_CEILING
    rules = AccountSettings.objects.get(shop=shop)
    with pytest.raises(ValidationError):
        rules.full_clean()
