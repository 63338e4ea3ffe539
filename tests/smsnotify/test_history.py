"""smsnotify/history.py: typed message events put into words in the shop's language and time zone."""

import datetime as dt
import html

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation

from smsnotify import aftercare, history, outbox
from smsnotify.gateways import AmbiguousGatewayError, PermanentGatewayError, SendResult, TransientGatewayError
from smsnotify.gateways.base import DeliveryReport
from smsnotify.models import EventType, Message, MessageEvent, SmsSettings, Status
from tests.delivery import deliver, stuck_after_the_attempt
from tests.factories import make_merchant, make_shop
from tests.smsnotify import policies
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db


def last_event(message, type_=None) -> MessageEvent:
    events = message.events.order_by("pk")
    return (events.filter(type=type_) if type_ else events).last()


@pytest.fixture
def every_event(shop, gateway_errors, lookup_gateway, settings, on_commit):
    """One real event of every type, each written by the code path that writes it in production."""
    anna = make_merchant(shop, "anna")
    lease = dt.timedelta(seconds=settings.SMS_SENDING_LEASE_SECONDS + 1)

    schedule(shop, send_at=timezone.now() + dt.timedelta(days=1))  # scheduled (for later)
    sent = schedule(shop)  # scheduled (now), attempt, accepted
    deliver([sent.pk])
    sent.refresh_from_db()
    aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(sent.provider_id, "delivered"))

    undelivered = schedule(shop, to="+12025550130")
    deliver([undelivered.pk])
    undelivered.refresh_from_db()
    aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(
        undelivered.provider_id, "undelivered", error_code="30003", error_text="Unreachable handset"))

    refused, retried = schedule(shop, to="+12025550131"), schedule(shop, to="+12025550132")
    gateway_errors.extend([PermanentGatewayError("The 'To' number is not valid.", code="21211"),
                           TransientGatewayError("Too many requests", code="20429")])
    deliver([refused.pk, retried.pk])

    settings.SMS_MAX_ATTEMPTS = 1
    gave_up = schedule(shop, to="+12025550133")
    gateway_errors.append(TransientGatewayError("Too many requests", code="20429"))
    deliver([gave_up.pk])

    found, not_found = schedule(shop, to="+12025550134"), schedule(shop, to="+12025550135")
    gateway_errors.extend([AmbiguousGatewayError("read timeout")] * 2)
    deliver([found.pk, not_found.pk])  # ambiguous
    lookup_gateway.answers = {found.recipient: SendResult("SM-found"), not_found.recipient: None}
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=settings.SMS_RECONCILE_GRACE_SECONDS + 1)):
        aftercare.messages_reconcile_unknown()  # found; not found

    stuck = schedule(shop, to="+12025550136")
    stuck_after_the_attempt(stuck, at=timezone.now() - lease)
    aftercare.messages_recover_stale()  # lease expired
    outbox.message_send_again(message=stuck, user=anna)  # sent again

    late = schedule(shop, to="+12025550137", send_at=timezone.now() - dt.timedelta(
        hours=settings.SMS_LATE_CUTOFF_HOURS + 1))
    outbox.messages_dispatch_due()  # expired (and the due ones queued)

    cancelled = schedule(shop, to="+12025550138", send_at=timezone.now() + dt.timedelta(hours=1))
    outbox.message_cancel(message=cancelled, user=anna)

    # A test policy that holds joins the chain for the whole test: its reasons are put into words only
    # while it is configured.
    settings.SMS_DELIVERY_POLICIES = [policies.path(policies.HoldMarked), *settings.SMS_DELIVERY_POLICIES]
    held = schedule(shop, to="+12025550139", body="hold me")
    deliver([held.pk])
    off = make_shop()
    stopped = schedule(off)
    SmsSettings.objects.filter(shop=off).update(active=False)
    deliver([stopped.pk])

    from smsnotify.gateways.base import InboundSms
    from smsnotify.inbound import inbound_receive

    inbound_receive(shop=shop, sms=InboundSms(sender="+12025550140", to="TestShop", body="Thanks!",
                                              provider_id="SM-in-1", gateway="locmem"))  # received
    # campaigns writes it when an order comes back to a status it was already texted for
    MessageEvent.objects.create(message=sent, type=EventType.REPEATED, status=Status.DELIVERED,
                                parameters={"at": timezone.now().isoformat()})
    MessageEvent.objects.create(message=sent, type=EventType.NOTE, status=Status.DELIVERED,
                                parameters={"detail": "Checked with the customer by phone."})  # no code path yet
    return list(MessageEvent.objects.select_related("message__shop").order_by("pk"))


