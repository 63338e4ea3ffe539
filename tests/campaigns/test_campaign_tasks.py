"""The campaign scans as beat runs them: named tasks on the schedule, each a thin call of its scan."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings

from campaigns import tasks
from campaigns.models import AbandonedCartSettings, DateCampaign
from shop.models import MarketingConsent
from smsnotify.celery import app
from smsnotify.models import Kind, Message
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_beat_runs_both_scans_every_few_minutes():
    scheduled = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("campaigns.date_campaigns_run", "campaigns.abandoned_carts_run"):
        assert name in app.tasks
        assert 60 <= scheduled[name] <= 900


def test_the_tasks_run_the_scans(shop):
    start = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False):
        DateCampaign.objects.create(shop=shop, name="b", trigger="birthday", send_hour=9,
                                    template=shop_template(shop))
    AbandonedCartSettings.objects.create(shop=shop, active=True)
    CustomerFactory(shop=shop, birthday=dt.date(1990, 3, 2), marketing_consent=MarketingConsent.GRANTED)
    with time_machine.travel(dt.datetime(2026, 3, 2, 14, tzinfo=dt.timezone.utc), tick=False):  # the shop keeps UTC: 9:00 was 5 hours ago
        assert tasks.date_campaigns.run() == 1
        assert tasks.date_campaigns.run() == 0
        assert tasks.abandoned_carts.run() == 0
    assert Message.objects.filter(kind=Kind.DATE_CAMPAIGN).count() == 1


def shop_template(shop):
    from templates_sms.models import SmsTemplate

    return SmsTemplate.objects.get(shop=shop, event="date:birthday", is_standard=True)
