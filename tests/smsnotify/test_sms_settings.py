"""Per-shop SMS settings: the sender shown on phones is validated; merchants edit only their own."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from smsnotify.models import SmsSettings
from smsnotify.senders import validate_sender
from tests.factories import make_merchant, make_shop


@pytest.mark.parametrize("sender", ["MyShop", "Shop 24", "A", "ABCDEFGHIJK", "+12025550123", "+48601234567"])
def test_valid_senders(sender):
    validate_sender(sender)


@pytest.mark.parametrize("sender", [
    "ABCDEFGHIJKL",  # 12 characters
    "Sklep Bałtyk",  # accent
    "Shop!",  # symbol
    "12345",  # digits only: carriers read it as a number
    "+1202",  # not a valid number
    " Shop",  # leading space
])
def test_invalid_senders(sender):
    with pytest.raises(ValidationError):
        validate_sender(sender)


@pytest.mark.django_db
def test_merchant_switches_sms_on_with_a_sender(client):
    shop = make_shop(active=False, sender="")
    client.force_login(make_merchant(shop))
    settings_row = SmsSettings.objects.get(shop=shop)
    url = reverse("admin:smsnotify_smssettings_change", args=[settings_row.pk])
    bad = client.post(url, {"active": "on", "sender": "Way too long name", "merchant_number": "+12025550100",
                                "max_segments": 3})
    assert bad.status_code == 200 and "sender" in bad.context["adminform"].form.errors
    good = client.post(url, {"active": "on", "sender": "MyShop", "merchant_number": "(202) 555-0100",
                                 "max_segments": 3})
    assert good.status_code == 302
    settings_row.refresh_from_db()
    assert (settings_row.active, settings_row.sender, str(settings_row.merchant_number)) == (
        True, "MyShop", "+12025550100")
    assert settings_row.shop == shop