def test_the_fixture_covers_every_event_type(every_event):
    assert {event.type for event in every_event} == set(EventType.values)


@pytest.mark.parametrize("language", ["en", "pl", "pt"])
def test_every_event_type_reads_as_a_sentence_in_every_language(every_event, language):
    with translation.override(language):
        for event in every_event:
            text = history.event_text(event)
            assert text.strip(), event.type
            assert "%(" not in text and "%s" not in text, (event.type, text)
            # event_text falls back to the bare label when its template does not fit the parameters.
            assert text != str(EventType(event.type).label), (event.type, event.parameters)


def test_the_english_texts_carry_their_parameters(every_event):
    texts = {}
    with translation.override("en"):
        for event in every_event:
            texts.setdefault(event.type, []).append(history.event_text(event))
    assert any(t.startswith("Accepted by the provider as LM") for t in texts[EventType.ACCEPTED])
    # A known code in our words, the provider's own words and the code kept beside them.
    assert texts[EventType.REFUSED] == [
        "Refused by the provider: the number is not valid (provider's answer: “The 'To' number is not valid.”, "
        "code 21211)."]
    assert texts[EventType.RETRY][0].startswith(
        "Temporary failure: the provider is busy (provider's answer: “Too many requests”, code 20429). Attempt 2 at ")
    assert texts[EventType.GAVE_UP] == [
        "Gave up after 1 attempts: the provider is busy (provider's answer: “Too many requests”, code 20429)."]
    assert texts[EventType.FOUND] == ["Found at the provider as SM-found."]
    assert texts[EventType.REPORT] == [
        "The provider reports it delivered.",
        "The provider reports it undelivered: the phone could not be reached (switched off or out of coverage) "
        "(provider's answer: “Unreachable handset”, code 30003)."]
    assert texts[EventType.CANCELLED] == ["Cancelled by anna."]
    assert texts[EventType.SEND_AGAIN] == ["Sent again by anna."]
    assert texts[EventType.STOPPED] == ["Not sent: SMS is switched off for this shop."]
    assert texts[EventType.HELD][0].endswith(": Quiet hours in New York.")


def test_a_retry_time_reads_in_the_shops_time_zone(gateway_errors):
    new_york = make_shop(time_zone="America/New_York", credits=1000)
    with time_machine.travel(dt.datetime(2026, 1, 15, 12, 34, tzinfo=dt.UTC), tick=False):
        message = schedule(new_york)
        gateway_errors.append(TransientGatewayError("busy"))
        deliver([message.pk])  # retried at 12:34:30 UTC, 7:34 in New York
    retry = last_event(message, EventType.RETRY)
    text = history.in_shop_terms(new_york, history.event_text, retry)
    assert "7:34" in text and "12:34" not in text
    assert "01/15/2026 07:34:30" in text  # the page's one format (history.moment_text)
    utc_shop_text = history.in_shop_terms(make_shop(), history.event_text, retry)
    assert "12:34" in utc_shop_text


def test_sent_again_by_names_the_user_who_acted(shop, gateway_errors):
    anna = make_merchant(shop, "anna")
    message = schedule(shop)
    gateway_errors.append(AmbiguousGatewayError("read timeout"))
    deliver([message.pk])
    assert outbox.message_send_again(message=message, user=anna)
    event = last_event(message)
    assert (event.type, event.user, event.parameters) == (EventType.SEND_AGAIN, anna, {"user": "anna"})
    assert history.event_text(event) == "Sent again by anna."


def test_a_text_written_by_hand_names_who_wrote_it(shop):
    anna = make_merchant(shop, "anna")
    now = outbox.message_schedule(shop=shop, to="+12025550123", body="Hi", kind="manual", user=anna)
    later = outbox.message_schedule(shop=shop, to="+12025550123", body="Hi", kind="manual", user=anna,
                                    send_at=timezone.now() + dt.timedelta(days=1))
    event = now.events.get()
    assert (event.type, event.user) == (EventType.SCHEDULED, anna)
    assert history.event_text(event) == "Written by anna."
    assert history.event_text(later.events.get()).startswith("Written by anna, to be sent at ")


def test_the_history_page_shows_each_moment_to_the_second_in_the_shops_zone(client, db):
    shop = make_shop(time_zone="America/New_York", credits=100)
    client.force_login(make_merchant(shop))
    with time_machine.travel(dt.datetime(2026, 1, 15, 3, 30, 5, tzinfo=dt.UTC), tick=False):
        message = schedule(shop)
    page = client.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    assert "01/14/2026 22:30:05" in page
    assert "2026-01-15 03:30" not in page  # no UTC time above the row any more


