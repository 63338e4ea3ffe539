"""campaigns/alerts.py, the low-balance alert: exactly one per downward crossing, by SMS when it can, else email."""

import pytest
from django.contrib.auth import get_user_model
from django.conf import settings
from django.core import mail

from campaigns.alerts import low_balance_alert_send, staff_emails
from credits import ledger
from credits.models import CreditAccount
from shop.services import staff_add
from smsnotify import outbox
from smsnotify.models import Kind, Message, SmsSettings, Status
from tests.factories import make_shop

from tests.credits.helpers import assert_consistent, balance, bare_message, refund
from tests.credits.helpers import charge as charge_one

pytestmark = pytest.mark.django_db


def alerts(shop):
    return list(Message.objects.filter(shop=shop, kind=Kind.MERCHANT_ALERT).order_by("pk"))


def charge(shop_or_message, n=1):
    """Charge ``n`` new messages of a shop, or the message given."""
    if isinstance(shop_or_message, Message):
        return charge_one(shop_or_message)
    for _ in range(n):
        assert charge_one(bare_message(shop_or_message))


def with_staff_email(shop, email="owner@example.com"):
    user = get_user_model().objects.create_user(f"staff-{shop.pk}-{email}", email, "pw")
    staff_add(shop=shop, user=user)
    return user


def test_sms_alert_once_per_crossing(on_commit, sms_outbox):
    shop = make_shop(credits=100)  # threshold 50: 100 → 88 → 76 → 64 → 52 → 40 (crosses) → 28
    with on_commit():
        charge(shop, 4)
        assert alerts(shop) == []
        charge(shop, 1)
        charge(shop, 1)
    [alert] = alerts(shop)
    assert alert.recipient == "+12025550199"  # SmsSettings.merchant_number
    assert alert.dedupe_key == f"low_balance:{shop.pk}:1"  # once per shop and crossing
    assert alert.body == f"{shop.name}: your SMS balance is low: 40 credits left. Top up to keep texting."
    assert alert.status == Status.SENT  # delivered, and paid for like any SMS
    assert [sms.to for sms in sms_outbox] == ["+12025550199"]
    assert balance(shop) == 28 - 12
    assert mail.outbox == []
    assert_consistent(shop)


def test_alert_rearms_when_the_balance_is_back_above_the_threshold(on_commit):
    shop = make_shop(credits=60)
    with on_commit():
        charge(shop)  # 48: crossing 1
        ledger.credits_grant_bonus(shop=shop, amount=1)  # 49: still below, stays disarmed
        charge(shop)  # 37: no new alert
    assert len(alerts(shop)) == 1  # told after the charge committed, once
    with on_commit():
        ledger.credits_grant_bonus(shop=shop, amount=100)  # back above: re-armed
        assert CreditAccount.objects.get(shop=shop).low_balance_armed
        charge(shop, 10)  # crosses again on the way down
    keys = [a.dedupe_key.rsplit(":", 1)[1] for a in alerts(shop)]
    assert keys == ["1", "2"]


def test_refund_and_purchase_rearm_too(on_commit):
    shop = make_shop(credits=55)
    message = bare_message(shop)
    with on_commit():
        charge(message)  # 43: alert 1
        refund(message, reason="refused")  # 55: re-armed
        charge(bare_message(shop))  # 43: alert 2
    assert len(alerts(shop)) == 2


def test_email_when_sms_is_off(on_commit):
    shop = make_shop(credits=60)
    with_staff_email(shop, "owner@example.com")
    with_staff_email(shop, "clerk@example.com")
    with_staff_email(make_shop(), "stranger@example.com")
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with on_commit():
        charge(shop)
        charge(shop)
    assert alerts(shop) == []
    [email] = mail.outbox
    assert sorted(email.to) == ["clerk@example.com", "owner@example.com"]
    assert "48 credits left" in email.subject
    assert "48 left" in email.body


def test_email_when_the_balance_cannot_pay_for_the_alert_sms(on_commit):
    shop = make_shop(credits=20)  # below 50 from the start, armed: the first charge alerts
    with_staff_email(shop)
    with on_commit():
        charge(shop)  # 8 left: an alert SMS (12) cannot be paid
    assert alerts(shop) == []
    assert len(mail.outbox) == 1


