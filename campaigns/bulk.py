"""Bulk sends: one text to many customers (ticked on the customer or order list, or "all N matching").

1. **Plan** (``bulk_plan``, read only): who really gets it and who is left out, by reason
   (invalid number, opted out, no marketing consent for a promotional text, the same number
   twice), the text as sent to the first few, and the exact cost (``sms_estimate`` of each
   recipient's own rendered text). The selection is read in chunks, never all at once.
2. **Confirm** (``bulk_send_create``, one transaction): the recipients are frozen as
   ``BulkRecipient`` rows (``bulk_create`` per chunk) and the whole cost is held in the
   ledger (``credits.ledger.credits_hold``); a balance that cannot cover it rolls everything
   back, so nothing is written. The fan-out task is enqueued once this commits.
3. **Fan-out** (``bulk_fan_out``, a Celery task): chunk by chunk, the texts rendered when it
   was confirmed are written at once (``outbox.messages_schedule_many``, each keyed
   ``bulk:<id>:customer:<id>``) and rung to the lane of the bulk's kind. It checks
   the bulk's status under its row lock before each chunk, so a cancel stops it, and goes on
   from its cursor after a crash (the dedupe keys make a re-run write nothing twice).
4. **Finish / cancel**: once nothing is waiting, or when the merchant cancels (whatever has
   not left is cancelled), what the hold did not pay is released in one ledger row.

Delivery does the rest as for any message: the opt-out, consent, quiet-hours and cap policies
at send time (promotional texts are ``Kind.BULK``, in the marketing lane; service texts
``Kind.BULK_SERVICE``, in the service lane), and the charge, taken from the hold.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Count, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from credits.estimate import sms_estimate
from credits.ledger import InsufficientCredits, credits_hold, hold_release
from credits.models import CreditHold
from credits.selectors import credit_balance, send_block
from shop.models import MarketingConsent, Order, Shop
from shop.money import format_number
from smsnotify import outbox
from smsnotify.models import EventType, Message, MessageEvent, Status
from smsnotify.outbox import PreparedMessage
from smsnotify.policies import DeliveryPolicy, Outcome
from smsnotify.pg_arrays import execute_binary
from smsnotify.phones import InvalidPhoneNumber, to_e164
from smsnotify.selectors import sms_settings_for
from smsnotify.transitions import messages_transition
from templates_sms import rendering
from templates_sms.tokens import RenderContext

from .models import BulkRecipient, BulkSend, OptOut
from .sending import SendBlocked

CHUNK = 1000
WRITERS = 2  # fan-out chunks written at once on PostgreSQL (see bulk_fan_out)
FAN_OUT_LOCK = 7301  # the advisory locks' first key: one run writes a bulk send at a time
PREVIEWS = 3

# Why a selected customer is left out (codes stored in BulkSend.excluded; words shown).
LEFT_OUT = {
    "invalid_number": gettext_lazy("no valid phone number"),
    "opted_out": gettext_lazy("opted out (STOP)"),
    "no_consent": gettext_lazy("no marketing consent"),
    "duplicate": gettext_lazy("same number as another selected customer"),
    "empty_text": gettext_lazy("the text is empty for them"),
}
WAITING = (Status.SCHEDULED, Status.QUEUED, Status.SENDING)
PACED = "paced"  # smsnotify.pacing.SenderPacing's hold: the sender's rate is used up for now


def left_out(excluded: dict[str, int]) -> list[tuple[str, int]]:
    """(reason in words, how many), in a stable order."""
    return [(str(LEFT_OUT[code]), excluded[code]) for code in LEFT_OUT if excluded.get(code)]


@dataclass(frozen=True)
class PreviewRow:
    name: str
    number: str
    text: str
    segments: int
    credits: int


@dataclass
class BulkPlan:
    """Who a bulk send reaches, who it leaves out and why, and what it costs."""

    purpose: str
    max_segments: int
    balance: int = 0
    count: int = 0
    credits: int = 0
    segments: int = 0  # the most parts any one recipient's text takes
    too_long: int = 0  # recipients whose text takes more parts than the shop allows
    excluded: dict[str, int] = field(default_factory=dict)
    previews: list[PreviewRow] = field(default_factory=list)

    @property
    def affordable(self) -> bool:
        return self.credits <= self.balance

    @property
    def selected(self) -> int:
        return self.count + sum(self.excluded.values())

    @property
    def left_out(self) -> list[tuple[str, int]]:
        return left_out(self.excluded)

    def leave_out(self, code: str) -> None:
        self.excluded[code] = self.excluded.get(code, 0) + 1


@dataclass(frozen=True, slots=True)
class _Recipient:
    customer_id: int | None
    order_id: int | None
    number: str
    text: str  # as rendered for them


def _chunks(queryset: QuerySet) -> Iterator[list]:
    """The selection in primary-key order, CHUNK rows at a time (keyset: no OFFSET, no big list)."""
    queryset = queryset.order_by("pk")
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last)[:CHUNK])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def _selection(shop: Shop, selection: QuerySet) -> QuerySet:
    """Only the shop's own rows, whatever was posted. The phone comes as the stored text
    (``raw_phone``), not as a PhoneNumber: loading one parses the number, and to_e164 parses
    it again; with 100,000 customers that second parse is seconds."""
    selection = selection.filter(shop=shop).annotate(raw_phone=Cast("phone", CharField()))
    if selection.model is Order:
        return selection.defer("phone").select_related("customer")
    # What the plan and the customer tokens read (a token reading another field loads it: correct, slower).
    return selection.only("pk", "shop_id", "first_name", "last_name", "email", "marketing_consent")


def _context(shop: Shop, row) -> RenderContext:
    if isinstance(row, Order):
        if row.customer is not None:
            row.customer.shop = shop
        row.shop = shop
        return RenderContext(shop=shop, order=row, customer=row.customer)
    row.shop = shop
    return RenderContext(shop=shop, customer=row)


def _plan_rows(*, shop: Shop, selection: QuerySet, body: str, purpose: str, plan: BulkPlan,
               event: str) -> Iterator[_Recipient]:
    """Walk the selection, counting into ``plan``; yield each recipient who will get the text."""
    sms_settings = sms_settings_for(shop)
    renderable = bool(body.strip()) and not rendering.token_errors(body, event=event)
    promotional = purpose == BulkSend.Purpose.PROMOTIONAL
    seen: set[str] = set()  # numbers only (strings): the one thing kept across chunks
    for rows in _chunks(_selection(shop, selection)):
        numbers = {}
        for row in rows:
            try:
                numbers[row.pk] = to_e164(row.raw_phone, region=shop.country) if row.raw_phone else None
            except InvalidPhoneNumber:
                numbers[row.pk] = None
        opted_out = set(OptOut.objects.filter(shop=shop, phone__in=[n for n in numbers.values() if n])
                        .values_list("phone", flat=True))
        for row in rows:
            customer = row.customer if isinstance(row, Order) else row
            number = numbers[row.pk]
            if number is None:
                plan.leave_out("invalid_number")
                continue
            if number in opted_out:
                plan.leave_out("opted_out")
                continue
            if promotional and (customer is None or customer.marketing_consent != MarketingConsent.GRANTED):
                plan.leave_out("no_consent")
                continue
            if number in seen:
                plan.leave_out("duplicate")
                continue
            text = rendering.render(body, _context(shop, row), event=event).strip() if renderable else ""
            if renderable and not text:
                plan.leave_out("empty_text")
                continue
            seen.add(number)
            estimate = sms_estimate(shop=shop, text=text, recipient=number, sms_settings=sms_settings)
            plan.count += 1
            plan.credits += estimate.credits
            plan.segments = max(plan.segments, estimate.segments)
            if estimate.segments > plan.max_segments:
                plan.too_long += 1
            if len(plan.previews) < PREVIEWS:
                name = str(customer) if customer is not None else number
                plan.previews.append(PreviewRow(name=name, number=number, text=estimate.text,
                                                segments=estimate.segments, credits=estimate.credits))
            yield _Recipient(customer_id=customer.pk if customer is not None else None,
                             order_id=row.pk if isinstance(row, Order) else None, number=number, text=text)


def bulk_event(selection: QuerySet) -> str:
    """Whose tokens the text may use: a selection of orders offers the orders' tokens too."""
    source = BulkSend.Source.ORDERS if selection.model is Order else BulkSend.Source.CUSTOMERS
    return BulkSend(source=source).event


