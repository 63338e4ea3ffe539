"""The storefront's product page, in the shop's language: name, price, availability and, for a
product that cannot be ordered now, the back-in-stock sign-up.

Thin: the form reads the number, the service records the sign-up and the consent. Abuse is
limited per IP address and per number (settings STOREFRONT_SIGNUPS_PER_IP_PER_HOUR and
STOREFRONT_SIGNUPS_PER_NUMBER_PER_DAY, counted in Django's cache) with a 429. The answer never
says whether a number was already waiting: a repeat is the same success.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .. import services
from ..models import Product, Shop
from ..money import format_money
from .forms import BackInStockForm
from .limits import limit_exceeded
from .visitors import client_ip

HOUR, DAY = 3600, 86400
SIGNED_UP = "signed_up"


@require_http_methods(["GET", "HEAD", "POST"])
def product_page(request, shop_slug: str, product_id: int):
    shop = get_object_or_404(Shop, slug=shop_slug)
    product = get_object_or_404(Product, shop=shop, pk=product_id)  # another shop's product is not here
    with translation.override(shop.language):
        response = _answer(request, shop, product)
        response["Content-Language"] = shop.language
    return response


def _answer(request, shop: Shop, product: Product):
    if request.method != "POST" or product.available:
        notice = _("This product is available now: you can order it.") if request.method == "POST" else ""
        form = None if product.available else BackInStockForm(shop=shop)
        return _page(request, shop, product, form=form, notice=notice, signed_up=SIGNED_UP in request.GET)
    ip = client_ip(request)
    too_many = _("Too many sign-ups from here. Please try again later.")
    if limit_exceeded(key=f"storefront:stock:ip:{shop.pk}:{ip or 'unknown'}",
                      limit=settings.STOREFRONT_SIGNUPS_PER_IP_PER_HOUR, window_seconds=HOUR):
        return _page(request, shop, product, form=BackInStockForm(shop=shop), error=too_many, status=429)
    form = BackInStockForm(request.POST, shop=shop)
    if not form.is_valid():
        return _page(request, shop, product, form=form)
    number = form.cleaned_data["phone"]
    # Counted for every valid attempt, new or repeated, so the limit cannot tell which numbers wait.
    if limit_exceeded(key=f"storefront:stock:number:{shop.pk}:{number}",
                      limit=settings.STOREFRONT_SIGNUPS_PER_NUMBER_PER_DAY, window_seconds=DAY):
        return _page(request, shop, product, form=BackInStockForm(shop=shop),
                     error=_("Too many sign-ups for this number. Please try again tomorrow."), status=429)
    try:
        services.back_in_stock_subscribe(product=product, phone=number, consent_text=form.consent_text, ip=ip)
    except ValidationError as exc:  # it came back in stock meanwhile
        return _page(request, shop, product, form=None, notice=" ".join(exc.messages))
    # Post/redirect/get: reloading the thank-you page does not post again.
    return HttpResponseRedirect(f"{request.path}?{SIGNED_UP}=1")


def _page(request, shop: Shop, product: Product, *, form, notice: str = "", error: str = "",
          signed_up: bool = False, status: int = 200):
    return render(request, "shop/storefront/product.html", {
        "shop": shop,
        "product": product,
        "price": format_money(product.price, shop.currency, shop.language),
        "form": form,
        "notice": notice,
        "error": error,
        "signed_up": signed_up,
    }, status=status)
