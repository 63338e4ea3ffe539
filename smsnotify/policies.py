"""Delivery policies: what may stop, delay or settle a message around the gateway call.

``SMS_DELIVERY_POLICIES`` lists dotted paths, loaded like Django's ``MIDDLEWARE``. The outbox
knows this protocol, never the policies (they live in the apps above it: credits charges,
campaigns will add opt-out, consent, quiet hours and the frequency cap).

Before the gateway, in the listed order, each policy sees the batch of messages still on
their way and answers for those it stops — ``Hold`` (back to ``scheduled`` with a later
``send_at``) or ``Refuse`` (a final status) — with one query per batch, not per message.
A policy that costs something (the charge) goes last, so it sees only what will be sent.
After the gateway's answer, and after each delivery report, ``settle`` sees the outcomes
in reverse order (a refund, say).

A reason is a code plus parameters; the policy's ``reasons`` put it into words when a
merchant reads it, in the shop's language (smsnotify/history.py).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .models import Message, SmsSettings, Status


@dataclass(frozen=True, slots=True)
class Hold:
    """Not now: try again at ``until``."""

    until: dt.datetime
    code: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Refuse:
    """Never: the message ends in ``status`` (cancelled, suppressed, failed)."""

    status: str
    code: str
    params: dict = field(default_factory=dict)


@dataclass(slots=True)
class DeliveryBatch:
    """The messages of one delivery run that are still on their way, with what policies need."""

    messages: list[Message]  # claimed ("sending"), each with its shop loaded
    sms_settings: dict[int, SmsSettings]  # by shop id
    gateway: object = None  # the BaseGateway this run sends through


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a message the gateway was asked to send."""

    message: Message
    status: str  # the status it moved to
    billed: bool  # False when the provider did not bill it (refused, retried later, reported failed)
    summary: str  # one line saying why, for the ledger
    opted_out: bool = False  # the provider refused it because the recipient opted out with the provider


class DeliveryPolicy:
    """Base class: override what the policy needs."""

    reasons: dict = {}  # code → lazy text with %(param)s placeholders

    def before_send(self, batch: DeliveryBatch) -> dict[int, Hold | Refuse]:
        return {}

    def settle(self, outcomes: list[Outcome]) -> None:
        pass


class SmsSwitchedOff(DeliveryPolicy):
    """Nothing leaves a shop whose merchant switched SMS off (also for texts already due)."""

    reasons = {"sms_inactive": _("Not sent: SMS is switched off for this shop.")}

    def before_send(self, batch):
        return {
            message.pk: Refuse(status=Status.CANCELLED, code="sms_inactive")
            for message in batch.messages
            if not getattr(batch.sms_settings.get(message.shop_id), "active", False)
        }


@functools.cache
def delivery_policies() -> tuple[DeliveryPolicy, ...]:
    return tuple(import_string(path)() for path in settings.SMS_DELIVERY_POLICIES)


@receiver(setting_changed, dispatch_uid="smsnotify.policies.reload")
def _reload(*, setting, **kwargs):
    if setting == "SMS_DELIVERY_POLICIES":
        delivery_policies.cache_clear()


def policy_reasons() -> dict:
    """Every policy's reason texts by code."""
    reasons = {}
    for policy in delivery_policies():
        reasons.update(policy.reasons)
    return reasons
