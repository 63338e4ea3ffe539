"""The naive short-link redirect bench_shortlink.py compares with: a plain Django view behind the
whole middleware stack (session, locale, CSRF, auth…) that loads the link with the ORM and saves a
click row per request, as most public Django shorteners do. Routed at /n/<code> by its own URL conf
(``ROOT_URLCONF = "bench.naive_shortlink"``, set by the benchmark for its gunicorn)."""

import uuid

from django.http import Http404, HttpResponseRedirect
from django.urls import path

from smsnotify.models import LinkClick, ShortLink
from smsnotify.urls import urlpatterns as project_urlpatterns


def naive_redirect(request, code):
    try:
        link = ShortLink.objects.select_related("message").get(code=code)
    except ShortLink.DoesNotExist:
        raise Http404 from None
    # every request is a click (a visitor per request: the table's one-per-visitor rule would refuse repeats)
    LinkClick(link=link, visitor=uuid.uuid4().hex, customer_id=link.message.customer_id).save()
    return HttpResponseRedirect(link.url)


urlpatterns = [path("n/<str:code>", naive_redirect), *project_urlpatterns]
