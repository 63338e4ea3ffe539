"""Moving messages between statuses: a conditional UPDATE plus a typed event per message moved.

The condition (``status IN from_statuses``, and for a delivery run its claim) is what makes
every step safe to race and to re-run: a row that another worker, a report or the merchant
moved first is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from . import pg_transitions
from .models import Message, MessageEvent


def message_transition(pk: int, *, from_statuses: Iterable[str], status: str, event: str,
                       params: dict | None = None, user=None, **fields) -> bool:
    """Move one message to ``status`` if it is still in ``from_statuses``; record ``event`` if it moved."""
    now = timezone.now()
    with transaction.atomic():
        moved = Message.objects.filter(pk=pk, status__in=list(from_statuses)).update(
            status=status, updated_at=now, **fields)
        if moved:
            MessageEvent.objects.create(message_id=pk, type=event, status=status, parameters=params or {},
                                        user=user, created_at=now)
    return bool(moved)


def messages_transition(pks: list[int], *, from_statuses: Iterable[str], status: str, event: str,
                        params: dict | None = None, per_message: dict[int, dict] | None = None,
                        claim=None, user=None, **fields) -> list[int]:
    """Move many messages at once, with one UPDATE and one INSERT of events; returns the ids moved.

    ``per_message`` gives each message its own field values and event parameters
    (``{pk: {"fields": {...}, "params": {...}}}``); ``claim`` keeps a delivery run to its own rows.
    """
    if not pks:
        return []
    now = timezone.now()
    per_message = per_message or {}
    if connection.vendor == "postgresql":
        moved = pg_transitions.messages_transition(
            pks, from_statuses=list(from_statuses), status=status, event=event, params=params or {},
            per_message=per_message, claim=claim, user=user, now=now, fields=fields)
        if moved is not None:
            return moved
    rows = Message.objects.filter(pk__in=pks, status__in=list(from_statuses))
    if claim is not None:
        rows = rows.filter(claim=claim)
    values = dict(fields)
    for name in {name for entry in per_message.values() for name in entry.get("fields", {})}:
        output = Message._meta.get_field(name)
        values[name] = Case(*[When(pk=pk, then=Value(entry["fields"][name], output_field=output))
                              for pk, entry in per_message.items() if name in entry.get("fields", {})],
                            default=F(name), output_field=output)
    with transaction.atomic():
        moved = rows.update(status=status, updated_at=now, **values)
        if moved != len(pks):  # some were moved by someone else first: record only ours
            ours = Message.objects.filter(pk__in=pks, status=status, updated_at=now)
            pks = list((ours.filter(claim=claim) if claim is not None else ours).values_list("pk", flat=True))
        MessageEvent.objects.bulk_create([
            MessageEvent(message_id=pk, type=event, status=status, created_at=now, user=user,
                         parameters={**(params or {}), **per_message.get(pk, {}).get("params", {})})
            for pk in pks
        ])
    return pks

