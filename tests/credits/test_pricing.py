"""Pricing per segment and destination: domestic by calling code, international, overrides."""

import pytest

from credits.models import DestinationRate, PricingSettings
from credits.estimate import sms_estimate
from credits.selectors import cheapest_sms_cost, credit_balance, send_block
from smsnotify.models import SmsSettings
from tests.factories import fund, make_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def us_shop(db):
    return make_shop(country="US")


@pytest.fixture
def pl_shop(db):
    return make_shop(country="PL", currency="PLN")


def message_cost(*, shop, recipient, segments) -> int:
    """Credits for a GSM-7 text of ``segments`` parts to ``recipient``, by the one estimate."""
    return sms_estimate(shop=shop, text="x" * (153 * segments if segments > 1 else 1), recipient=recipient).credits


def test_defaults_come_from_settings(settings):
    assert settings.SMS_CREDITS_PER_SEGMENT_DOMESTIC == 12
    pricing = PricingSettings.load()
    assert (pricing.credits_per_segment_domestic, pricing.credits_per_segment_international) == (12, 30)
    assert pricing.minimum_purchase_credits == 300


def test_domestic_single_sms_is_12_credits(us_shop, pl_shop):
    assert message_cost(shop=us_shop, recipient="+12025550123", segments=1) == 12
    assert message_cost(shop=pl_shop, recipient="+48601234567", segments=1) == 12


def test_every_segment_is_charged(us_shop):
    assert message_cost(shop=us_shop, recipient="+12025550123", segments=3) == 36


def test_uk_number_from_a_polish_shop_is_international(pl_shop):
    assert message_cost(shop=pl_shop, recipient="+447911123456", segments=1) == 30
    assert message_cost(shop=pl_shop, recipient="+447911123456", segments=2) == 60


def test_plus_one_is_shared_so_canada_is_domestic_for_a_us_shop(us_shop):
    assert message_cost(shop=us_shop, recipient="+14165550123", segments=1) == 12  # Toronto
    assert message_cost(shop=us_shop, recipient="+18765550123", segments=1) == 12  # Jamaica, also +1


def test_a_canadian_shop_texting_the_us_is_domestic(db):
    canada = make_shop(country="CA", currency="CAD")
    assert message_cost(shop=canada, recipient="+12025550123", segments=1) == 12


def test_guernsey_number_is_decided_by_calling_code_not_region(db):
    import phonenumbers

    assert phonenumbers.region_code_for_number(phonenumbers.parse("+447911123456")) == "GG"
    uk = make_shop(country="GB", currency="GBP")
    assert message_cost(shop=uk, recipient="+447911123456", segments=1) == 12  # GG region, +44 like the shop
    assert message_cost(shop=make_shop(country="PL"), recipient="+447911123456", segments=1) == 30


def test_destination_rate_overrides_international_and_domestic(us_shop, pl_shop):
    DestinationRate.objects.create(calling_code=44, credits_per_segment=25)
    DestinationRate.objects.create(calling_code=48, credits_per_segment=9)
    assert message_cost(shop=pl_shop, recipient="+447911123456", segments=2) == 50
    assert message_cost(shop=us_shop, recipient="+447911123456", segments=1) == 25
    assert message_cost(shop=pl_shop, recipient="+48601234567", segments=1) == 9  # domestic too: destination wins
    assert cheapest_sms_cost(pl_shop) == 9
    assert message_cost(shop=pl_shop, recipient="+4915112345678", segments=1) == 30  # Germany: no override


def test_operator_edits_take_effect_at_once_in_the_process_that_saves(us_shop, pl_shop):
    assert message_cost(shop=us_shop, recipient="+12025550123", segments=1) == 12  # now cached
    pricing = PricingSettings.load()
    pricing.credits_per_segment_domestic, pricing.credits_per_segment_international = 10, 40
    pricing.save()
    assert message_cost(shop=us_shop, recipient="+12025550123", segments=1) == 10
    assert message_cost(shop=pl_shop, recipient="+12025550123", segments=1) == 40
    assert cheapest_sms_cost(us_shop) == 10
    rate = DestinationRate.objects.create(calling_code=1, credits_per_segment=7)
    assert cheapest_sms_cost(us_shop) == 7
    rate.delete()
    assert cheapest_sms_cost(us_shop) == 10


def test_other_processes_see_edits_within_the_cache_time(us_shop, settings):
    import dataclasses
    import time

    from credits import pricing

    settings.CREDITS_PRICING_CACHE_SECONDS = 10
    assert cheapest_sms_cost(us_shop) == 12
    PricingSettings.objects.update(credits_per_segment_domestic=9)  # as another process would: no signal here
    assert cheapest_sms_cost(us_shop) == 12  # still cached
    pricing._rates = dataclasses.replace(pricing._rates, loaded_at=time.monotonic() - 10)  # 10 s later
    assert cheapest_sms_cost(us_shop) == 9


def test_unreadable_recipient_is_priced_as_international(us_shop):
    assert message_cost(shop=us_shop, recipient="garbage", segments=1) == 30


def test_an_empty_text_is_priced_as_one_part(us_shop):
    assert sms_estimate(shop=us_shop, text="", recipient="+12025550123").credits == 12


def test_send_block(us_shop):
    assert credit_balance(us_shop) == 0
    assert str(send_block(us_shop)) == "Not enough credits: balance 0, one SMS costs 12. Buy credits."
    fund(us_shop, 5)
    assert str(send_block(us_shop)) == "Not enough credits: balance 5, one SMS costs 12. Buy credits."
    fund(us_shop, 7)
    assert send_block(us_shop) is None  # exactly one SMS
    SmsSettings.objects.filter(shop=us_shop).update(active=False)
    assert str(send_block(us_shop)).startswith("SMS is switched off")


def test_send_block_follows_the_shops_own_rate(pl_shop):
    DestinationRate.objects.create(calling_code=48, credits_per_segment=20)
    fund(pl_shop, 19)
    assert "one SMS costs 20" in str(send_block(pl_shop))
    fund(pl_shop, 1)
    assert send_block(pl_shop) is None


@pytest.mark.parametrize("number", ["+12025550123", "+447911123456", "+48601234567", "+5999461234", "+8823450000",
                                    "+351912345678", "+35191234567", "+79161234567", "+97412345678"])
def test_calling_code_fast_path_agrees_with_phonenumbers(number):
    import phonenumbers

    from credits.pricing import calling_code_of_number

    assert calling_code_of_number(number) == phonenumbers.parse(number, None).country_code


def test_unreadable_numbers_have_no_calling_code():
    from credits.pricing import calling_code_of_number

    assert calling_code_of_number("+999") is None
    assert calling_code_of_number("garbage") is None
