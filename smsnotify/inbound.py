"""Texts customers send in: stored as inbound Messages, then handed to the app that reads them.

The core stores every incoming text once (by the provider's id) and links it to its shop and,
by number, to the customer; what the words mean (STOP, START, HELP, YES) is decided above it,
by the handler named in ``SMS_INBOUND_HANDLER`` (a dotted path, like ``SMS_GATEWAY``): the
core knows no keywords. A handler may say which words it reads with a ``keywords(language)``
attribute (a list of words), which the admin's simulated text offers as a hint.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

from shop.models import Customer, Shop

from .gateways.base import InboundSms
from .models import Direction, EventType, Kind, Message, MessageEvent, SmsSettings, Status
from .phones import InvalidPhoneNumber, to_e164

log = logging.getLogger(__name__)


def inbound_shop(*, sms: InboundSms) -> Shop | None:
    """Whose text this is: the shop that sends from the number it was sent to, else (a number
    shared by shops) the shop whose text last left for this customer."""
    owners = list(SmsSettings.objects.filter(sender=sms.to).exclude(sender="").values_list("shop_id", flat=True)[:2])
    if len(owners) == 1:  # a number is one shop's (SmsSettings.clean); never guess between two
        return Shop.objects.get(pk=owners[0])
    texted = Message.objects.filter(direction=Direction.OUTBOUND, recipient=sms.sender, sent_at__isnull=False)
    if owners:
        texted = texted.filter(shop_id__in=owners)
    last = texted.order_by("-sent_at", "-pk").select_related("shop").first()
    return last.shop if last is not None else None


@transaction.atomic
def inbound_receive(*, sms: InboundSms, shop: Shop | None = None) -> Message | None:
    """Store ``sms`` (once per provider id) and let the handler act on it; None when no shop
    can be told (it is logged). ``shop`` is given by a simulation in the admin."""
    shop = shop or inbound_shop(sms=sms)
    if shop is None:
        log.warning("Received a text from %s to %s that no shop can be told of; dropped.", sms.sender, sms.to)
        return None
    try:
        sender = to_e164(sms.sender, region=shop.country)
    except InvalidPhoneNumber:
        sender = sms.sender[:20]  # a short code or an alphanumeric sender: kept as given
    key = f"inbound:{sms.gateway}:{sms.provider_id}"[:120]
    existing = Message.objects.filter(shop=shop, dedupe_key=key).first()
    if existing is not None:
        return existing  # the provider retried its webhook: already stored and handled
    now = timezone.now()
    message = Message(
        shop=shop, direction=Direction.INBOUND, kind=Kind.INBOUND, recipient=sender, sender=sms.to[:16],
        body=sms.body, status=Status.DELIVERED, gateway=sms.gateway, provider_id=sms.provider_id[:64],
        dedupe_key=key, customer=Customer.objects.filter(shop=shop, phone=sender).order_by("pk").first(),
        send_at=now, sent_at=now, delivered_at=now, created_at=now,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:  # the same webhook, twice at once
        return Message.objects.get(shop=shop, dedupe_key=key)
    MessageEvent.objects.create(message=message, type=EventType.RECEIVED, status=message.status,
                                parameters={"gateway": sms.gateway}, created_at=now)
    inbound_handler()(message=message, opt_out_type=sms.opt_out_type)
    return message


def inbound_keywords(*, language: str) -> list[str]:
    """The words the handler reads in ``language``; none when it does not say."""
    keywords = getattr(inbound_handler(), "keywords", None)
    return list(keywords(language)) if keywords is not None else []


@functools.cache
def inbound_handler():
    return import_string(settings.SMS_INBOUND_HANDLER)


@receiver(setting_changed, dispatch_uid="smsnotify.inbound.reload")
def _reload(*, setting, **kwargs):
    if setting == "SMS_INBOUND_HANDLER":
        inbound_handler.cache_clear()
