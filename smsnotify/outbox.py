"""The outbox: every SMS is a Message row first; workers only deliver rows that are due.

Life of a message (each arrow is a conditional UPDATE plus a typed MessageEvent row):

    scheduled ──dispatch──► queued ──a delivery run claims──► sending ──gateway──► sent ──report──► delivered
        │  ▲                                                    │  │  │                  └──────► undelivered / failed
        │  ├──── a policy holds it: send_at = later ────────────┤  │  └─ permanent error ─► failed
        │  └──── transient error: send_at = now + backoff ──────┘  └─ ambiguous error / lease ─► unknown
        └─ cancel / a policy refuses it ─► cancelled, suppressed, failed

This module writes messages and hands due ones to the workers; smsnotify/delivery.py
delivers them and smsnotify/aftercare.py follows them up (stuck rows, reconciliation,
delivery reports).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.models import Shop

from .encoding import segment_info, transliterate
from .history import iso
from .models import EventType, Message, MessageEvent, SmsSettings, Status
from .phones import InvalidPhoneNumber, to_e164
from .selectors import sms_settings_for
from .transitions import message_transition, messages_transition

log = logging.getLogger(__name__)


# Statuses of a message that never reached anyone: its dedupe key may be taken by a new try.
NEVER_REACHED = frozenset({Status.CANCELLED, Status.FAILED, Status.SUPPRESSED})


def _ring(pks: list[int]) -> None:
    """Enqueue delivery. The broker is only a doorbell: if it is down, beat rings again."""
    from .tasks import deliver

    for start in range(0, len(pks), settings.SMS_DISPATCH_BATCH):
        try:
            deliver.delay(pks[start : start + settings.SMS_DISPATCH_BATCH])
        except Exception:  # noqa: BLE001 - any broker failure; the rows stay due in the database
            log.warning("Could not enqueue delivery of %s; dispatch will retry.", pks, exc_info=True)
            return


# --- scheduling ----------------------------------------------------------------------------


def message_schedule(
    *,
    shop: Shop,
    to,
    body: str,
    kind: str,
    send_at: dt.datetime | None = None,
    dedupe_key: str | None = None,
    customer=None,
    order=None,
    cart=None,
    product=None,
    user=None,
    ring: bool = True,
) -> Message:
    """Write a Message in the caller's transaction and return it; ``user`` is who wrote it
    (None for the system), kept in its history. A text due now rings the workers when the
    transaction commits; a caller writing many at once passes ``ring=False`` and rings them
    together (``messages_ring``), a batch per task instead of a task per text.

    Idempotent by ``dedupe_key``: the same key for the same shop returns the existing row,
    unless that one never reached anyone (cancelled, failed, suppressed): then it keeps its
    history without the key and a new message takes it (an order shipped while SMS was off is
    texted when it ships again with SMS on).
    Raises ``InvalidPhoneNumber`` (a ValidationError) for a recipient that is not a valid
    number and ``ValidationError`` for an empty body; nothing is written then.
    """
    recipient = to_e164(to, region=shop.country)
    if not body or not body.strip():
        raise ValidationError(_("The message is empty."), code="empty_body")
    if dedupe_key:
        existing = Message.objects.filter(shop=shop, dedupe_key=dedupe_key).first()
        if existing and existing.status not in NEVER_REACHED:
            return existing
        if existing:
            Message.objects.filter(pk=existing.pk).update(dedupe_key=None)

    now = timezone.now()
    sms_settings = sms_settings_for(shop)
    active = sms_settings.active
    body = sendable_text(sms_settings, body)
    info = segment_info(body)
    message = Message(
        shop=shop,
        kind=kind,
        recipient=recipient,
        body=body,
        encoding=info.encoding,
        segments=info.segments,
        dedupe_key=dedupe_key or None,
        send_at=send_at or now,
        customer=customer,
        order=order,
        cart=cart,
        product=product,
        status=Status.SCHEDULED if active else Status.CANCELLED,
        error_code="" if active else "sms_inactive",
        error_text="" if active else "SMS is switched off for this shop.",
        created_at=now,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        if dedupe_key:  # a concurrent caller wrote the same key first
            return Message.objects.get(shop=shop, dedupe_key=dedupe_key)
        raise
    if active:
        params = {"send_at": iso(message.send_at)} if message.send_at > now else {}
        event = MessageEvent(message=message, type=EventType.SCHEDULED, status=message.status, parameters=params)
    else:
        event = MessageEvent(message=message, type=EventType.STOPPED, status=message.status,
                             parameters={"reason": "sms_inactive"})
    if user is not None:
        event.user, event.parameters["user"] = user, user.get_username()
    event.created_at = now
    event.save()
    if ring and active and message.send_at <= now:
        messages_ring(message_ids=[message.pk])
    return message


@dataclass(frozen=True)
class Outgoing:
    """One text of a batch written by ``messages_schedule_many``."""

    to: object
    body: str
    dedupe_key: str
    customer: object = None
    order: object = None
    cart: object = None
    product: object = None


def messages_schedule_many(*, shop: Shop, kind: str, texts: Sequence[Outgoing]) -> list[Message | None]:
    """Write many automatic texts of one kind in the caller's transaction, by the rules of
    ``message_schedule``, set-based: one read of the dedupe keys already taken, one INSERT of
    the messages and one of their history per call, one doorbell on commit. A store event that
    texts thousands (a product back in stock) costs a few queries, not thousands.

    Returns, for each text in order, its message: the new one, the one already holding its key
    (if that one reached anyone), or None when the text could not be written (a recipient that
    is not a valid number, an empty body: logged; the others are written). Keys must differ.
    """
    keys = [text.dedupe_key for text in texts]
    if not all(keys) or len(set(keys)) != len(keys):
        raise ValueError("Each text of a batch needs its own dedupe key.")
    now = timezone.now()
    sms_settings = sms_settings_for(shop)
    active = sms_settings.active
    held = {message.dedupe_key: message for message in Message.objects.filter(shop=shop, dedupe_key__in=keys)}
    # Like message_schedule: a key whose message never reached anyone is free for a new try.
    Message.objects.filter(pk__in=[m.pk for m in held.values() if m.status in NEVER_REACHED]).update(dedupe_key=None)
    results: list[Message | None] = [None] * len(texts)
    fresh: list[tuple[int, Message]] = []
    for index, text in enumerate(texts):
        earlier = held.get(text.dedupe_key)
        if earlier is not None and earlier.status not in NEVER_REACHED:
            results[index] = earlier
            continue
        try:
            recipient = to_e164(text.to, region=shop.country)
        except InvalidPhoneNumber:
            log.warning("Invalid phone %r for %s; no SMS scheduled.", str(text.to), text.dedupe_key)
            continue
        if not text.body or not text.body.strip():
            log.warning("Empty text for %s; no SMS scheduled.", text.dedupe_key)
            continue
        body = sendable_text(sms_settings, text.body)
        info = segment_info(body)
        fresh.append((index, Message(
            shop=shop, kind=kind, recipient=recipient, body=body, encoding=info.encoding, segments=info.segments,
            dedupe_key=text.dedupe_key, send_at=now, customer=text.customer, order=text.order, cart=text.cart,
            product=text.product, status=Status.SCHEDULED if active else Status.CANCELLED,
            error_code="" if active else "sms_inactive",
            error_text="" if active else "SMS is switched off for this shop.", created_at=now,
        )))
    if not fresh:
        return results
    try:
        with transaction.atomic():
            Message.objects.bulk_create([message for _index, message in fresh])
    except IntegrityError:
        # A concurrent writer took one of the keys meanwhile: one by one, each settling its own race.
        for index, _message in fresh:
            text = texts[index]
            results[index] = message_schedule(shop=shop, to=text.to, body=text.body, kind=kind,
                                              dedupe_key=text.dedupe_key, customer=text.customer, order=text.order,
                                              cart=text.cart, product=text.product)
        return results
    if active:
        event_type, params = EventType.SCHEDULED, {}
    else:
        event_type, params = EventType.STOPPED, {"reason": "sms_inactive"}
    MessageEvent.objects.bulk_create([
        MessageEvent(message=message, type=event_type, status=message.status, parameters=dict(params), created_at=now)
        for _index, message in fresh
    ])
    for index, message in fresh:
        results[index] = message
    if active:
        messages_ring(message_ids=[message.pk for _index, message in fresh])
    return results


def messages_ring(*, message_ids: list[int]) -> None:
    """Hand these messages to the workers once the caller's transaction commits (delivery claims
    what is still due, so ringing one that was cancelled meanwhile is harmless)."""
    if message_ids:
        transaction.on_commit(functools.partial(_ring, list(message_ids)))


def sendable_text(sms_settings: SmsSettings, body: str) -> str:
    """The text as it will really be sent (and counted and priced): the shop's
    "replace special characters" option applied. Estimates call this too, so they agree."""
    return transliterate(body) if sms_settings.replace_special_characters else body


def message_cancel(*, message: Message, user=None) -> bool:
    """Cancel a message that has not been handed to the gateway yet."""
    params = {"user": user.get_username()} if user is not None else {}
    return message_transition(
        message.pk, from_statuses=[Status.SCHEDULED, Status.QUEUED], status=Status.CANCELLED,
        event=EventType.CANCELLED, params=params, user=user, error_code="cancelled", error_text="Cancelled.",
    )


def message_send_again(*, message: Message, user=None) -> bool:
    """The merchant's decision to resend a message that failed or whose fate is unknown: a new
    round of attempts. An *undelivered* one was billed by the provider and is paid again; a
    failed one was refunded; an *unknown* one keeps its charge, which pays for the resend (it
    may never have left)."""
    params = {"user": user.get_username()} if user is not None else {}
    moved = message_transition(
        message.pk, from_statuses=[Status.UNKNOWN, Status.FAILED, Status.UNDELIVERED], status=Status.SCHEDULED,
        event=EventType.SEND_AGAIN, params=params, user=user, send_at=timezone.now(), attempts=0,
        error_code="", error_text="", provider_id="",
        credits_charged=Case(When(status=Status.UNDELIVERED, then=Value(0)), default=F("credits_charged"),
                             output_field=Message._meta.get_field("credits_charged")),
    )
    if moved:
        messages_ring(message_ids=[message.pk])
    return moved


# --- dispatching -----------------------------------------------------------------------------


def messages_dispatch_due(*, chunk: int = 1000) -> int:
    """Claim due messages (scheduled → queued) and ring the workers. Returns how many.

    Claims ``chunk`` rows per transaction, again and again, until none are due or
    SMS_DISPATCH_MAX_QUEUED wait for a worker: a backlog drains at the workers' pace (not one
    chunk per beat interval) and waits in the database, not in the broker."""
    now = timezone.now()
    _expire_overdue(now)
    _ring_lost_doorbells(now)
    room = settings.SMS_DISPATCH_MAX_QUEUED - Message.objects.filter(status=Status.QUEUED).count()
    total = 0
    while total < room:
        chunk = min(chunk, room - total)
        with transaction.atomic():
            due = Message.objects.filter(status=Status.SCHEDULED, send_at__lte=now).order_by("send_at")
            if connection.features.has_select_for_update_skip_locked:
                # Two beat processes (or a slow run overlapping the next) split the rows between them.
                due = due.select_for_update(skip_locked=True)
            pks = list(due.values_list("pk", flat=True)[:chunk])
            # No event: "queued" only means the doorbell rang, which says nothing to a merchant.
            Message.objects.filter(pk__in=pks, status=Status.SCHEDULED).update(
                status=Status.QUEUED, queued_at=now, updated_at=now)
            if pks:
                messages_ring(message_ids=pks)
        total += len(pks)
        if len(pks) < chunk:
            break
    return total


def _expire_overdue(now: dt.datetime) -> None:
    """A message far past its time (workers were down for days) is not worth sending late."""
    cutoff = now - dt.timedelta(hours=settings.SMS_LATE_CUTOFF_HOURS)
    hours = settings.SMS_LATE_CUTOFF_HOURS
    for status in (Status.SCHEDULED, Status.QUEUED):
        with transaction.atomic():
            late = Message.objects.filter(status=status, send_at__lt=cutoff)
            if connection.features.has_select_for_update_skip_locked:
                late = late.select_for_update(skip_locked=True)
            pks = list(late.values_list("pk", flat=True)[:1000])
            messages_transition(pks, from_statuses=[status], status=Status.FAILED, event=EventType.EXPIRED,
                                params={"hours": hours}, error_code="expired",
                                error_text=f"Not sent: more than {hours} hours late.")


def _ring_lost_doorbells(now: dt.datetime) -> None:
    """Queued rows whose task never ran (broker restarted, enqueue failed) are rung again.

    Safe because delivery claims each row (queued → sending) before calling the gateway.
    """
    stale = now - dt.timedelta(seconds=settings.SMS_QUEUED_LEASE_SECONDS)
    with transaction.atomic():
        lost = Message.objects.filter(status=Status.QUEUED, queued_at__lt=stale)
        if connection.features.has_select_for_update_skip_locked:
            lost = lost.select_for_update(skip_locked=True)
        pks = list(lost.values_list("pk", flat=True)[:1000])
        if pks:
            Message.objects.filter(pk__in=pks, status=Status.QUEUED).update(queued_at=now)
            messages_ring(message_ids=pks)