def test_email_when_there_is_no_merchant_number(on_commit):
    shop = make_shop(credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(merchant_number="")
    with on_commit():
        charge(shop)
    assert alerts(shop) == [] and len(mail.outbox) == 1


def test_no_email_for_a_rolled_back_charge(db):
    shop = make_shop(credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    charge(shop)  # no on_commit capture: the test transaction never commits, so no email leaves
    assert mail.outbox == []


def test_alert_threshold_of_zero_never_alerts(on_commit):
    shop = make_shop(credits=24)
    CreditAccount.objects.filter(shop=shop).update(low_balance_threshold=0)
    with on_commit():
        charge(shop, 2)
    assert alerts(shop) == [] and mail.outbox == []


def test_order_shipped_sms_triggers_the_alert_through_the_outbox(on_commit, sms_outbox):
    shop = make_shop(credits=55)
    with on_commit():
        outbox.message_schedule(shop=shop, to="+12025550123", body="Shipped", kind=Kind.MANUAL)
    assert len(alerts(shop)) == 1
    assert sorted(sms.to for sms in sms_outbox) == ["+12025550123", "+12025550199"]
    assert balance(shop) == 55 - 12 - 12


def test_the_alert_sms_is_the_merchants_template_and_switching_it_off_means_email(on_commit):
    from templates_sms.models import SmsTemplate

    shop = make_shop(credits=60)
    with_staff_email(shop)
    template = SmsTemplate.objects.get(shop=shop, event="credits:low_balance")
    template.body = "Low: {balance} left"
    template.save()
    with on_commit():
        charge(shop, 1)  # 60 → 48: crosses 50
    assert [m.body for m in alerts(shop)] == ["Low: 48 left"]

    other = make_shop(credits=60)
    with_staff_email(other)
    SmsTemplate.objects.filter(shop=other, event="credits:low_balance").update(active=False)
    with on_commit():
        charge(other, 1)
    assert alerts(other) == []
    assert len(mail.outbox) == 1 and "48 left" in mail.outbox[0].body


# --- what each way of telling says, and to whom (low_balance_alert_send called as the receiver does) --------


def test_the_alert_sms_is_scheduled_to_the_merchants_national_number_and_says_sms(db):
    shop = make_shop(credits=60)
    SmsSettings.objects.filter(shop=shop).update(merchant_number="(202) 555-0199")  # as a merchant types it
    assert low_balance_alert_send(shop=shop, balance=48, threshold=50, crossing=3) == "sms"
    [alert] = alerts(shop)
    assert (alert.recipient, alert.dedupe_key) == ("+12025550199", f"low_balance:{shop.pk}:3")
    assert mail.outbox == []


def test_a_balance_that_pays_exactly_for_the_alert_sms_sends_it(db):
    shop = make_shop(credits=60)
    assert low_balance_alert_send(shop=shop, balance=12, threshold=50, crossing=1) == "sms"  # 12: one domestic SMS
    assert len(alerts(shop)) == 1
    poorer = make_shop(credits=60)
    with_staff_email(poorer)
    assert low_balance_alert_send(shop=poorer, balance=11, threshold=50, crossing=1) == "email"
    assert alerts(poorer) == []


def test_the_alert_sms_is_priced_for_the_merchants_own_destination(db):
    """A Polish merchant's number from a US shop is an international SMS (more credits): a balance
    that pays for a domestic one but not for that one sends an email instead."""
    shop = make_shop(credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(merchant_number="+48601234567")
    assert low_balance_alert_send(shop=shop, balance=12, threshold=50, crossing=1) == "email"
    assert alerts(shop) == [] and len(mail.outbox) == 1


def test_an_invalid_merchant_number_means_email_and_the_operator_is_told(db, caplog):
    shop = make_shop(credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(merchant_number="+1202555")
    assert low_balance_alert_send(shop=shop, balance=48, threshold=50, crossing=1) == "email"
    assert alerts(shop) == [] and len(mail.outbox) == 1
    assert caplog.messages == [f"Shop {shop.pk} has an invalid merchant number; the low-balance alert goes by email."]


def test_nobody_to_tell_sends_nothing_and_the_operator_is_told(db, caplog):
    shop = make_shop(credits=60)
    SmsSettings.objects.filter(shop=shop).update(merchant_number="")
    assert low_balance_alert_send(shop=shop, balance=48, threshold=50, crossing=1) == ""
    assert alerts(shop) == [] and mail.outbox == []
    assert caplog.messages == [
        f"Shop {shop.pk} is low on credits (48) and has no merchant number or staff email to tell."]


def test_the_email_is_in_the_shops_language_with_its_numbers_as_it_writes_them(db):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep Bałtyk", credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    assert low_balance_alert_send(shop=shop, balance=1198, threshold=1500, crossing=1) == "email"
    [email] = mail.outbox
    assert email.subject == "Niskie saldo SMS: pozostało 1 198 kredytów"
    assert email.body == ("Sklep Bałtyk: kończą się kredyty SMS, zostało 1 198 (alert poniżej 1 500). "
                          "Kup kredyty, aby wiadomości nadal były wysyłane.")
    assert email.from_email == settings.DEFAULT_FROM_EMAIL


def test_one_credit_left_is_singular(db):
    shop = make_shop(credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    low_balance_alert_send(shop=shop, balance=1, threshold=50, crossing=1)
    assert mail.outbox[0].subject == "Low SMS credit balance: 1 credit left"


def test_only_active_staff_with_an_email_are_told(db):
    shop = make_shop(credits=60)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    with_staff_email(shop, "owner@example.com")
    left = with_staff_email(shop, "former@example.com")
    left.is_active = False
    left.save()
    with_staff_email(shop, "")
    assert staff_emails(shop) == ["owner@example.com"]
    low_balance_alert_send(shop=shop, balance=48, threshold=50, crossing=1)
    assert mail.outbox[0].to == ["owner@example.com"]


def test_a_shop_whose_only_staff_left_is_told_nothing(db):
    shop = make_shop(credits=60)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    left = with_staff_email(shop)
    left.is_active = False
    left.save()
    assert low_balance_alert_send(shop=shop, balance=48, threshold=50, crossing=1) == ""
    assert mail.outbox == []


def test_an_smtp_outage_does_not_fail_the_run_that_caused_the_alert(db, monkeypatch, caplog):
    shop = make_shop(credits=60)
    with_staff_email(shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("campaigns.alerts.send_mail", smtp_down)
    assert low_balance_alert_send(shop=shop, balance=48, threshold=50, crossing=1) == "email"
    [record] = caplog.records
    assert record.getMessage() == "Could not email the low-balance alert to ['owner@example.com']"
    assert isinstance(record.exc_info[1], ConnectionRefusedError)
