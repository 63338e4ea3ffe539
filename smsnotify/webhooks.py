"""Provider webhooks: delivery-status callbacks and incoming texts."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from twilio.twiml.messaging_response import MessagingResponse

from . import aftercare, inbound
from .gateways import twilio

log = logging.getLogger(__name__)


# How long a webhook's idempotency token is remembered: Twilio retries within minutes.
_TOKEN_SECONDS = 24 * 3600


def _token_key(request: HttpRequest) -> str | None:
    token = request.headers.get("I-Twilio-Idempotency-Token", "")
    return f"twilio:webhook:{token[:200]}" if token else None


def _seen(request: HttpRequest) -> bool:
    """A retry of a webhook already handled (Twilio sends the same I-Twilio-Idempotency-Token).
    Only a shortcut: every handler is idempotent on its own, so a cache that is down is no reason
    to fail the webhook."""
    key = _token_key(request)
    try:
        return key is not None and cache.get(key) is not None
    except Exception:  # noqa: BLE001 - the cache's outage (Redis down)
        log.warning("The cache did not answer; handling the webhook without its idempotency check.")
        return False


def _handled(request: HttpRequest) -> None:
    # Remembered only once handled: a retry after our own failure must still be handled.
    key = _token_key(request)
    if key is not None:
        try:
            cache.set(key, 1, _TOKEN_SECONDS)
        except Exception:  # noqa: BLE001
            log.warning("The cache did not answer; the webhook's idempotency token is not remembered.")


def _twilio_signed(request: HttpRequest) -> bool:
    url = twilio.public_url(request.get_full_path()) or request.build_absolute_uri()
    signature = request.headers.get("X-Twilio-Signature", "")
    if settings.TWILIO_AUTH_TOKEN and twilio.signature_is_valid(
        auth_token=settings.TWILIO_AUTH_TOKEN, url=url, params=request.POST, signature=signature
    ):
        return True
    log.warning("Rejected a Twilio webhook with a bad signature for %s", url)
    return False


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback. A forged or foreign request is a 403 and changes nothing."""
    if not _twilio_signed(request):
        return HttpResponseForbidden("Invalid signature.")
    if _seen(request):
        return HttpResponse(status=204)
    params = request.POST.dict()
    url = request.get_full_path()
    try:
        report = twilio.parse_status_callback(params)
    except ValueError:
        # Signed by Twilio but not a message status callback (no MessageSid): nothing to
        # record, and a 400 tells whoever pointed this webhook here that it is misconfigured.
        log.warning("Rejected a signed Twilio callback without a MessageSid for %s", url)
        return HttpResponseBadRequest("No MessageSid.")
    if report.extra.get("AccountSid") != settings.TWILIO_ACCOUNT_SID:
        return HttpResponseForbidden("Unknown account.")
    # Repeated and out-of-order callbacks are harmless: a report never moves a message back.
    aftercare.report_apply(gateway_name="twilio", report=report)
    _handled(request)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's incoming-message webhook. A forged or foreign request is a 403 and stores nothing;
    a genuine one is stored (once per MessageSid) and answered with empty TwiML: any reply
    (to HELP, STOP, START) goes out through the outbox, charged and in the message history."""
    if not _twilio_signed(request):
        return HttpResponseForbidden("Invalid signature.")
    empty = HttpResponse(str(MessagingResponse()), content_type="text/xml")
    if _seen(request):
        return empty
    params = request.POST.dict()
    if params.get("AccountSid") != settings.TWILIO_ACCOUNT_SID:
        return HttpResponseForbidden("Unknown account.")
    try:
        sms = twilio.parse_inbound(params)
    except ValueError:
        return HttpResponseBadRequest("No MessageSid or From.")
    inbound.inbound_receive(sms=sms)
    _handled(request)
    return empty
