"""smsnotify/admin.py: the merchant's message list and its actions, through the admin's own POST."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from smsnotify import aftercare
from smsnotify.gateways import AmbiguousGatewayError, PermanentGatewayError
from smsnotify.gateways.base import DeliveryReport
from smsnotify.models import EventType, Message, Status
from tests.delivery import deliver
from tests.factories import make_merchant, make_shop
from tests.smsnotify.helpers import schedule

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:smsnotify_message_changelist"


@pytest.fixture
def merchant(client, shop):
    user = make_merchant(shop, "anna")
    client.force_login(user)
    client.user = user
    return client


def act(client, action, messages):
    return client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [m.pk for m in messages]})


def state(message):
    message.refresh_from_db()
    return message.status


def test_cancel_selected_cancels_only_the_shops_scheduled_messages(merchant, shop, sms_outbox):
    other_shop = make_shop(credits=1000)
    scheduled = schedule(shop, send_at=timezone.now() + dt.timedelta(hours=1))
    sent = schedule(shop, to="+12025550124")
    deliver([sent.pk])
    foreign = schedule(other_shop, send_at=timezone.now() + dt.timedelta(hours=1))
    foreign_events = foreign.events.count()

    response = act(merchant, "cancel_selected", [scheduled, sent, foreign])
    assert response.status_code == 302

    assert state(scheduled) == Status.CANCELLED
    event = scheduled.events.order_by("pk").last()
    assert (event.type, event.user, event.parameters) == (EventType.CANCELLED, merchant.user, {"user": "anna"})
    assert state(sent) == Status.SENT
    assert state(foreign) == Status.SCHEDULED
    assert foreign.events.count() == foreign_events
    messages = [str(m) for m in merchant.get(response.url).context["messages"]]
    assert messages == ["1 message cancelled."]


def test_send_again_selected_reschedules_failed_and_unknown_and_leaves_the_rest(merchant, shop, gateway_errors):
    other_shop = make_shop(credits=1000)
    failed, unknown, delivered = (schedule(shop, to=f"+1202555014{n}") for n in range(3))
    foreign = schedule(other_shop, to="+12025550149")
    gateway_errors.extend([PermanentGatewayError("invalid To", code="21211"), AmbiguousGatewayError("read timeout")])
    deliver([failed.pk, unknown.pk, delivered.pk])
    delivered.refresh_from_db()
    aftercare.report_apply(gateway_name="locmem", report=DeliveryReport(delivered.provider_id, "delivered"))
    gateway_errors.append(PermanentGatewayError("invalid To", code="21211"))
    deliver([foreign.pk])
    assert [state(m) for m in (failed, unknown, delivered, foreign)] == [
        Status.FAILED, Status.UNKNOWN, Status.DELIVERED, Status.FAILED]

    response = act(merchant, "send_again_selected", [failed, unknown, delivered, foreign])
    assert response.status_code == 302

    for message in (failed, unknown):
        assert state(message) == Status.SCHEDULED
        assert (message.attempts, message.error_code) == (0, "")
        event = message.events.order_by("pk").last()
        assert (event.type, event.user) == (EventType.SEND_AGAIN, merchant.user)
    assert state(delivered) == Status.DELIVERED
    assert not delivered.events.filter(type=EventType.SEND_AGAIN).exists()
    assert state(foreign) == Status.FAILED
    assert not foreign.events.filter(type=EventType.SEND_AGAIN).exists()
    assert Message.objects.filter(status=Status.SCHEDULED).count() == 2


def test_a_list_counts_in_words_polish_can_read(client):
    """Django writes "5 szablony SMS" (singular or plural by "is it 1"); Polish takes three forms, so
    the count follows the list's name instead (smsnotify/templates/admin/pagination.html)."""
    shop = make_shop(country="PL", currency="PLN", language="pl")
    client.force_login(make_merchant(shop))
    for _ in range(5):
        schedule(shop=shop)

    paginator = _paginator(client.get(reverse(CHANGELIST)))

    assert paginator == "Wiadomości: 5"


def test_the_language_label_in_the_header_keeps_the_headers_colour(merchant, shop):
    """Django's forms.css greys every <label> on a form page, the header's blue too."""
    message = schedule(shop=shop)
    page = merchant.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    assert '<label for="language-select" style="color: inherit;' in page


