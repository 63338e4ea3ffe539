"""The admin speaks the merchant's shop: its language and its time zone.

Times are stored in UTC; a merchant in New York reads them in New York time, and a Polish
shop's staff read Polish, without setting anything. A language the user picked
(``set_language`` stores it in the ``django_language`` cookie, which LocaleMiddleware has
already applied) wins over the shop's. The operator works across shops, so keeps UTC and
the language LocaleMiddleware chose.
"""

from __future__ import annotations

from contextlib import ExitStack

from django.conf import settings
from django.utils import timezone, translation

from .tenancy import request_shop


class ShopLocaleMiddleware:
    """Goes after AuthenticationMiddleware (it needs ``request.user``) and LocaleMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        shop = request_shop(request) if hasattr(request, "user") else None
        if shop is None:
            return self.get_response(request)
        with ExitStack() as stack:
            # override() restores the previous zone and language afterwards, so nothing leaks
            # into the next request or task this thread runs.
            stack.enter_context(timezone.override(shop.zone))
            if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES and shop.language:
                stack.enter_context(translation.override(shop.language))
                request.LANGUAGE_CODE = translation.get_language()
            response = self.get_response(request)
            # LocaleMiddleware fills this in only when missing, after the language is restored.
            response.headers.setdefault("Content-Language", translation.get_language())
        return response
