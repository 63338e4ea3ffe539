"""Campaigns' delivery policies: the checks made at the moment a text would leave."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from shop.models import Order
from smsnotify.models import Kind, Status
from smsnotify.policies import DeliveryPolicy, Refuse

from .selectors import status_of_dedupe_key
from .service_texts import STATUS_CHANGED


class OrderStatusStillCurrent(DeliveryPolicy):
    """A status text leaves only while its order is still in the status it announces (see
    service_texts.py): a delayed "shipped" text does not go to an order cancelled meanwhile."""

    reasons = {STATUS_CHANGED: _("Not sent: the order moved to another status before it was due.")}

    def before_send(self, batch):
        texts = [m for m in batch.messages if m.kind == Kind.ORDER_STATUS and m.order_id and m.dedupe_key]
        if not texts:
            return {}
        current = dict(Order.objects.filter(pk__in={m.order_id for m in texts}).values_list("pk", "status"))
        return {
            m.pk: Refuse(status=Status.CANCELLED, code=STATUS_CHANGED, params={"status": current[m.order_id]})
            for m in texts
            if m.order_id in current and status_of_dedupe_key(m.dedupe_key) != current[m.order_id]
        }
