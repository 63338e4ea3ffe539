"""messages_transition as two statements over arrays (PostgreSQL only).

The same conditional UPDATE and events as smsnotify/transitions.py, written for a delivery
run's hundred rows at once: each row's own values (a provider id, an error) are joined in
from ``unnest()`` of whole columns sent in binary, instead of a ``CASE WHEN pk = …`` per row
that Django builds, resolves and quotes one by one (most of a delivery run's own CPU time).
``RETURNING`` names the rows moved, so a partial move needs no second read.
"""

from __future__ import annotations

import json

from django.db import connection, transaction

from .models import Message, MessageEvent
from .pg_arrays import execute_binary


def messages_transition(pks: list[int], *, from_statuses: list[str], status: str, event: str, params: dict,
                        per_message: dict[int, dict], claim, user, now, fields: dict) -> list[int] | None:
    """transitions.messages_transition's move in two statements; None when the call does not fit
    them, and the ORM's statements must do it: a field given as an expression (F("attempts") - 1),
    or per-message fields that not every message has (a CASE keeps the others' columns as they are)."""
    names = {frozenset(per_message.get(pk, {}).get("fields", {})) for pk in pks}
    if (len(names) != 1 or (names != {frozenset()} and not set(per_message) <= set(pks))
            or any(hasattr(value, "resolve_expression") for value in fields.values())):
        return None
    per_row = {pk: per_message[pk]["fields"] for pk in pks} if names != {frozenset()} else {}
    with transaction.atomic():
        moved = rows_update(pks, from_statuses=from_statuses, claim=claim, per_row=per_row,
                            values={"status": status, "updated_at": now, **fields})
        pks = list(dict.fromkeys(pk for pk in pks if pk in moved))
        events_insert(pks, type=event, status=status, user_id=getattr(user, "pk", None), created_at=now,
                      parameters=[{**params, **per_message.get(pk, {}).get("params", {})} for pk in pks])
    return pks


def rows_update(pks: list[int], *, from_statuses: list[str], claim, values: dict, per_row: dict[int, dict]) -> set[int]:
    """UPDATE the rows among ``pks`` still in ``from_statuses`` (and of ``claim``): ``values`` for all of
    them, ``per_row[pk]`` (the same names for every row) for each. Returns the ids moved."""
    table = connection.ops.quote_name(Message._meta.db_table)
    names = sorted(next(iter(per_row.values()))) if per_row else []
    assignments, params = [], []
    for name, value in values.items():
        field = Message._meta.get_field(name)
        assignments.append(f"{connection.ops.quote_name(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    columns, arrays = ["id"], [f"%b::{Message._meta.pk.db_type(connection)}[]"]
    ids = list(per_row) if per_row else list(pks)
    params.append(ids)
    for name in names:
        field = Message._meta.get_field(name)
        column = connection.ops.quote_name(field.column)
        assignments.append(f"{column} = v.{column}")
        columns.append(column)
        arrays.append(f"%b::{field.db_type(connection)}[]")
        params.append([field.get_db_prep_save(per_row[pk][name], connection) for pk in ids])
    condition = "m.status = ANY(%s)"
    params.append(list(from_statuses))
    if claim is not None:
        condition += " AND m.claim = %s"
        params.append(claim)
    rows = execute_binary(
        f"UPDATE {table} AS m SET {', '.join(assignments)} "
        f"FROM unnest({', '.join(arrays)}) AS v({', '.join(columns)}) "
        f"WHERE m.id = v.id AND {condition} RETURNING m.id", params)
    return {pk for (pk,) in rows}


def events_insert(pks: list[int], *, type: str, status: str, user_id, created_at, parameters: list[dict]) -> None:
    """One event per message of ``pks``, with its own ``parameters``, in one INSERT."""
    table = connection.ops.quote_name(MessageEvent._meta.db_table)
    encoder = MessageEvent._meta.get_field("parameters").encoder
    execute_binary(
        f"INSERT INTO {table} (message_id, type, status, parameters, user_id, created_at) "
        f"SELECT v.id, %s, %s, v.parameters::jsonb, %s, %s FROM unnest(%b::bigint[], %b::text[]) AS v(id, parameters)",
        [type, status, user_id, created_at, list(pks), [json.dumps(p, cls=encoder) for p in parameters]])