def bulk_plan(*, shop: Shop, selection: QuerySet, body: str,
              purpose: str = BulkSend.Purpose.PROMOTIONAL) -> BulkPlan:
    """What sending ``body`` to ``selection`` (customers or orders) would do; writes nothing."""
    plan = BulkPlan(purpose=purpose, max_segments=sms_settings_for(shop).max_segments, balance=credit_balance(shop))
    with translation.override(shop.language):  # once, rather than once per text rendered
        for _recipient in _plan_rows(shop=shop, selection=selection, body=body, purpose=purpose, plan=plan,
                                     event=bulk_event(selection)):
            pass
    return plan


def _checked_key(key: str) -> str:
    try:
        return uuid.UUID(hex=key).hex
    except (TypeError, ValueError):
        raise ValidationError(_("This form has expired; open it again."), code="bad_key") from None


def _too_long_error(plan: BulkPlan) -> ValidationError:
    return ValidationError({"body": [ngettext(
        "For %(count)d customer the text takes up to %(segments)d SMS; your shop allows %(max)d parts. "
        "Shorten the text or raise the limit in your SMS settings.",
        "For %(count)d customers the text takes up to %(segments)d SMS; your shop allows %(max)d parts. "
        "Shorten the text or raise the limit in your SMS settings.",
        plan.too_long) % {"count": plan.too_long, "segments": plan.segments, "max": plan.max_segments}]},
        code="too_many_segments")


