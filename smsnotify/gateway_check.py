"""The SMS settings page's test text: one text sent at once through the configured gateway, and
the provider's answer put into words for the merchant.

A test text is an SMS like any other. It is written through the outbox (kind "Test text", so it
is in the message history with its events) and then delivered at once, within the request, by
the same delivery run the workers use, so every delivery policy applies to it: SMS switched off,
a number that replied STOP, the sender's rate, and the charge. It costs credits like any text,
because the provider bills it. Unlike other texts, it is not retried after a temporary failure:
the merchant is waiting for an answer and can press the button again. A test that went through
an hour later would answer nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from shop.models import Shop
from shop.storefront.limits import limit_wait

from . import delivery, outbox
from .gateways import get_gateway
from .history import reason_text
from .models import EventType, Kind, Message, Status
from .provider_errors import provider_error_words
from .selectors import sms_settings_for
from .transitions import message_transition

log = logging.getLogger(__name__)


class TestTextRefused(Exception):
    """Nothing was written: the reason, in words."""


@dataclass(frozen=True, slots=True)
class TestAnswer:
    ok: bool  # the provider accepted it (or it waits a moment for the sender's rate)
    text: str  # in the active language


def gateway_test_wait(*, shop: Shop) -> int:
    """Count one test text of ``shop``: 0 when it may go, else the seconds to wait."""
    for window, limit in ((60, settings.SMS_TEST_TEXTS_PER_MINUTE), (86_400, settings.SMS_TEST_TEXTS_PER_DAY)):
        wait = limit_wait(key=f"sms-test-text:{shop.pk}:{window}", limit=limit, window_seconds=window)
        if wait:
            return wait
    return 0


def test_text_body(shop: Shop) -> str:
    with translation.override(shop.language):
        return _("Test text from %(shop)s: your SMS settings work.") % {"shop": shop.name}


def gateway_test_send(*, shop: Shop, to: str, user) -> Message:
    """Send the test text to ``to`` now and return its message, in the state the gateway's
    answer left it. Raises ``TestTextRefused`` when nothing could be written (the gateway is not
    configured, SMS is switched off) and ``InvalidPhoneNumber`` for a number that is not one."""
    try:
        gateway = get_gateway()
    except Exception as exc:  # noqa: BLE001 - a gateway without its credentials says why when built
        log.warning("The SMS gateway could not be built for a test text: %s", exc)
        # Its words name the platform's settings, in English: the operator reads them in the log.
        raise TestTextRefused(_("The SMS gateway is not configured yet: ask the platform's operator.")) from exc
    if not sms_settings_for(shop).active:  # the outbox would write it cancelled: nothing to test
        raise TestTextRefused(_("SMS is switched off for this shop: switch it on and save, then send a test text."))
    message = outbox.message_schedule(shop=shop, to=to, body=test_text_body(shop), kind=Kind.GATEWAY_TEST, user=user,
                                      ring=False)
    try:
        delivery.messages_deliver(message_ids=[message.pk], gateway=gateway)
    except Exception:  # a bug in a policy: the run gave the message back for later; a test stops here
        log.exception("Test text %s could not be delivered", message.pk)
    _no_retry(message)
    message.refresh_from_db()
    return message


def _no_retry(message: Message) -> None:
    """A test text that waits for a retry fails now, keeping the provider's error."""
    last = message.events.order_by("-created_at", "-pk").first()
    if last is None or last.status != Status.SCHEDULED:
        return
    if last.type == EventType.RETRY:  # the provider's error stays the message's
        message_transition(message.pk, from_statuses=[Status.SCHEDULED], status=Status.FAILED,
                           event=EventType.STOPPED, params={"reason": "test_not_retried"})
    elif last.type == EventType.HELD and last.parameters.get("reason") == "internal_error":
        message_transition(message.pk, from_statuses=[Status.SCHEDULED], status=Status.FAILED,
                           event=EventType.STOPPED, params={"reason": "test_internal_error"},
                           error_code="test_internal_error", error_text="An internal error stopped the test text.")


def gateway_test_answer(message: Message) -> TestAnswer:
    """What became of a test text, in the active language: the provider's id when it accepted
    it, its error in plain words when it did not, our own reason when a policy stopped it."""
    values = {"number": message.recipient, "id": message.provider_id}
    if message.status in (Status.SENT, Status.DELIVERED):
        return TestAnswer(True, _("Sent to %(number)s: the provider accepted it as %(id)s.") % values)
    if message.status == Status.SCHEDULED:
        when = formats.time_format(timezone.localtime(message.send_at), "H:i:s")
        return TestAnswer(True, _("Written: it waits for your sender's rate and leaves at %(time)s.") % {"time": when})
    if message.status == Status.UNKNOWN:
        return TestAnswer(False, _("No clear answer from the provider (%(error)s): the test text may or may not "
                                   "have been sent. Its page will say once the provider is asked again.")
                          % {"error": provider_error_words(message.error_code, message.error_text)})
    stopped = message.events.filter(type=EventType.STOPPED).order_by("-created_at", "-pk").first()
    reason = stopped.parameters.get("reason", "") if stopped else ""
    if reason == "test_not_retried":
        return TestAnswer(False, _("Not sent: %(error)s. This is temporary; try again in a few minutes.")
                          % {"error": provider_error_words(message.error_code, message.error_text)})
    if reason:
        return TestAnswer(False, reason_text(reason, stopped.parameters))
    return TestAnswer(False, _("The provider refused the test text: %(error)s.")
                      % {"error": provider_error_words(message.error_code, message.error_text)})
