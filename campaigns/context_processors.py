"""The merchant's unread texts in every admin page's header, beside the credits (see
smsnotify/templates/admin/base_site.html)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import SimpleLazyObject

from shop.tenancy import is_operator, request_shop

from .inbox import unread_total


@dataclass(frozen=True)
class InboxBadge:
    unread: int


def _badge(request) -> InboxBadge | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff or is_operator(request):
        return None
    shop = request_shop(request)
    return InboxBadge(unread=unread_total(shop)) if shop is not None else None


def inbox(request) -> dict:
    """Lazy: no query unless a template shows the link."""
    return {"inbox_badge": SimpleLazyObject(lambda: _badge(request))}