# --- a policy's reason on a Polish shop's message page ----------------------------------------------


@pytest.fixture
def polish_merchant(client, db):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep", credits=0)
    client.force_login(make_merchant(shop))
    client.shop = shop
    return client


def polish_stopped_messages(shop):
    """A message cancelled because SMS is off, and one failed for want of credits (the shop has none)."""
    SmsSettings.objects.filter(shop=shop).update(active=False)
    switched_off = schedule(shop, to="+48601234567")
    SmsSettings.objects.filter(shop=shop).update(active=True)
    unpaid = schedule(shop, to="+48601234568")
    deliver([unpaid.pk])
    unpaid.refresh_from_db()
    assert (switched_off.error_code, unpaid.error_code) == ("sms_inactive", "insufficient_credits")
    return {"sms_inactive": switched_off, "insufficient_credits": unpaid}


def test_a_policys_reason_reads_on_the_message_page_of_a_polish_shop(polish_merchant):
    for code, message in polish_stopped_messages(polish_merchant.shop).items():
        page = polish_merchant.get(reverse("admin:smsnotify_message_change", args=[message.pk]))
        assert page.status_code == 200
        assert page.headers["Content-Language"] == "pl"
        with translation.override("pl"):
            reason = history.reason_text(code)
        # Once in the error field, once in the history's "what happened".
        assert page.content.decode().count(html.escape(reason)) == 2, (code, reason)


@pytest.mark.parametrize("code,english", [
    ("sms_inactive", "Not sent: SMS is switched off for this shop."),
    ("insufficient_credits", "Not sent: the credit balance could not pay for it. Buy credits, then send it again."),
])
def test_a_policys_reason_is_in_polish_for_a_polish_shop(polish_merchant, code, english):
    message = polish_stopped_messages(polish_merchant.shop)[code]
    page = polish_merchant.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    assert html.escape(english) not in page
    with translation.override("pl"):
        assert history.reason_text(code) != english


def test_the_error_of_a_message_refused_with_parameters_reads_without_placeholders(shop):
    message = schedule(shop, body="refuse me")
    with override_settings(SMS_DELIVERY_POLICIES=[policies.path(policies.RefuseMarked)]):
        deliver([message.pk])
        message.refresh_from_db()
        assert message.status == Status.SUPPRESSED
        assert history.error_text(message) == f"Not sent: {message.recipient} replied STOP."


def test_the_history_names_who_acted_without_linking_to_user_accounts(client, db):
    shop = make_shop(credits=100)
    anna = make_merchant(shop, "anna")
    client.force_login(anna)
    message = outbox.message_schedule(shop=shop, to="+12025550123", body="Hi", kind="manual", user=anna)
    page = client.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    assert "anna" in page and "/admin/auth/user/" not in page


# --- Every branch of the wording, on events built by hand ----------------------------------------


def said(type_, event_status=Status.SENT, **parameters) -> str:
    with translation.override("en"), timezone.override("UTC"):
        return history.event_text(MessageEvent(type=type_, status=event_status, parameters=parameters))


def test_a_provider_error_reads_as_code_and_words_or_whichever_it_gave():
    # a code we know reads in our words, the provider's own kept beside them
    assert said(EventType.REFUSED, code="21211", text="Invalid number") == \
        "Refused by the provider: the number is not valid (provider's answer: “Invalid number”, code 21211)."
    assert said(EventType.REFUSED, code="21211") == "Refused by the provider: the number is not valid (code 21211)."
    # one we do not know reads as the provider gave it
    assert said(EventType.REFUSED, code="30999", text="Odd error") == "Refused by the provider: 30999: Odd error."
    assert said(EventType.REFUSED, code="30999") == "Refused by the provider: 30999."
    assert said(EventType.REFUSED, text="Invalid number") == "Refused by the provider: Invalid number."
    assert said(EventType.REFUSED) == "Refused by the provider: no details."


def test_a_known_provider_error_in_an_event_reads_in_the_active_language_with_the_providers_words():
    with translation.override("pl"), timezone.override("UTC"):
        text = history.event_text(MessageEvent(type=EventType.REFUSED, status=Status.SUPPRESSED, parameters={
            "code": "21610", "text": "Attempt to send to unsubscribed recipient"}))
    assert "Attempt to send to unsubscribed recipient" in text and "21610" in text  # support needs them
    assert text.startswith("Odrzucona przez dostawcę: ten numer odpowiedział STOP")


