"""Charging through the outbox with the locmem gateway: paid once before the gateway, never
sent unpaid, refunded exactly once when the message surely did not go out."""

import datetime as dt

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from credits.models import CreditAccount, EntryKind, LedgerEntry
from smsnotify import aftercare, outbox
from smsnotify.delivery import messages_deliver
from smsnotify.gateways import (
    AmbiguousGatewayError,
    PermanentGatewayError,
    TransientGatewayError,
    get_gateway,
    report_billed,
)
from smsnotify.gateways.base import DeliveryReport
from smsnotify.gateways.locmem import LocmemGateway
from smsnotify.models import Kind, SmsSettings, Status
from tests.delivery import deliver_one, stuck_after_the_attempt
from tests.factories import make_merchant, make_shop

from .helpers import assert_consistent, balance, kinds, net_charged

pytestmark = pytest.mark.django_db


def schedule(shop, **kwargs):
    return outbox.message_schedule(**{"shop": shop, "to": "+12025550123", "body": "Your order shipped", "kind": Kind.MANUAL,
                              **kwargs})


def deliver(message):
    messages_deliver(message_ids=[message.pk])
    message.refresh_from_db()
    return message


def test_sent_message_is_charged_once(sms_outbox):
    shop = make_shop(credits=100)
    message = deliver(schedule(shop))
    assert message.status == Status.SENT
    assert message.credits_charged == 12
    assert balance(shop) == 88
    assert deliver_one(message.pk, gateway=get_gateway()) is None  # delivering again: not claimed
    assert kinds(shop, message) == [EntryKind.CHARGE]
    assert len(sms_outbox) == 1
    assert_consistent(shop)


def test_multipart_international_message_costs_each_part_at_the_international_rate(sms_outbox):
    shop = make_shop(credits=100)
    message = deliver(schedule(shop, to="+447911123456", body="x" * 200))  # 2 GSM-7 parts
    assert (message.segments, message.credits_charged, balance(shop)) == (2, 60, 40)


def test_insufficient_credits_fail_the_message_and_nothing_is_sent(sms_outbox, client):
    shop = make_shop(credits=11)
    message = deliver(schedule(shop))
    assert message.status == Status.FAILED
    assert message.error_code == "insufficient_credits"
    assert message.credits_charged == 0
    assert sms_outbox == []
    assert balance(shop) == 11
    assert kinds(shop, message) == []
    last = message.events.last()
    assert (last.status, last.parameters["reason"]) == (Status.FAILED, "insufficient_credits")
    client.force_login(make_merchant(shop))  # the merchant sees it among failed messages, with the reason
    page = client.get(reverse("admin:smsnotify_message_changelist"), {"status__exact": "failed"})
    assert [m.pk for m in page.context["cl"].result_list] == [message.pk]
    assert "the credit balance could not pay for it" in client.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()


def test_balance_pays_for_some_of_a_batch_the_rest_fail(sms_outbox):
    shop = make_shop(credits=30)
    messages = [schedule(shop, to=f"+1202555010{i}") for i in range(4)]
    messages_deliver(message_ids=[m.pk for m in messages])
    statuses = [deliver(m).status for m in messages]
    assert statuses == [Status.SENT, Status.SENT, Status.FAILED, Status.FAILED]
    assert balance(shop) == 6
    assert len(sms_outbox) == 2
    assert_consistent(shop)


def test_permanent_refusal_is_refunded_once(gateway_errors, sms_outbox):
    shop = make_shop(credits=100)
    gateway_errors.append(PermanentGatewayError("The 'To' number is not a valid phone number.", code="21211"))
    message = deliver(schedule(shop))
    assert (message.status, message.error_code) == (Status.FAILED, "21211")
    assert message.credits_charged == 0
    assert kinds(shop, message) == [EntryKind.CHARGE, EntryKind.REFUND]
    assert "21211" in LedgerEntry.objects.get(message=message, kind=EntryKind.REFUND).reason
    assert balance(shop) == 100
    messages_deliver(message_ids=[message.pk])  # a re-run changes nothing
    assert kinds(shop, message) == [EntryKind.CHARGE, EntryKind.REFUND]
    assert_consistent(shop)


def test_transient_error_refunds_the_attempt_and_the_retry_is_charged_again(gateway_errors, sms_outbox):
    shop = make_shop(credits=100)
    gateway_errors.append(TransientGatewayError("busy", code="20429"))
    message = deliver(schedule(shop))
    assert message.status == Status.SCHEDULED
    assert (balance(shop), message.credits_charged) == (100, 0)  # waiting for a retry holds no credits
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31)):
        message = deliver(message)
    assert message.status == Status.SENT
    assert [(e.kind, e.cycle) for e in LedgerEntry.objects.filter(message=message).order_by("pk")] == [
        (EntryKind.CHARGE, 0), (EntryKind.REFUND, 0), (EntryKind.CHARGE, 1)]
    assert (balance(shop), message.credits_charged, net_charged(message)) == (88, 12, 12)
    assert len(sms_outbox) == 1


def test_giving_up_after_transient_errors_leaves_nothing_charged(gateway_errors, settings):
    settings.SMS_MAX_ATTEMPTS = 2
    shop = make_shop(credits=100)
    gateway_errors.extend([TransientGatewayError("busy", code="20429")] * 2)
    message = deliver(schedule(shop))
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31)):
        message = deliver(message)
    assert message.status == Status.FAILED
    assert (balance(shop), net_charged(message)) == (100, 0)


