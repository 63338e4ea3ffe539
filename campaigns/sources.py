"""Where a message came from, for the merchant's lists: a label and, when there is one, the page
of what caused it (an order, a customer; later a campaign or a bulk send).

A feature whose texts have a page of their own registers a finder for its dedupe key's prefix
(``SOURCE_FINDERS["birthday:"] = ...``); a finder answers None when it cannot place a message,
and the message falls back to its order, then its customer, then its kind alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from smsnotify.models import Kind, Message

from .date_campaigns import campaign_of_dedupe_key
from .models import DateCampaign


@dataclass(frozen=True)
class Source:
    label: str  # in the active language: "Order status · order #1001"
    url: str | None  # an admin page, or None when nothing has a page


# dedupe key prefix → finder; the longest matching prefix is asked first.
SOURCE_FINDERS: dict[str, Callable[[Message], Source | None]] = {}


def _kind_label(message: Message) -> str:
    return str(Kind(message.kind).label) if message.kind in Kind.values else message.kind


def message_source(message: Message) -> Source:
    """Where ``message`` came from. Reads ``message.order`` and ``message.customer``: list pages
    load them with the message (select_related)."""
    key = message.dedupe_key or ""
    for prefix in sorted((p for p in SOURCE_FINDERS if key.startswith(p)), key=len, reverse=True):
        found = SOURCE_FINDERS[prefix](message)
        if found is not None:
            return found
    kind = _kind_label(message)
    if message.order_id:
        return Source(_("%(kind)s · order %(order)s") % {"kind": kind, "order": message.order},
                      reverse("admin:shop_order_change", args=[message.order_id]))
    if message.customer_id:
        return Source(_("%(kind)s · %(customer)s") % {"kind": kind, "customer": message.customer},
                      reverse("admin:shop_customer_change", args=[message.customer_id]))
    return Source(kind, None)


def _date_campaign(message: Message) -> Source | None:
    campaign = DateCampaign.objects.filter(pk=campaign_of_dedupe_key(message.dedupe_key),
                                           shop_id=message.shop_id).first()
    if campaign is None:
        return None
    return Source(_("%(kind)s · %(campaign)s") % {"kind": _kind_label(message), "campaign": campaign.name},
                  reverse("admin:campaigns_datecampaign_change", args=[campaign.pk]))


SOURCE_FINDERS["date:"] = _date_campaign
