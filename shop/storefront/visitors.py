"""Who a storefront request comes from."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The visitor's address. X-Forwarded-For is written by whoever sends the request, so only
    the entry our own proxy appended (the last) is believed, and only when the setting says there
    is one."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.TRUST_PROXY_FORWARDED_FOR:
        address = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip() or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