def test_ambiguous_error_keeps_the_charge(gateway_errors, sms_outbox, on_commit):
    shop = make_shop(credits=100)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    message = deliver(schedule(shop))
    assert message.status == Status.UNKNOWN
    assert (balance(shop), message.credits_charged) == (88, 12)  # it may have been sent
    # the merchant decides to send it again: it goes out, and it is not charged a second time
    with on_commit():
        outbox.message_send_again(message=message)
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert kinds(shop, message) == [EntryKind.CHARGE]
    assert balance(shop) == 88


def test_unexpected_error_keeps_the_charge(gateway_errors):
    shop = make_shop(credits=100)
    gateway_errors.append(RuntimeError("bug"))
    message = deliver(schedule(shop))
    assert (message.status, balance(shop)) == (Status.UNKNOWN, 88)


class ForgetfulGateway(LocmemGateway):
    """A locmem gateway that can look messages up, and never finds them."""

    def find_sent(self, sms, *, since):
        return None


@override_settings(SMS_GATEWAY="tests.credits.test_outbox_charging.ForgetfulGateway")
def test_unknown_reconciled_as_absent_is_resent_without_a_second_charge(gateway_errors, sms_outbox, on_commit):
    shop = make_shop(credits=100)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    message = deliver(schedule(shop))
    assert message.status == Status.UNKNOWN
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=11)), on_commit():
        assert aftercare.messages_reconcile_unknown() == 1
        outbox.messages_dispatch_due()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(sms_outbox) == 1
    assert kinds(shop, message) == [EntryKind.CHARGE]
    assert balance(shop) == 88


def test_stuck_in_sending_keeps_the_charge(settings):
    shop = make_shop(credits=100)
    message = schedule(shop)
    from tests.credits.helpers import charge

    # a worker charged it, stamped the attempt, then died before the gateway answered
    stuck_after_the_attempt(message)
    charge(message)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1)):
        assert aftercare.messages_recover_stale() == 1
    message.refresh_from_db()
    assert (message.status, message.credits_charged, balance(shop)) == (Status.UNKNOWN, 12, 88)


def report(message, status, code=""):
    return aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(
        provider_id=message.provider_id, status=status, error_code=code, error_text="x" if code else "",
        billed=report_billed(status, code)))


@pytest.mark.parametrize("status,code", [
    ("undelivered", "30003"), ("undelivered", "30005"), ("undelivered", "30006"), ("failed", "30008"), ("failed", ""),
])
def test_refundable_delivery_failures_are_refunded_once(sms_outbox, status, code):
    shop = make_shop(credits=100)
    message = deliver(schedule(shop))
    report(message, status, code)
    report(message, status, code)  # repeated callback
    message.refresh_from_db()
    assert message.status == status
    assert kinds(shop, message) == [EntryKind.CHARGE, EntryKind.REFUND]
    assert (balance(shop), message.credits_charged) == (100, 0)


@pytest.mark.parametrize("status,code", [("undelivered", "30007"), ("undelivered", "30004"), ("delivered", "")])
def test_other_outcomes_keep_the_charge(sms_outbox, status, code):
    shop = make_shop(credits=100)
    message = deliver(schedule(shop))
    report(message, status, code)
    assert kinds(shop, message) == [EntryKind.CHARGE]
    assert balance(shop) == 88


def test_failure_reported_after_delivery_is_ignored_and_not_refunded(sms_outbox):
    shop = make_shop(credits=100)
    message = deliver(schedule(shop))
    report(message, "delivered")
    report(message, "undelivered", "30003")  # out of order: never moves a message back
    assert balance(shop) == 88


@override_settings(SMS_GATEWAY="smsnotify.gateways.sandbox.SandboxGateway", SANDBOX_DELIVERY_SECONDS=2)
def test_sandbox_undelivered_number_is_refunded_through_polling():
    shop = make_shop(credits=100)
    ok, undelivered, refused = (schedule(shop, to=to) for to in ("+12025550123", "+15005550010", "+15005550001"))
    messages_deliver(message_ids=[ok.pk, undelivered.pk, refused.pk])
    assert balance(shop) == 100 - 12 - 12  # the refused one was refunded at once
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=3)):
        aftercare.reports_poll()
    assert balance(shop) == 88  # 30003 undelivered: refunded
    assert CreditAccount.objects.get(shop=shop).balance == 88
    assert_consistent(shop)


def test_sending_again_an_undelivered_text_the_provider_billed_is_paid_again(sms_outbox, on_commit):
    shop = make_shop(credits=100)
    message = deliver(schedule(shop))
    report(message, "undelivered", "30007")  # carrier filtered it: billed, not refunded
    with on_commit():
        assert outbox.message_send_again(message=message)
    message.refresh_from_db()
    assert (message.status, len(sms_outbox)) == (Status.SENT, 2)
    assert kinds(shop, message) == [EntryKind.CHARGE, EntryKind.CHARGE]  # two texts left, two paid
    assert balance(shop) == 76
    assert_consistent(shop)


def test_a_message_refused_by_a_policy_gives_back_a_charge_it_carried(sms_outbox, on_commit):
    """Charged by a run whose worker died before the gateway call, then refused on its next
    run (the merchant switched SMS off meanwhile): nothing left, so nothing is paid."""
    shop = make_shop(credits=100)
    message = schedule(shop)
    outbox.Message.objects.filter(pk=message.pk).update(status=Status.SENDING, attempts=1)
    from tests.credits.helpers import charge

    charge(message)
    outbox.Message.objects.filter(pk=message.pk).update(status=Status.SCHEDULED)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    message = deliver(message)
    assert (message.status, message.error_code, message.credits_charged) == (Status.CANCELLED, "sms_inactive", 0)
    assert kinds(shop, message) == [EntryKind.CHARGE, EntryKind.REFUND]
    assert balance(shop) == 100 and sms_outbox == []
