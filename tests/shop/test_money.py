"""The one money formatter (shop.money): SMS tokens, credit prices and the admin all write money this way."""

from decimal import Decimal

import pytest
from django.utils import translation

from shop.money import format_money, format_number, to_major, to_minor


@pytest.mark.parametrize("amount,currency,language,expected", [
    (123450, "PLN", "pl", "1 234,50 zł"),
    (123450, "USD", "en", "$1,234.50"),
    (123450, "EUR", "en", "€1,234.50"),
    (123450, "EUR", "pl", "1 234,50 €"),
    (123450, "EUR", "pt", "1.234,50 €"),
    (99, "USD", "en", "$0.99"),
    (0, "PLN", "pl", "0,00 zł"),
    (1234, "JPY", "en", "¥1,234"),  # no minor unit
    (123450, "PLN", "en", "PLN 1,234.50"),
    (123450, "CHF", "pl", "1 234,50 CHF"),
    (None, "USD", "en", ""),
])
def test_money_in_the_shops_currency_and_language(amount, currency, language, expected):
    assert format_money(amount, currency, language) == expected


def test_money_never_uses_a_no_break_space():
    # Django's Polish format groups thousands with U+00A0, which is not GSM-7 and would make the SMS UCS-2.
    assert "\u00a0" not in format_money(123456789, "PLN", "pl")


def test_money_follows_the_active_language_when_none_is_given():
    with translation.override("pl"):
        assert format_money(5890, "PLN") == "58,90 zł"
    with translation.override("en"):
        assert format_money(5890, "USD") == "$58.90"


def test_numbers_are_grouped_as_the_language_writes_them():
    assert format_number(1000000004534, language="en") == "1,000,000,004,534"
    assert format_number(1000000004534, language="pl") == "1 000 000 004 534"
    assert format_number(1000000004534, language="pt") == "1.000.000.004.534"


@pytest.mark.parametrize("minor,currency,major", [(5890, "USD", "58.90"), (1234, "JPY", "1234"), (1500, "KWD", "1.500")])
def test_minor_and_major_units_round_trip(minor, currency, major):
    assert to_major(minor, currency) == Decimal(major)
    assert to_minor(Decimal(major), currency) == minor


@pytest.mark.parametrize("major,currency", [("58.905", "USD"), ("12.5", "JPY")])
def test_an_amount_finer_than_the_currency_is_refused(major, currency):
    with pytest.raises(ValueError):
        to_minor(Decimal(major), currency)


def test_credits_and_sms_tokens_use_this_formatter():
    import credits.models
    import templates_sms.tokens

    assert credits.models.format_money is format_money
    assert templates_sms.tokens.format_money is format_money