@transaction.atomic
def bulk_send_create(*, shop: Shop, selection: QuerySet, body: str, send_key: str,
                     purpose: str = BulkSend.Purpose.PROMOTIONAL, send_at: dt.datetime | None = None,
                     user=None) -> BulkSend:
    """Confirm a bulk send: freeze its recipients, hold its credits, start the fan-out once this
    commits. All or nothing: refused (a ValidationError, nothing written) when the shop cannot
    send, the text is empty or has an unknown token, nobody can be texted, a text is longer
    than the shop allows, or the balance cannot cover the whole send. The same form key
    returns the bulk send it made (a double click sends once)."""
    block = send_block(shop)
    if block is not None:
        raise SendBlocked(str(block), code="blocked")
    key = _checked_key(send_key)
    existing = BulkSend.objects.filter(shop=shop, send_key=key).first()
    if existing is not None:
        return existing
    if purpose not in BulkSend.Purpose.values:
        raise ValidationError(_("Choose whether the text is promotional or a service text."), code="bad_purpose")
    if not body or not body.strip():
        raise ValidationError({"body": [_("The message is empty.")]}, code="empty_body")
    source = BulkSend.Source.ORDERS if selection.model is Order else BulkSend.Source.CUSTOMERS
    bulk = BulkSend(shop=shop, purpose=purpose, source=source, body=body, send_key=key, created_by=user,
                    send_at=send_at if send_at and send_at > timezone.now() else None)
    rendering.validate(body, event=bulk.event)
    try:
        with transaction.atomic():
            bulk.save()
    except IntegrityError:  # the same form posted twice at once: the other request made it
        return BulkSend.objects.get(shop=shop, send_key=key)
    plan = BulkPlan(purpose=purpose, max_segments=sms_settings_for(shop).max_segments)
    batch = []
    personal = rendering.TOKEN_RE.search(body) is not None  # else everyone gets the bulk's own text
    with translation.override(shop.language):  # once, rather than once per text rendered
        for recipient in _plan_rows(shop=shop, selection=selection, body=body, purpose=purpose, plan=plan,
                                    event=bulk.event):
            batch.append(recipient if personal else replace(recipient, text=""))
            if len(batch) >= CHUNK:
                _recipients_freeze(bulk, batch)
                batch = []
    _recipients_freeze(bulk, batch)
    _analyze_recipients(plan.count)
    if not plan.count:
        raise ValidationError(_("None of the selected customers can be texted."), code="no_recipients")
    if plan.too_long:
        raise _too_long_error(plan)
    with translation.override(shop.language):  # the ledger speaks the shop's language
        # Its own words, not "for %(bulk)s": Polish declines the name after "na" (wysyłkę masową).
        reason = _("Held for bulk send #%(id)s (%(count)s texts)") % {"id": bulk.pk, "count": format_number(plan.count)}
    try:
        credits_hold(shop=shop, amount=plan.credits, reference=bulk.batch_ref, user=user, reason=reason)
    except InsufficientCredits:
        raise SendBlocked(
            _("This send costs %(cost)s credits and the balance is %(balance)s. Buy credits or select fewer customers.")
            % {"cost": format_number(plan.credits), "balance": format_number(credit_balance(shop))},
            code="insufficient_credits") from None
    BulkSend.objects.filter(pk=bulk.pk).update(recipients=plan.count, excluded=plan.excluded, credits_held=plan.credits)
    bulk.refresh_from_db()
    transaction.on_commit(lambda: _enqueue_fan_out(bulk.pk), robust=True)
    return bulk