def test_a_report_names_the_status_and_any_error():
    assert said(EventType.REPORT, status="delivered") == "The provider reports it delivered."
    assert said(EventType.REPORT, status="failed", code="30008") == \
        "The provider reports it failed: the recipient's network reported an unknown error (code 30008)."
    assert said(EventType.REPORT, status="failed", text="Unknown error") == \
        "The provider reports it failed: Unknown error."
    # a status the core does not know is shown as the provider wrote it
    assert said(EventType.REPORT, status="read") == "The provider reports it read."
    assert said(EventType.REPORT) == "The provider reports it ."


@pytest.mark.parametrize("language,expected", [("pl", "Dostawca zgłasza status: dostarczone."),
                                               ("pt", "O provedor indica o estado: entregue.")])
def test_a_report_names_the_status_in_the_shops_language(language, expected):
    with translation.override(language):
        event = MessageEvent(type=EventType.REPORT, status=Status.DELIVERED, parameters={"status": "delivered"})
        assert history.event_text(event) == expected


def test_a_cancel_or_send_again_by_the_system_names_no_one():
    assert said(EventType.CANCELLED) == "Cancelled."
    assert said(EventType.SEND_AGAIN) == "Sent again."


def test_a_scheduled_event_reads_as_created_written_or_scheduled_for():
    at = "2026-01-15T12:34:00+00:00"
    assert said(EventType.SCHEDULED) == "Created."
    assert said(EventType.SCHEDULED, send_at=at) == "Scheduled for 01/15/2026 12:34:00."
    assert said(EventType.SCHEDULED, user="anna") == "Written by anna."
    assert said(EventType.SCHEDULED, user="anna", send_at=at) == \
        "Written by anna, to be sent at 01/15/2026 12:34:00."


def test_a_time_that_cannot_be_read_is_shown_as_written():
    assert said(EventType.HELD, until="soon", reason="") == "Held until soon: "
    assert said(EventType.HELD, until="soon") == "Held until soon: "  # no reason given: none is named
    assert said(EventType.RETRY, at="", attempt=2, code="20429") == \
        "Temporary failure: the provider is busy (code 20429). Attempt 2 at ."


def test_a_hold_reads_until_when_in_the_page_format_and_why():
    assert said(EventType.HELD, until="2026-01-15T12:34:00+00:00", reason="quiet_hours") == \
        "Held until 01/15/2026 12:34:00: " + history.reason_text("quiet_hours")


def test_a_note_reads_as_its_detail_or_at_least_the_status():
    assert said(EventType.NOTE, detail="Checked by phone.") == "Checked by phone."
    assert said(EventType.NOTE, event_status=Status.DELIVERED) == "Delivered"
    assert said(EventType.NOTE, event_status="gone") == ""


def test_an_event_whose_parameters_do_not_fit_its_sentence_reads_as_its_label():
    assert said(EventType.ATTEMPT) == "Handed to the gateway"
    assert said(EventType.ACCEPTED, provider_id="SM1") == "Accepted by the provider as SM1."


def test_an_event_type_from_a_later_version_reads_as_its_code():
    assert said("forwarded") == "forwarded"


def test_a_reason_the_history_does_not_know_reads_as_its_code_and_one_with_missing_parameters_as_its_sentence():
    with translation.override("en"):
        assert history.reason_text("no_such_reason", {"x": 1}) == "no_such_reason"
        assert history.reason_text("cancelled") == "Cancelled before it was sent."
        assert history.reason_text("cancelled", None) == "Cancelled before it was sent."
    with override_settings(SMS_DELIVERY_POLICIES=[policies.path(policies.RefuseMarked)]), translation.override("en"):
        assert history.reason_text("refused_marked", {}) == "Not sent: %(phone)s replied STOP."
        assert history.reason_text("refused_marked", {"phone": "+12025550123"}) == "Not sent: +12025550123 replied STOP."


def test_a_stopped_event_reads_as_its_reason_with_its_parameters():
    with override_settings(SMS_DELIVERY_POLICIES=[policies.path(policies.RefuseMarked)]):
        assert said(EventType.STOPPED, reason="refused_marked", phone="+12025550123") == \
            "Not sent: +12025550123 replied STOP."
        assert said(EventType.STOPPED) == ""


