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
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from shop.models import Shop

from .encoding import segment_info, transliterate
from .history import iso
from . import pacing, pg_outbox
from .links import links_on, links_shorten
from .models import LANES, EventType, Lane, Message, MessageEvent, ShortLink, SmsSettings, Status, lane_of
from .phones import E164, InvalidPhoneNumber, to_e164
from .selectors import sms_settings_for
from .transitions import message_transition, messages_transition

log = logging.getLogger(__name__)


# Statuses of a message that never reached anyone: its dedupe key may be taken by a new try.
NEVER_REACHED = frozenset({Status.CANCELLED, Status.FAILED, Status.SUPPRESSED})

# Due rows dispatch claims per transaction: short transactions, however long the backlog.
CLAIM_CHUNK = 1000


def delivery_queue(lane: str) -> str:
    """The Celery queue whose workers deliver ``lane``'s messages."""
    return f"sms.{lane}"


def _ring(pks: list[int], lane: str) -> None:
    """Enqueue delivery in ``lane``'s queue. The broker is only a doorbell: if it is down, beat rings again."""
    from .tasks import deliver

    for start in range(0, len(pks), settings.SMS_DISPATCH_BATCH):
        try:
            batch = pks[start : start + settings.SMS_DISPATCH_BATCH]
            # argsrepr: Celery would otherwise build a safe repr of every id list it sends.
            deliver.apply_async((batch,), queue=delivery_queue(lane), argsrepr=f"({len(batch)} message ids)")
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
    links: list[tuple[str, str]] = []
    body = sendable_text(sms_settings, body, links=links)
    info = segment_info(body)
    message = Message(
        shop=shop,
        kind=kind,
        lane=lane_of(kind),
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
    _insert_links(shop.pk, [(message.pk, code, url) for code, url in links])
    if ring and active and message.send_at <= now:
        messages_ring(message_ids=[message.pk], lane=message.lane)
    return message


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """One text of many written at once (``messages_schedule_many``), already rendered for its recipient."""

    to: str
    body: str
    dedupe_key: str
    send_at: dt.datetime | None = None
    customer_id: int | None = None
    order_id: int | None = None
    cart_id: int | None = None
    product_id: int | None = None




def messages_schedule_many(*, shop: Shop, kind: str, rows: Iterable[PreparedMessage], batch_ref: str | None = None,
                           send_at: dt.datetime | None = None, user=None, numbers_checked: bool = False,
                           ring: bool = False) -> dict[str, int]:
    """Write many messages of one shop at once (a campaign scan's chunk, a bulk send's chunk) in
    the caller's transaction, under message_schedule's rules: numbers validated (an invalid one is
    skipped and logged; with ``numbers_checked`` an E.164 number is taken as it is), an empty text
    skipped, the shop's "replace special characters" applied, parts counted on the text as sent,
    and with SMS switched off they are written cancelled with the reason. Each row is due at its
    own ``send_at``, else at ``send_at``, else now; ``user`` is who wrote them (kept in their history).

    Unlike message_schedule, a key already taken is skipped *whatever its status*: a repeated or
    concurrent scan, or a bulk chunk run again after a crash, writes nothing twice. Returns
    {dedupe key: id} of the rows this call wrote.

    ``ring``: hand the due ones to their lane's workers on commit (a bulk send). A scan does not:
    beat's dispatch takes its thousands of texts at the pace the queue allows."""
    now = timezone.now()
    sms_settings = sms_settings_for(shop)
    active = sms_settings.active
    lane = lane_of(kind)
    prepared: dict[str, tuple] = {}  # key → (recipient, body, encoding, segments, send_at, customer, order, cart, product)
    links: dict[str, list[tuple[str, str]]] = {}  # key → its short links (code, address), for texts that have any
    for row in rows:
        if row.dedupe_key in prepared or not row.body or not row.body.strip():
            continue
        # A caller that validated its numbers (a bulk send's freeze) spares 100,000 more checks.
        recipient = row.to if numbers_checked and E164.fullmatch(row.to or "") else None
        if recipient is None:
            try:
                recipient = to_e164(row.to, region=shop.country)
            except InvalidPhoneNumber:
                log.warning("Invalid phone %r for %s; no SMS scheduled.", str(row.to), row.dedupe_key)
                continue
        its_links: list[tuple[str, str]] = []
        body = sendable_text(sms_settings, row.body, links=its_links)
        if its_links:
            links[row.dedupe_key] = its_links
        info = segment_info(body)
        prepared[row.dedupe_key] = (recipient, body, info.encoding, info.segments, row.send_at or send_at or now,
                                    row.customer_id, row.order_id, row.cart_id, row.product_id)
    if not prepared:
        return {}
    common = dict(shop_id=shop.pk, kind=kind, lane=lane, batch_ref=batch_ref,
                  status=Status.SCHEDULED if active else Status.CANCELLED,
                  error_code="" if active else "sms_inactive",
                  error_text="" if active else "SMS is switched off for this shop.", created_at=now, updated_at=now)
    if connection.vendor == "postgresql":
        written = pg_outbox.messages_insert(prepared, common)
    else:
        written = _insert_many_orm(prepared, common)
    who = {"user": user.get_username()} if user is not None else {}
    if active:
        params = lambda key: {"send_at": iso(prepared[key][4]), **who} if prepared[key][4] > now else who  # noqa: E731
        event_type = EventType.SCHEDULED
    else:
        params, event_type = lambda key: {"reason": "sms_inactive", **who}, EventType.STOPPED  # noqa: E731
    _insert_events([(pk, params(key)) for key, pk in written.items()], type=event_type, status=common["status"],
                   user=user, created_at=now)
    if links:
        _insert_links(shop.pk, [(pk, code, url) for key, pk in written.items() for code, url in links.get(key, ())])
    if ring and active:
        messages_ring(message_ids=[pk for key, pk in written.items() if prepared[key][4] <= now], lane=lane)
    return written


def _insert_many_orm(prepared: dict[str, tuple], common: dict) -> dict[str, int]:
    """Without RETURNING for only the rows written: the keys already taken are left out first;
    ignore_conflicts skips those a concurrent writer takes meanwhile, and the rows this call
    wrote are those of its keys stamped with its moment (the other writer's has its own)."""
    mine = Message.objects.filter(shop_id=common["shop_id"], dedupe_key__in=list(prepared))
    taken = set(mine.values_list("dedupe_key", flat=True))
    Message.objects.bulk_create([
        Message(recipient=recipient, body=body, encoding=encoding, segments=segments, send_at=due,
                customer_id=customer_id, order_id=order_id, cart_id=cart_id, product_id=product_id, dedupe_key=key,
                **common)
        for key, (recipient, body, encoding, segments, due, customer_id, order_id, cart_id, product_id)
        in prepared.items() if key not in taken], ignore_conflicts=True)
    return dict(mine.exclude(dedupe_key__in=taken).filter(created_at=common["created_at"])
                .values_list("dedupe_key", "pk"))


def _insert_events(events: list[tuple[int, dict]], *, type: str, status: str, user, created_at: dt.datetime) -> None:
    """One event of ``type`` per (message id, parameters), with one INSERT."""
    if not events:
        return
    if connection.vendor == "postgresql":
        pg_outbox.events_insert(events, type=type, status=status, user=user, created_at=created_at)
        return
    MessageEvent.objects.bulk_create([
        MessageEvent(message_id=pk, type=type, status=status, parameters=params, user=user, created_at=created_at)
        for pk, params in events])


def _insert_links(shop_id: int, links: list[tuple[int, str, str]]) -> None:
    """The short links of written messages, each (message id, code, address), with one INSERT."""
    if not links:
        return
    if connection.vendor == "postgresql":
        pg_outbox.links_insert(shop_id, links, created_at=timezone.now())
        return
    ShortLink.objects.bulk_create([ShortLink(shop_id=shop_id, message_id=message_id, code=code, url=url)
                                   for message_id, code, url in links])


def messages_ring(*, message_ids: list[int], lane: str | None = None) -> None:
    """Hand these messages to their lanes' workers once the caller's transaction commits (delivery
    claims what is still due, so ringing one that was cancelled meanwhile is harmless). Without
    ``lane``, each message's own is read (one query)."""
    if not message_ids or (lane == Lane.MARKETING and pacing.marketing_paced()):
        return  # dispatch releases marketing texts at their senders' pace (pacing.marketing_release)
    if lane is not None:
        by_lane = {lane: list(message_ids)}
    else:
        by_lane = defaultdict(list)
        for pk, its_lane in Message.objects.filter(pk__in=message_ids).values_list("pk", "lane"):
            by_lane[its_lane].append(pk)
    for its_lane, pks in by_lane.items():
        if its_lane == Lane.MARKETING and pacing.marketing_paced():
            continue
        transaction.on_commit(functools.partial(_ring, pks, its_lane))


def sendable_text(sms_settings: SmsSettings, body: str, *, links: list[tuple[str, str]] | None = None) -> str:
    """The text as it will really be sent (and counted and priced): its web addresses shortened
    (when the shop shortens them; smsnotify/links.py) and the shop's "replace special
    characters" option applied. Estimates call this too, so they agree: without ``links`` each
    address gets a placeholder code of the real codes' length; the outbox passes ``links`` and
    gets each new (code, address) appended. Shortened first, so an address is kept as written."""
    if "://" in body and links_on(sms_settings):  # the test first: a bulk send's 100,000 texts mostly have none
        body = links_shorten(body, links=links)
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
        messages_ring(message_ids=[message.pk], lane=message.lane)
    return moved


# --- dispatching -----------------------------------------------------------------------------


def messages_dispatch_due(*, chunk: int = CLAIM_CHUNK) -> int:
    """Claim due messages (scheduled → queued) and ring the workers, lane by lane. Returns how many.

    Each lane may have SMS_DISPATCH_MAX_QUEUED messages waiting for its workers: a marketing
    backlog fills the marketing lane only, and an order's text due now is still queued at once.
    Within a lane, ``chunk`` rows are claimed per transaction, again and again, until none are due
    or the lane is full: a backlog drains at the workers' pace (not one chunk per beat interval)
    and waits in the database, not in the broker."""
    now = timezone.now()
    _expire_overdue(now)
    _ring_lost_doorbells(now)
    queued = dict(Message.objects.filter(status=Status.QUEUED).values_list("lane").annotate(n=Count("pk")))
    return sum(_dispatch_lane(lane, now=now, chunk=chunk, room=settings.SMS_DISPATCH_MAX_QUEUED - queued.get(lane, 0))
               for lane in LANES)


def _dispatch_lane(lane: str, *, now: dt.datetime, chunk: int, room: int) -> int:
    if lane == Lane.MARKETING and pacing.marketing_paced():
        return _release_marketing(now=now, room=room)
    total = 0
    while total < room:
        chunk = min(chunk, room - total)
        with transaction.atomic():
            due = Message.objects.filter(status=Status.SCHEDULED, lane=lane, send_at__lte=now).order_by("send_at")
            if connection.features.has_select_for_update_skip_locked:
                # Two beat processes (or a slow run overlapping the next) split the rows between them.
                due = due.select_for_update(skip_locked=True)
            pks = list(due.values_list("pk", flat=True)[:chunk])
            # No event: "queued" only means the doorbell rang, which says nothing to a merchant.
            Message.objects.filter(pk__in=pks, status=Status.SCHEDULED).update(
                status=Status.QUEUED, queued_at=now, updated_at=now)
            if pks:
                messages_ring(message_ids=pks, lane=lane)
        total += len(pks)
        if len(pks) < chunk:
            break
    return total


def _release_marketing(*, now: dt.datetime, room: int) -> int:
    """Claim and ring each shop's due marketing texts, no more than its sender's pace allows
    until the next dispatch run (pacing.marketing_release); oldest first."""
    due = Message.objects.filter(status=Status.SCHEDULED, lane=Lane.MARKETING, send_at__lte=now)
    shop_ids = list(due.order_by().values_list("shop_id", flat=True).distinct())
    total = 0
    for shop_id, parts in pacing.marketing_release(shop_ids=shop_ids).items():
        if total >= room:
            break
        with transaction.atomic():
            rows = due.filter(shop_id=shop_id).order_by("send_at")
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            pks, used = [], 0
            for pk, segments in rows.values_list("pk", "segments")[:min(parts, room - total)]:
                if pks and used + segments > parts:
                    break
                pks.append(pk)
                used += segments
            Message.objects.filter(pk__in=pks, status=Status.SCHEDULED).update(
                status=Status.QUEUED, queued_at=now, updated_at=now)
            if pks:
                transaction.on_commit(functools.partial(_ring, pks, Lane.MARKETING))
        total += len(pks)
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
        by_lane = defaultdict(list)
        for pk, lane in lost.values_list("pk", "lane")[:1000]:
            by_lane[lane].append(pk)
        for lane, pks in by_lane.items():  # released already (marketing too): rung again as they are
            Message.objects.filter(pk__in=pks, status=Status.QUEUED).update(queued_at=now)
            transaction.on_commit(functools.partial(_ring, pks, lane))