def _recipients_freeze(bulk: BulkSend, batch: list[_Recipient]) -> None:
    if not batch:
        return
    if connection.vendor != "postgresql":
        BulkRecipient.objects.bulk_create([BulkRecipient(bulk=bulk, customer_id=r.customer_id, order_id=r.order_id,
                                                         phone=r.number, text=r.text) for r in batch])
        return
    # 100,000 recipients: one statement per chunk fed with arrays, not 100,000 model instances.
    execute_binary(
        f"""INSERT INTO {BulkRecipient._meta.db_table} (bulk_id, customer_id, order_id, phone, text)
            SELECT %s, r.customer_id, r.order_id, r.phone, r.text
            FROM unnest(%b::bigint[], %b::bigint[], %b::varchar[], %b::text[]) AS r(customer_id, order_id, phone, text)""",
        [bulk.pk, [r.customer_id for r in batch], [r.order_id for r in batch], [r.number for r in batch],
         [r.text for r in batch]])


def _analyze_recipients(count: int) -> None:
    """After a large freeze, PostgreSQL's statistics still describe the table before it: without
    fresh ones the fan-out's reads (next chunk by id) sort all that is left, chunk after chunk."""
    if count >= 10 * CHUNK and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {BulkRecipient._meta.db_table}")


def _enqueue_fan_out(bulk_id: int) -> None:
    from .tasks import bulk_fan_out_task  # the task module imports this one

    bulk_fan_out_task.delay(bulk_id)


def bulk_sends_stalled(*, older_than: dt.timedelta = dt.timedelta(minutes=1)) -> list[int]:
    """Bulk sends still being written a while after they were confirmed: the broker lost the
    task, or its worker died. Beat's sweep enqueues them again (a fan-out goes on from its
    cursor; one still running keeps the others out)."""
    return list(BulkSend.objects.filter(status=BulkSend.State.FANNING_OUT,
                                        created_at__lt=timezone.now() - older_than).values_list("pk", flat=True))


# --- fan-out ---------------------------------------------------------------------------------------