def test_the_error_of_a_message_stopped_twice_reads_with_the_latest_parameters(shop):
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(status=Status.SUPPRESSED, error_code="refused_marked",
                                                 error_text="raw words")
    message.refresh_from_db()
    with override_settings(SMS_DELIVERY_POLICIES=[policies.path(policies.RefuseMarked)]), translation.override("en"):
        assert history.error_text(message) == "Not sent: %(phone)s replied STOP."  # no stop event yet
        for phone in ("+12025550100", "+12025550199"):
            MessageEvent.objects.create(message=message, type=EventType.STOPPED, status=Status.SUPPRESSED,
                                        parameters={"reason": "refused_marked", "phone": phone})
        MessageEvent.objects.create(message=message, type=EventType.NOTE, status=Status.SUPPRESSED,
                                    parameters={"reason": "refused_marked", "phone": "+12025550111"})
        assert history.error_text(message) == "Not sent: +12025550199 replied STOP."


@pytest.mark.parametrize("later_stop_written_first", [True, False])
def test_the_error_reads_with_the_parameters_of_the_latest_stop_by_time_then_by_writing(shop, later_stop_written_first):
    # The latest by time wins even when it was written first (a stop timed at its transaction's
    # start); of two stops at the same moment, the one written last.
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(status=Status.SUPPRESSED, error_code="refused_marked")
    message.refresh_from_db()
    at = timezone.now()
    times = [at + dt.timedelta(seconds=1), at] if later_stop_written_first else [at, at]
    for phone, created_at in zip(("+12025550100", "+12025550199"), times):
        MessageEvent.objects.create(message=message, type=EventType.STOPPED, status=Status.SUPPRESSED,
                                    parameters={"reason": "refused_marked", "phone": phone}, created_at=created_at)
    expected = "+12025550100" if later_stop_written_first else "+12025550199"
    with override_settings(SMS_DELIVERY_POLICIES=[policies.path(policies.RefuseMarked)]), translation.override("en"):
        assert history.error_text(message) == f"Not sent: {expected} replied STOP."


def test_a_providers_error_reads_in_our_words_with_its_own_kept_beside_them(shop):
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(error_code="30003", error_text="Unreachable handset")
    message.refresh_from_db()
    with translation.override("en"):
        assert history.error_words(message) == history.ErrorWords(
            "The phone could not be reached (switched off or out of coverage)",
            "Provider's answer: “Unreachable handset” (30003)")
        assert history.error_text(message) == ("The phone could not be reached (switched off or out of coverage). "
                                               "Provider's answer: “Unreachable handset” (30003)")
    with translation.override("pl"):
        words = history.error_words(message)
    assert "Unreachable" not in words.reason and "Unreachable handset" in words.detail
    assert words.detail.startswith("Odpowiedź dostawcy")


def test_a_providers_error_with_a_code_we_do_not_know_is_shown_in_its_own_words(shop):
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(error_code="30999", error_text="Carrier said no")
    message.refresh_from_db()
    with translation.override("en"):
        assert history.error_words(message) == history.ErrorWords(
            "Error reported by the SMS provider", "Provider's answer: “Carrier said no” (30999)")
    Message.objects.filter(pk=message.pk).update(error_code="", error_text="Carrier said no")
    message.refresh_from_db()
    with translation.override("en"):
        assert history.error_text(message) == "Error reported by the SMS provider. Provider's answer: “Carrier said no”"
    Message.objects.filter(pk=message.pk).update(error_code="30999", error_text="")
    message.refresh_from_db()
    with translation.override("en"):
        assert history.error_text(message) == "Error reported by the SMS provider. Provider's error code: 30999"
    Message.objects.filter(pk=message.pk).update(error_code="", error_text="")
    message.refresh_from_db()
    assert history.error_words(message) == history.ErrorWords("")


def test_a_core_reason_is_put_into_words_too(shop):
    message = schedule(shop)
    Message.objects.filter(pk=message.pk).update(error_code="expired", error_text="raw")
    message.refresh_from_db()
    with translation.override("en"):
        assert history.error_text(message) == "Not sent: it was due too long ago."


def test_a_moment_reads_to_the_second_in_the_active_zone():
    moment = dt.datetime(2026, 1, 15, 3, 30, 5, tzinfo=dt.UTC)
    with translation.override("en"), timezone.override("America/New_York"):
        assert history.moment_text(moment) == "01/14/2026 22:30:05"


def test_in_shop_terms_renders_in_the_shops_language_and_zone():
    shop = make_shop(language="pl", time_zone="Europe/Warsaw")
    seen = history.in_shop_terms(shop, lambda a, b: (translation.get_language(), str(timezone.get_current_timezone()), a, b), 1, 2)
    assert seen == ("pl", "Europe/Warsaw", 1, 2)


def test_an_event_time_is_stored_as_iso_text():
    assert history.iso(dt.datetime(2026, 1, 15, 3, 30, 5, tzinfo=dt.UTC)) == "2026-01-15T03:30:05+00:00"
