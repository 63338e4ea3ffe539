"""Provider webhooks: delivery-status callbacks."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import aftercare
from .gateways import twilio

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback. A forged or foreign request is a 403 and changes nothing."""
    params = request.POST.dict()
    url = twilio.public_url(request.get_full_path()) or request.build_absolute_uri()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.TWILIO_AUTH_TOKEN or not twilio.signature_is_valid(
        auth_token=settings.TWILIO_AUTH_TOKEN, url=url, params=params, signature=signature
    ):
        log.warning("Rejected a Twilio status callback with a bad signature for %s", url)
        return HttpResponseForbidden("Invalid signature.")
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
    return HttpResponse(status=204)