def _paginator(response) -> str:
    html = response.content.decode()
    text = re.search(r'<p class="paginator">(.*?)</p>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def test_a_text_from_a_customer_is_named_from_them(shop):
    """The page a simulated or real incoming text opens on said "SMS 19 to <the customer>"."""
    from smsnotify.models import Direction, Kind
    from tests.factories import MessageFactory

    incoming = MessageFactory(shop=shop, direction=Direction.INBOUND, kind=Kind.INBOUND, status=Status.DELIVERED,
                              recipient="+12025550123")
    outgoing = schedule(shop=shop, to="+12025550123")
    assert str(incoming) == f"SMS {incoming.pk} from +12025550123"
    assert str(outgoing) == f"SMS {outgoing.pk} to +12025550123"


# --- a message's page -----------------------------------------------------------------------------


def _fields(page: str) -> dict[str, str]:
    """The page's readonly fields: label → the text of its value."""
    rows = re.findall(r'<label>(.*?):</label>\s*<div class="readonly">(.*?)</div>', page, re.S)
    return {label: " ".join(re.sub(r"<[^>]+>", " ", value).split()) for label, value in rows}


def test_a_messages_times_read_in_one_format_the_shops(client):
    """Its fields said "Nov. 29, 2026, 5:25 a.m." above a history saying "11/29/2026 05:25:50"."""
    import time_machine

    shop = make_shop(time_zone="America/New_York")
    client.force_login(make_merchant(shop))
    with time_machine.travel(dt.datetime(2026, 11, 29, 10, 25, 50, tzinfo=dt.UTC), tick=False):
        message = schedule(shop, send_at=timezone.now() + dt.timedelta(hours=2))
    page = client.get(reverse("admin:smsnotify_message_change", args=[message.pk])).content.decode()
    fields = _fields(page)
    assert fields["Send at"] == "11/29/2026 07:25:50"
    assert fields["Created at"] == "11/29/2026 05:25:50"
    assert fields["Sent at"] == "-"
    assert "a.m." not in page and "p.m." not in page


def test_an_incoming_texts_page_says_who_wrote_to_whom_and_hides_what_only_outgoing_texts_have(client):
    from smsnotify import inbound
    from smsnotify.gateways.base import InboundSms

    shop = make_shop(sender="+12025550100")
    client.force_login(make_merchant(shop))
    received = inbound.inbound_receive(shop=shop, sms=InboundSms(
        sender="+12025550123", to="+12025550100", body="Where is my parcel?", provider_id="SIM1",
        gateway="simulated"))
    page = client.get(reverse("admin:smsnotify_message_change", args=[received.pk])).content.decode()
    fields = _fields(page)
    assert (fields["From"], fields["To"]) == ("+12025550123", "+12025550100")
    assert fields["Status"] == "Received"
    for outgoing_only in ("Recipient", "Sender", "Encoding", "Attempts", "Credits", "Credits charged", "Send at"):
        assert outgoing_only not in fields, outgoing_only
    assert "Received via a simulation in the admin." in page and "via simulated" not in page
    assert "Delivered" not in page  # neither its status nor its history's
    listed = client.get(reverse(CHANGELIST)).content.decode()
    assert ">Received</strong>" in listed and ">Delivered</strong>" not in listed


def test_an_incoming_text_reads_received_in_polish(client):
    from smsnotify.models import Direction, Kind
    from tests.factories import MessageFactory

    shop = make_shop(country="PL", currency="PLN", language="pl")
    client.force_login(make_merchant(shop))
    incoming = MessageFactory(shop=shop, direction=Direction.INBOUND, kind=Kind.INBOUND, status=Status.DELIVERED,
                              recipient="+48601234567", gateway="twilio")
    incoming.events.create(type=EventType.RECEIVED, status=Status.DELIVERED, parameters={"gateway": "twilio"})
    page = client.get(reverse("admin:smsnotify_message_change", args=[incoming.pk])).content.decode()
    fields = _fields(page)
    assert (fields["Od"], fields["Status"]) == ("+48601234567", "Odebrana")
    assert "Odebrano przez Twilio." in page