def _fan_out_range(bulk: BulkSend, after: int, upto: int) -> bool:
    """Write the messages of the bulk's recipients ``after`` < pk <= ``upto`` in one transaction;
    False when the bulk send is no longer being written (cancelled meanwhile)."""
    with transaction.atomic():
        # A shared lock on the bulk's row: the chunks being written at once don't wait for each
        # other, and a cancel (an UPDATE of the row) waits for them to commit and then cancels
        # them too, or wins first and they stop. On SQLite the transaction itself is the lock.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT status FROM {BulkSend._meta.db_table} WHERE id = %s FOR SHARE", [bulk.pk])
                status = (cursor.fetchone() or [None])[0]
        else:
            status = BulkSend.objects.filter(pk=bulk.pk).values_list("status", flat=True).first()
        if status != BulkSend.State.FANNING_OUT:
            return False
        # Plain values, not models: the texts were rendered and the numbers checked when it was confirmed.
        rows = BulkRecipient.objects.filter(bulk=bulk, pk__gt=after, pk__lte=upto).order_by("pk").values_list(
            "customer_id", "order_id", "phone", "text")
        body = bulk.body.strip()
        outbox.messages_schedule_many(
            shop=bulk.shop, kind=bulk.kind, batch_ref=bulk.batch_ref, send_at=bulk.send_at, user=bulk.created_by,
            numbers_checked=True, ring=True,
            rows=[PreparedMessage(to=phone, body=text or body, customer_id=customer_id, order_id=order_id,
                                  dedupe_key=f"{bulk.batch_ref}:customer:{customer_id}" if customer_id
                                  else f"{bulk.batch_ref}:order:{order_id}")
                  for customer_id, order_id, phone, text in rows])
    return True


def _next_ranges(bulk: BulkSend, cursor: int, chunk: int, count: int) -> list[tuple[int, int]]:
    """Up to ``count`` ranges (after, upto] of ``chunk`` recipients each, following ``cursor``."""
    pks = list(BulkRecipient.objects.filter(bulk=bulk, pk__gt=cursor).order_by("pk")
               .values_list("pk", flat=True)[:chunk * count])
    ranges = []
    for start in range(0, len(pks), chunk):
        ranges.append((ranges[-1][1] if ranges else cursor, pks[min(start + chunk, len(pks)) - 1]))
    return ranges


def _close_connection(barrier: threading.Barrier) -> None:
    try:
        barrier.wait(timeout=30)  # each writer thread takes one of these: every thread closes its own
    except threading.BrokenBarrierError:
        pass
    connection.close()


@contextmanager
def _sole_writer(bulk_id: int) -> Iterator[bool]:
    """Whether this run is the only one writing the bulk send (PostgreSQL's advisory lock, let go
    when this ends or the worker's connection dies): beat's sweep may enqueue a fan-out still
    running, and two at once would do the same work twice over."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [FAN_OUT_LOCK, bulk_id])
        alone = cursor.fetchone()[0]
    try:
        yield alone
    finally:
        if alone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [FAN_OUT_LOCK, bulk_id])


def _write_rounds(bulk: BulkSend, chunk: int, writers: int, pool: ThreadPoolExecutor | None) -> None:
    cursor = bulk.cursor
    while True:
        ranges = _next_ranges(bulk, cursor, chunk, writers)
        if not ranges:
            BulkSend.objects.filter(pk=bulk.pk, status=BulkSend.State.FANNING_OUT).update(status=BulkSend.State.SENDING)
            return
        if pool is None:
            written = [_fan_out_range(bulk, *bounds) for bounds in ranges]
        else:
            written = list(pool.map(lambda bounds: _fan_out_range(bulk, *bounds), ranges))
        if not all(written):
            return
        cursor = ranges[-1][1]
        BulkSend.objects.filter(pk=bulk.pk, cursor__lt=cursor).update(cursor=cursor)


def bulk_fan_out(*, bulk_id: int, chunk: int = CHUNK) -> None:
    """Write every message of the bulk send, a chunk per transaction, from its cursor on. Safe
    to run again (the dedupe keys): on PostgreSQL a second run while one is writing returns at once.

    On PostgreSQL, WRITERS chunks are written at once, each by a thread with a connection of
    its own: a chunk's time is mostly the database's (indexes, foreign keys), which a second
    backend does in parallel while this process prepares the next. The cursor moves once the
    whole round has committed, so a crash rewrites at most a round, and writes nothing twice.
    Inside a transaction (a test's), the threads could not see its rows: chunks go one by one."""
    bulk = BulkSend.objects.select_related("shop", "created_by").filter(pk=bulk_id).first()
    if bulk is None:
        return
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with _sole_writer(bulk.pk) as alone:
            if not alone:
                return  # another run is writing it, and finishes it
            with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="fan-out") as pool:
                try:
                    _write_rounds(bulk, chunk, WRITERS, pool)
                finally:
                    list(pool.map(_close_connection, [threading.Barrier(WRITERS)] * WRITERS))
    else:
        _write_rounds(bulk, chunk, 1, None)
    bulk = BulkSend.objects.filter(pk=bulk_id).first()
    if bulk is not None:
        bulk_send_finish(bulk=bulk)


