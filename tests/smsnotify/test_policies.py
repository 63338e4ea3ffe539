"""smsnotify/policies.py: the delivery policy protocol and the core's own policy (SMS switched off)."""

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string

from credits.pricing import forget_rates
from smsnotify import outbox
from smsnotify.history import reason_text
from smsnotify.models import Message, SmsSettings, Status
from smsnotify.policies import (
    DeliveryBatch,
    DeliveryPolicy,
    Hold,
    Refuse,
    SmsSwitchedOff,
    delivery_policies,
    policy_reasons,
)
from tests.factories import make_shop
from tests.smsnotify.helpers import schedule
from tests.smsnotify.policies import RefuseMarked, path

pytestmark = pytest.mark.django_db


def test_switching_sms_off_before_delivery_cancels(shop, sms_outbox, on_commit):
    message = schedule(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with on_commit():
        assert outbox.messages_dispatch_due() == 1
    message.refresh_from_db()
    assert message.status == Status.CANCELLED
    assert sms_outbox == []



def claimed_batch(messages) -> DeliveryBatch:
    """The batch a delivery run hands the policies: claimed rows with their shop, and SMS settings by shop."""
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(status=Status.SENDING)
    rows = list(Message.objects.filter(pk__in=[m.pk for m in messages]).select_related("shop").order_by("pk"))
    return DeliveryBatch(messages=rows, sms_settings={s.shop_id: s for s in SmsSettings.objects.all()})


@pytest.mark.parametrize("policy_path", settings.SMS_DELIVERY_POLICIES)
def test_every_configured_policy_asks_the_database_as_often_for_twenty_messages_as_for_one(shop, policy_path):
    policy = import_string(policy_path)()
    counts = []
    for size in (1, 20):
        batch = claimed_batch([schedule(shop, to=f"+1202555{n:04d}") for n in range(size)])
        forget_rates()  # both batches start with the prices uncached
        with CaptureQueriesContext(connection) as queries:
            policy.before_send(batch)
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_sms_switched_off_refuses_only_the_messages_of_shops_that_switched_it_off(shop):
    off = make_shop()
    own, other = schedule(shop), schedule(off)
    SmsSettings.objects.filter(shop=off).update(active=False)
    verdicts = SmsSwitchedOff().before_send(claimed_batch([own, other]))
    assert verdicts == {other.pk: Refuse(status=Status.CANCELLED, code="sms_inactive")}


def test_the_reasons_of_every_configured_policy_are_known_to_the_history(settings):
    with override_settings(SMS_DELIVERY_POLICIES=[*settings.SMS_DELIVERY_POLICIES, path(RefuseMarked)]):
        reasons = policy_reasons()
        assert set(reasons) >= {"sms_inactive", "insufficient_credits", "refused_marked"}
        assert reason_text("refused_marked", {"phone": "+12025550123"}) == "Not sent: +12025550123 replied STOP."
    assert "refused_marked" not in policy_reasons()  # the list follows the setting


def test_a_shop_without_sms_settings_sends_nothing(shop):
    # No settings row means the merchant never switched SMS on: refusing is the safe side.
    message = schedule(shop)
    batch = claimed_batch([message])
    batch.sms_settings.clear()
    assert SmsSwitchedOff().before_send(batch) == {message.pk: Refuse(status=Status.CANCELLED, code="sms_inactive")}


def test_a_policy_that_overrides_nothing_lets_every_message_pass_and_settles_nothing(shop):
    policy = DeliveryPolicy()
    assert policy.before_send(claimed_batch([schedule(shop)])) == {}
    assert policy.settle([]) is None
    assert policy.reasons == {}


def test_a_verdict_without_parameters_has_empty_ones():
    until = timezone.now()
    assert Hold(until=until, code="quiet_hours").params == {}
    assert Refuse(status=Status.CANCELLED, code="sms_inactive").params == {}


def test_changing_another_setting_keeps_the_loaded_policies():
    loaded = delivery_policies()
    with override_settings(SMS_DISPATCH_BATCH=7):
        assert delivery_policies() is loaded
    with override_settings(SMS_DELIVERY_POLICIES=list(settings.SMS_DELIVERY_POLICIES)):
        assert delivery_policies() is not loaded
