"""Reading a file's calling code and mobile number, and splitting a stored number back."""

import phonenumbers
import pytest
from django.core.exceptions import ValidationError

from shop.phones import calling_code_read, e164_split, mobile_parse


def e164(number: str, calling_code=None, region="PL") -> str:
    parsed = mobile_parse(number, calling_code=calling_code, region=region)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize("text,code", [("+48", 48), ("48", 48), ("0048", 48), ("pl", 48), ("1", 1), ("", None)])
def test_calling_codes_as_files_write_them(text, code):
    assert calling_code_read(text) == code


@pytest.mark.parametrize("text", ["999", "+0", "abc", "1234", "ZZ", "+4 8"])
def test_no_country_has_these_calling_codes(text):
    with pytest.raises(ValidationError) as refused:
        calling_code_read(text)
    assert refused.value.code == "calling_code_unknown"


def test_a_number_is_read_in_its_calling_codes_country_else_the_shops():
    assert e164("538 506 896", 48, region="US") == "+48538506896"
    assert e164("07911 123456", 44) == "+447911123456"  # the trunk 0 of its own country
    assert e164("2025550143", 1) == "+12025550143"
    assert e164("538506896") == "+48538506896"  # no calling code: the shop's country
    assert e164("+48 538 506 896", region="US") == "+48538506896"
    assert e164("0048538506896", 48, region="US") == "+48538506896"


@pytest.mark.parametrize("number,code,reason", [
    ("123", 48, "number_invalid"),
    ("225550100", 48, "number_not_mobile"),  # a Warsaw landline
    ("+1 202 555 0143", 48, "calling_code_mismatch"),
    ("", None, "number_invalid"),
])
def test_numbers_that_cannot_be_texted_are_refused_with_their_reason(number, code, reason):
    with pytest.raises(ValidationError) as refused:
        mobile_parse(number, calling_code=code, region="PL")
    assert refused.value.code == reason


def test_a_stored_number_splits_into_the_files_two_columns():
    assert e164_split("+48538506896") == ("538506896", "+48")
    assert e164_split(phonenumbers.parse("+12025550143")) == ("2025550143", "+1")
    assert e164_split("+390612345678") == ("0612345678", "+39")  # Italy keeps its leading zero
    assert e164_split("garbage") == ("garbage", "")
