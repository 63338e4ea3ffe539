"""The storefront's sessions: a customer logged in to one shop, and what a flow keeps between
its pages, under keys of that shop in Django's session.

Apart from the admin's log-in: a customer is never a Django user, nothing here touches
``request.user``, and logging out of a shop removes that shop's keys only (a merchant testing
their storefront stays logged in to the admin, and to another shop's storefront).
"""

from __future__ import annotations

from django.utils.crypto import constant_time_compare

from ..accounts import account_session_hash
from ..models import Customer, Shop

ACCOUNT, SIGNUP, NEW_NUMBER, RESET = "account", "signup", "new_number", "reset"


def _key(shop: Shop, name: str) -> str:
    return f"storefront:{shop.pk}:{name}"


def session_key(request) -> str:
    """The session's key, made now if the visitor has none yet (the per-session limit counts by it)."""
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def session_customer(request, shop: Shop) -> Customer | None:
    """The customer logged in to ``shop`` in this session; None once their password changed."""
    data = request.session.get(_key(shop, ACCOUNT))
    if not isinstance(data, dict):
        return None
    customer = Customer.objects.filter(shop=shop, pk=data.get("id")).exclude(password="").select_related("shop").first()
    if customer is None or not constant_time_compare(str(data.get("hash", "")), account_session_hash(customer)):
        request.session.pop(_key(shop, ACCOUNT), None)
        return None
    return customer


def session_login(request, shop: Shop, customer: Customer) -> None:
    # A new session key: one planted in the visitor's browser before the log-in learns nothing.
    request.session.cycle_key()
    request.session[_key(shop, ACCOUNT)] = {"id": customer.pk, "hash": account_session_hash(customer)}


def session_logout(request, shop: Shop) -> None:
    for name in (ACCOUNT, SIGNUP, NEW_NUMBER, RESET):
        request.session.pop(_key(shop, name), None)


def pending(request, shop: Shop, name: str):
    return request.session.get(_key(shop, name))


def pending_set(request, shop: Shop, name: str, value) -> None:
    request.session[_key(shop, name)] = value


def pending_clear(request, shop: Shop, name: str) -> None:
    request.session.pop(_key(shop, name), None)
