"""The merchant's balance in every admin page's header (see smsnotify/templates/admin/base_site.html)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import SimpleLazyObject

from shop.tenancy import is_operator, request_shop

from .pricing import domestic_segment_cost
from .selectors import credit_balance


@dataclass(frozen=True)
class CreditsBadge:
    balance: int
    low: bool  # below one domestic SMS: sending is blocked


def _badge(request) -> CreditsBadge | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff or is_operator(request):
        return None
    shop = request_shop(request)
    if shop is None:
        return None
    balance = credit_balance(shop)
    return CreditsBadge(balance=balance, low=balance < domestic_segment_cost(shop))


def credits(request) -> dict:
    """Lazy: no query unless a template shows the badge."""
    return {"credits_badge": SimpleLazyObject(lambda: _badge(request))}