# --- progress, finish, cancel ----------------------------------------------------------------------


@dataclass(frozen=True)
class BulkProgress:
    recipients: int
    written: int
    waiting: int
    sent: int  # handed to the provider (delivered or not, as far as known)
    delivered: int
    failed: int
    suppressed: int
    cancelled: int

    @property
    def done(self) -> int:
        return self.written - self.waiting

    @property
    def percent(self) -> int:
        return 100 if not self.recipients else min(100, self.done * 100 // self.recipients)


def bulk_progress(*, bulk: BulkSend) -> BulkProgress:
    """Counts of the bulk's messages by status: one aggregate over its batch (indexed)."""
    counts = dict(Message.objects.filter(shop_id=bulk.shop_id, batch_ref=bulk.batch_ref)
                  .values_list("status").annotate(n=Count("pk")).order_by())
    n = lambda *statuses: sum(counts.get(s, 0) for s in statuses)  # noqa: E731
    return BulkProgress(
        recipients=bulk.recipients, written=sum(counts.values()), waiting=n(*WAITING),
        sent=n(Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN), delivered=n(Status.DELIVERED),
        failed=n(Status.FAILED, Status.UNDELIVERED), suppressed=n(Status.SUPPRESSED), cancelled=n(Status.CANCELLED))


@dataclass(frozen=True)
class BulkWait:
    """Why a sending bulk send's texts have not left yet: ``reason`` is "scheduled" (its send time
    is later) or the code of the delivery policy that held them ("outside_hours", "paced",
    "frequency_cap" …), with that hold's parameters; ``until`` is when the first of them leaves."""

    reason: str
    until: dt.datetime
    params: dict = field(default_factory=dict)


def bulk_waiting(*, bulk: BulkSend, now: dt.datetime | None = None) -> BulkWait | None:
    """Why the bulk's texts wait, when they visibly do: its send time is later, or delivery held
    its first waiting text (quiet hours, the sender's rate …). None while texts are leaving.

    Read from the waiting text due first and its latest hold: every text of a bulk is held for
    the same reasons, and the first to leave says when sending starts again. Two indexed reads."""
    if bulk.status not in BulkSend.ACTIVE_STATES:
        return None
    now = now or timezone.now()
    if bulk.send_at and bulk.send_at > now:
        return BulkWait("scheduled", bulk.send_at)
    first = (Message.objects.filter(shop_id=bulk.shop_id, batch_ref=bulk.batch_ref, status=Status.SCHEDULED)
             .order_by("send_at", "pk").values("pk", "send_at").first())
    if first is None:
        return None
    held = (MessageEvent.objects.filter(message_id=first["pk"], type=EventType.HELD)
            .order_by("-created_at", "-pk").values_list("parameters", flat=True).first()) or {}
    reason = held.get("reason", "")
    # A paced text is due again within seconds, and the next one is held again: the sender's rate
    # is why the send is slow even while its first text is due.
    if reason == PACED or (reason and first["send_at"] > now):
        return BulkWait(reason, first["send_at"], held)
    return None


def _release(bulk: BulkSend, reason: str, user=None) -> None:
    hold = CreditHold.objects.filter(shop_id=bulk.shop_id, reference=bulk.batch_ref).first()
    if hold is not None:
        with translation.override(bulk.shop.language):  # the ledger speaks the shop's language
            hold_release(hold=hold, reason=reason % {"bulk": bulk}, user=user)


def bulk_send_finish(*, bulk: BulkSend) -> bool:
    """Once every message is written and none is waiting, the send is finished and what the
    hold did not pay goes back to the balance. True when it finished now."""
    if bulk.status != BulkSend.State.SENDING:
        return False
    if Message.objects.filter(shop_id=bulk.shop_id, batch_ref=bulk.batch_ref, status__in=WAITING).exists():
        return False
    with transaction.atomic():
        if not BulkSend.objects.filter(pk=bulk.pk, status=BulkSend.State.SENDING).update(
                status=BulkSend.State.FINISHED, finished_at=timezone.now()):
            return False
        _release(bulk, gettext_lazy("%(bulk)s finished"))
    bulk.refresh_from_db()
    return True


class BulkSendFinishing(DeliveryPolicy):
    """Finishes a bulk send when a delivery run sends (or stops) its last waiting message, so the
    merchant sees it finished, and what the hold did not pay back in the balance, at once rather
    than at beat's next sweep. Listed first: it settles last, after the charge's refunds."""

    def settle(self, outcomes: list[Outcome]) -> None:
        refs = {o.message.batch_ref for o in outcomes if (o.message.batch_ref or "").startswith("bulk:")}
        ids = [int(ref.removeprefix("bulk:")) for ref in refs if ref.removeprefix("bulk:").isdigit()]
        for bulk in BulkSend.objects.filter(pk__in=ids, status=BulkSend.State.SENDING).select_related("shop"):
            bulk_send_finish(bulk=bulk)


def bulk_sends_finish() -> int:
    """Beat's sweep: finish every bulk send that has nothing left waiting."""
    return sum(bulk_send_finish(bulk=bulk) for bulk in BulkSend.objects.filter(status=BulkSend.State.SENDING))


def bulk_send_cancel(*, bulk: BulkSend, user=None) -> int:
    """Stop a bulk send: no more messages are written, every one that has not left is cancelled,
    and what the hold did not pay goes back to the balance. Returns how many were cancelled
    (0 when it was over already)."""
    with transaction.atomic():
        # Waits for a fan-out chunk in progress (its row lock), so that chunk is cancelled too.
        if not BulkSend.objects.filter(pk=bulk.pk, status__in=BulkSend.ACTIVE_STATES).update(
                status=BulkSend.State.CANCELLED, finished_at=timezone.now()):
            return 0
    params = {"user": user.get_username()} if user is not None else {}
    cancelled = 0
    waiting = Message.objects.filter(shop_id=bulk.shop_id, batch_ref=bulk.batch_ref,
                                     status__in=[Status.SCHEDULED, Status.QUEUED])
    while True:
        pks = list(waiting.values_list("pk", flat=True)[:CHUNK])
        if not pks:
            break
        moved = messages_transition(pks, from_statuses=[Status.SCHEDULED, Status.QUEUED], status=Status.CANCELLED,
                                    event=EventType.CANCELLED, params=params, error_code="cancelled",
                                    error_text="Cancelled.")
        cancelled += len(moved)
        if not moved:  # all were claimed by a delivery run meanwhile
            break
    _release(bulk, gettext_lazy("%(bulk)s cancelled"), user=user)
    bulk.refresh_from_db()
    return cancelled
