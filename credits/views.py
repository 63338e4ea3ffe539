"""Payment providers' webhooks. Signed, idempotent, and a 403 that changes nothing otherwise."""

import logging

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import payments, purchases

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def payment_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    backend = payments.get_provider(provider)
    if backend is None:
        raise Http404
    try:
        event = backend.parse_webhook(body=request.body, headers=request.headers)
    except payments.InvalidSignature:
        log.warning("Rejected a %s payment webhook with a bad signature", provider)
        return HttpResponseForbidden("Invalid signature.")
    except ValueError:
        return HttpResponseBadRequest("Malformed event.")
    purchase = purchases.payment_event_apply(provider=backend.name, event=event)
    if purchase is None:
        raise Http404  # not our reference; the provider may retry, nothing changes
    # Repeated events are harmless: a purchase is credited only by its pending → paid move.
    return HttpResponse(purchase.status, content_type="text/plain")
