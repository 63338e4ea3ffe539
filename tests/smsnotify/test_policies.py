"""smsnotify/policies.py: the delivery policy protocol and the core's own policy (SMS switched off)."""

import pytest

from smsnotify import outbox
from smsnotify.models import SmsSettings, Status
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db


def test_switching_sms_off_before_delivery_cancels(shop, sms_outbox, on_commit):
    message = schedule(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with on_commit():
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert sms_outbox == []

