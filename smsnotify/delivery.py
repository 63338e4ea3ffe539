"""Delivering a batch of due messages: claim, policies, many gateway calls in flight, record.

One delivery run (one Celery task) works on a batch, and every database step is one
statement for the whole batch, not one per message:

1. **Claim**: one conditional UPDATE ``scheduled/queued → sending`` stamped with a token of
   this run; the rows carrying the token are exactly the ones won (another worker, a
   cancel or a re-run gets none of them). Correct on SQLite and PostgreSQL alike.
2. **Policies** (smsnotify/policies.py), in order: each may hold or refuse messages; the
   charge comes last and commits before the gateway, so whatever follows, a sent text is
   paid for.
3. **Gateway**: the calls go out concurrently (``BaseGateway.send_many``), so a provider's
   response time does not bound throughput. Gateways never touch the ORM; the threads only
   wait on the network.
4. **Record**: one UPDATE and one INSERT of events per outcome (sent, refused, retry later,
   unknown), then the policies settle (refunds).

The safety rules hold per message, as before: a row in ``sending`` is never sent again
blindly; if this worker dies between 1 and 4 the rows stay ``sending`` until their lease
runs out, become ``unknown`` and are reconciled with the provider (smsnotify/aftercare.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from .gateways import (
    AmbiguousGatewayError,
    BaseGateway,
    GatewayError,
    OutboundSms,
    PermanentGatewayError,
    RecipientOptedOut,
    SendResult,
    TransientGatewayError,
    get_gateway,
)
from .history import iso, reason_text
from .models import EventType, Message, SmsSettings, Status
from .policies import DeliveryBatch, Hold, Outcome, Refuse, delivery_policies
from .transitions import messages_transition

log = logging.getLogger(__name__)


def messages_deliver(*, message_ids: list[int], gateway: BaseGateway | None = None) -> dict[str, int]:
    """Deliver the due messages among ``message_ids``. Returns how many ended in each status
    (those another worker had, or no longer due, are not counted: a re-run is harmless)."""
    gateway = gateway or get_gateway()
    claim = uuid.uuid4()
    now = timezone.now()
    message_ids = list(message_ids)
    claimed = Message.objects.filter(
        pk__in=message_ids, status__in=[Status.SCHEDULED, Status.QUEUED], send_at__lte=now,
    ).update(status=Status.SENDING, sending_at=now, claim=claim, attempts=F("attempts") + 1, gateway=gateway.name,
             sender=Coalesce(Subquery(SmsSettings.objects.filter(shop_id=OuterRef("shop_id")).values("sender")[:1]),
                             Value("")),
             updated_at=now)
    if not claimed:
        return {}
    # By id first (the primary key's index; the token alone has none), then the token.
    messages = list(Message.objects.filter(pk__in=message_ids, claim=claim, status=Status.SENDING)
                    .select_related("shop").order_by("pk"))
    shop_ids = {m.shop_id for m in messages}
    batch = DeliveryBatch(messages=messages,
                          sms_settings={s.shop_id: s for s in SmsSettings.objects.filter(shop_id__in=shop_ids)},
                          gateway=gateway)
    tally: dict[str, int] = defaultdict(int)
    stopped: list[Outcome] = []
    try:
        for policy in delivery_policies():
            verdicts = policy.before_send(batch) if batch.messages else {}
            if verdicts:
                stopped += _apply_verdicts(verdicts, policy, claim, batch, tally)
                batch.messages = [m for m in batch.messages if m.pk not in verdicts]
        sending = _attempt(batch.messages, gateway, claim)
        if sending:
            gateway.open()
    except Exception:
        # Nothing of this run reached the gateway: give the rows back (a charge made here stays
        # with the message, paid for its next attempt) instead of leaving them to the lease.
        _release([m.pk for m in batch.messages], claim)
        raise
    answers = []
    if sending:
        try:
            answers = gateway.send_many([_outbound(m, gateway) for m in sending])
        finally:
            gateway.close()
    # What the provider said and what it settles (refunds) commit together: a message is never
    # left failed but charged.
    with transaction.atomic():
        outcomes = _record(sending, answers, claim)
        if outcomes or stopped:
            for policy in reversed(delivery_policies()):
                policy.settle(stopped + outcomes)
    for outcome in outcomes:
        tally[outcome.status] += 1
    return dict(tally)


def _release(pks: list[int], claim: uuid.UUID) -> None:
    """Back to scheduled, the attempt given back, after the first retry delay (an error that
    repeats must not spin)."""
    later = timezone.now() + dt.timedelta(seconds=settings.SMS_RETRY_BASE_SECONDS)
    messages_transition(pks, from_statuses=[Status.SENDING], claim=claim, status=Status.SCHEDULED,
                        event=EventType.HELD, params={"reason": "internal_error", "until": iso(later)},
                        attempts=Greatest(F("attempts") - 1, 0), send_at=later)


def _apply_verdicts(verdicts: dict, policy, claim: uuid.UUID, batch: DeliveryBatch, tally: dict) -> list[Outcome]:
    """Hold or refuse what ``policy`` stopped; returns the refusals, for the policies to settle
    (a message refused now may carry a charge from an earlier run: it is given back)."""
    path = f"{type(policy).__module__}.{type(policy).__qualname__}"
    refusals, holds = defaultdict(list), {}
    for pk, verdict in verdicts.items():
        if isinstance(verdict, Refuse):
            refusals[(verdict.status, verdict.code, tuple(sorted(verdict.params.items())))].append(pk)
        elif isinstance(verdict, Hold):
            holds[pk] = verdict
    by_pk = {m.pk: m for m in batch.messages}
    stopped = []
    for (status, code, _params), pks in refusals.items():
        text = _english(code, verdicts[pks[0]].params)
        moved = messages_transition(pks, from_statuses=[Status.SENDING], claim=claim, status=status,
                                    event=EventType.STOPPED, params={"policy": path, "reason": code},
                                    per_message={pk: {"params": verdicts[pk].params} for pk in pks},
                                    error_code=code[:32], error_text=text)
        tally[status] += len(moved)
        stopped += [Outcome(by_pk[pk], status, False, text) for pk in moved]
    if holds:
        # Held back, not attempted: the claim's attempt is given back.
        moved = messages_transition(
            list(holds), from_statuses=[Status.SENDING], claim=claim, status=Status.SCHEDULED, event=EventType.HELD,
            params={"policy": path}, attempts=Greatest(F("attempts") - 1, 0),
            per_message={pk: {"fields": {"send_at": hold.until},
                              "params": {**hold.params, "reason": hold.code, "until": iso(hold.until)}}
                         for pk, hold in holds.items()},
        )
        tally[Status.SCHEDULED] += len(moved)
    return stopped


def _english(code: str, params: dict) -> str:
    """The stored error text: the reason in English, for exports and the operator (a merchant
    reads it in the shop's language through smsnotify.history)."""
    with translation.override("en"):
        return reason_text(code, params)[:500]


def status_callback_url(gateway_name: str) -> str:
    """The absolute URL a provider posts delivery reports to, when this gateway has one."""
    if not settings.PUBLIC_BASE_URL:
        return ""
    try:
        return settings.PUBLIC_BASE_URL + reverse(f"webhooks:{gateway_name}-status")
    except NoReverseMatch:
        return ""


def _attempt(messages: list[Message], gateway: BaseGateway, claim: uuid.UUID) -> list[Message]:
    """Stamp the attempt just before the gateway call, and keep only the rows this run still holds.

    The stamp (``sending_at`` and an ATTEMPT event, in one transaction) is what tells a stuck row
    that may have reached the provider from one that surely did not: the stuck-message rule
    sends the second kind again (smsnotify/aftercare.py). A row whose lease ran out meanwhile
    (slow policies) belongs to that rule already and is not sent by this run.
    """
    moved = set(messages_transition(
        [m.pk for m in messages], from_statuses=[Status.SENDING], claim=claim, status=Status.SENDING,
        event=EventType.ATTEMPT, sending_at=timezone.now(),
        per_message={m.pk: {"params": {"attempt": m.attempts, "gateway": gateway.name}} for m in messages}))
    return [m for m in messages if m.pk in moved]


def _outbound(message: Message, gateway: BaseGateway) -> OutboundSms:
    return OutboundSms(reference=f"msg-{message.pk}", to=message.recipient, body=message.body, sender=message.sender,
                       status_callback=status_callback_url(gateway.name),
                       validity_seconds=settings.SMS_LANE_VALIDITY_SECONDS.get(message.lane, 0))


def _error_params(exc: GatewayError) -> dict:
    return {"code": exc.code[:32], "text": exc.text[:300]}


def _describe(exc: GatewayError) -> str:
    return f"{exc.code}: {exc.text}" if exc.code else exc.text or exc.__class__.__name__


def _record(messages: list[Message], answers: list, claim: uuid.UUID) -> list[Outcome]:
    """Write what the provider answered, one statement per kind of answer."""
    now = timezone.now()
    accepted, refused, retry, gave_up, unknown = {}, {}, {}, {}, {}
    for message, answer in zip(messages, answers, strict=True):
        if isinstance(answer, SendResult):
            accepted[message.pk] = answer
        elif isinstance(answer, PermanentGatewayError):
            refused[message.pk] = answer
        elif isinstance(answer, TransientGatewayError):
            (gave_up if message.attempts >= settings.SMS_MAX_ATTEMPTS else retry)[message.pk] = answer
        else:  # AmbiguousGatewayError, or a bug: the SMS may have left
            if not isinstance(answer, AmbiguousGatewayError):
                log.error("Unexpected error delivering message %s: %r", message.pk, answer)
            unknown[message.pk] = answer
    by_pk = {m.pk: m for m in messages}
    outcomes: list[Outcome] = []

    for status in {a.status for a in accepted.values()}:
        pks = [pk for pk, a in accepted.items() if a.status == status]
        moved = messages_transition(
            pks, from_statuses=[Status.SENDING], claim=claim, status=status, event=EventType.ACCEPTED,
            sent_at=now, error_code="", error_text="",
            per_message={pk: {"fields": {"provider_id": accepted[pk].provider_id[:64]},
                              "params": {"provider_id": accepted[pk].provider_id}} for pk in pks})
        outcomes += [Outcome(by_pk[pk], status, True, "") for pk in moved]

    def errors(pks_errors: dict, extra=None) -> dict:
        return {pk: {"fields": {"error_code": exc.code[:32] or "transient", "error_text": exc.text[:500],
                                **(extra(pk) if extra else {})},
                     "params": _error_params(exc)} for pk, exc in pks_errors.items()}

    moved = messages_transition(list(refused), from_statuses=[Status.SENDING], claim=claim, status=Status.FAILED,
                                event=EventType.REFUSED, per_message=errors(refused))
    outcomes += [Outcome(by_pk[pk], Status.FAILED, False, f"Refused by the gateway ({_describe(refused[pk])}).",
                         opted_out=isinstance(refused[pk], RecipientOptedOut)) for pk in moved]

    def retry_at(pk: int) -> dict:
        attempts = by_pk[pk].attempts
        delay = min(settings.SMS_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.SMS_RETRY_MAX_SECONDS)
        return {"send_at": now + dt.timedelta(seconds=delay)}

    per_message = errors(retry, retry_at)
    for pk, entry in per_message.items():
        entry["params"].update(attempt=by_pk[pk].attempts + 1, at=iso(entry["fields"]["send_at"]))
    moved = messages_transition(list(retry), from_statuses=[Status.SENDING], claim=claim, status=Status.SCHEDULED,
                                event=EventType.RETRY, per_message=per_message)
    outcomes += [Outcome(by_pk[pk], Status.SCHEDULED, False,
                         f"Not sent ({_describe(retry[pk])}); a retry is charged again.") for pk in moved]

    per_message = errors(gave_up)
    for pk, entry in per_message.items():
        entry["params"]["attempts"] = by_pk[pk].attempts
    moved = messages_transition(list(gave_up), from_statuses=[Status.SENDING], claim=claim, status=Status.FAILED,
                                event=EventType.GAVE_UP, per_message=per_message)
    outcomes += [Outcome(by_pk[pk], Status.FAILED, False, f"Gave up ({_describe(gave_up[pk])}).") for pk in moved]

    unknown_errors = {pk: exc if isinstance(exc, GatewayError) else GatewayError(repr(exc)[:300], code="unexpected")
                      for pk, exc in unknown.items()}
    moved = messages_transition(list(unknown_errors), from_statuses=[Status.SENDING], claim=claim,
                                status=Status.UNKNOWN, event=EventType.AMBIGUOUS,
                                per_message={pk: {"fields": {"error_code": exc.code[:32] or "unknown",
                                                             "error_text": exc.text[:500]},
                                                  "params": _error_params(exc)}
                                             for pk, exc in unknown_errors.items()})
    outcomes += [Outcome(by_pk[pk], Status.UNKNOWN, True, "") for pk in moved]  # may have been billed: kept
    return outcomes
