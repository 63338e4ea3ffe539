"""smsnotify.phones.to_e164: what the outbox takes as a recipient; stored E.164 numbers take a shortcut
that must agree with phonenumbers' own reading."""

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from smsnotify.phones import InvalidPhoneNumber, calling_code_split, to_e164


def _phonenumbers_says(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) \
        if phonenumbers.is_valid_number(number) else None


def _ours(text: str) -> str | None:
    try:
        return to_e164(text, region="US")
    except InvalidPhoneNumber:
        return None


@pytest.mark.parametrize("text, expected", [
    ("+48601234567", "+48601234567"),  # Poland, mobile
    ("+351912345678", "+351912345678"),  # Portugal: a three-digit country code
    ("+390612345678", "+390612345678"),  # Italy keeps the national number's leading zero
    ("+12025550123", "+12025550123"),
    ("+1202555012", None),  # a digit short
    ("+4860123456", None),
    ("+999123456789", None),  # no such country code
    ("(202) 555-0123", "+12025550123"),  # national input is read in the shop's region
    ("011 48 601 234 567", "+48601234567"),  # the US way of dialling abroad
    ("+610200000000", "+61200000000"),  # Australia's trunk 0 written after the country code is dropped
    ("12", None),
])
def test_numbers_are_read_as_phonenumbers_reads_them(text, expected):
    assert _ours(text) == expected


def test_an_invalid_e164_number_says_which_and_why():
    with pytest.raises(InvalidPhoneNumber) as excinfo:
        to_e164("+1202555012", region="US")
    assert excinfo.value.code == "invalid" and excinfo.value.params == {"value": "+1202555012"}


def _agree(text: str) -> None:
    ours, theirs = _ours(text), _phonenumbers_says(text)
    assert (ours is None) == (theirs is None)  # the same numbers are valid
    if theirs == text:  # a number written as phonenumbers writes it (as stored) is read the same
        assert ours == text


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True))
def test_the_e164_shortcut_agrees_with_phonenumbers(text):
    _agree(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["1", "39", "44", "48", "351", "7", "61"]), st.from_regex(r"0?[0-9]{5,12}", fullmatch=True))
def test_the_shortcut_agrees_on_real_country_codes_and_leading_zeros(country_code, national):
    _agree(f"+{country_code}{national}")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["US", "PL", "PT", "IT", "GB", "AU"]),
       st.integers(min_value=0, max_value=10**9))
def test_every_valid_example_number_is_read_as_itself(region, seed):
    example = phonenumbers.example_number(region)
    number = phonenumbers.PhoneNumber(country_code=example.country_code,
                                      national_number=example.national_number + seed % 1000)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    _agree(text)


@pytest.mark.parametrize("number,split", [
    ("+12025550123", (1, "2025550123")),
    ("+14165550123", (1, "4165550123")),  # Canada: +1 like the US
    ("+447911123456", (44, "7911123456")),  # parses as Guernsey: the calling code is still 44
    ("+48538506896", (48, "538506896")),
    ("+351912345678", (351, "912345678")),
    ("+390612345678", (39, "0612345678")),  # Italy keeps its leading zero
    ("12025550123", (None, "12025550123")),
    ("", (None, "")),
])
def test_calling_code_split(number, split):
    assert calling_code_split(number) == split


def test_calling_code_split_agrees_with_phonenumbers_in_every_region():
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        national = phonenumbers.national_significant_number(example)
        assert calling_code_split(e164) == (example.country_code, national), region
