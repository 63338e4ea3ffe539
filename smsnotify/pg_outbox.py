"""The outbox's writes of many rows as one statement fed with arrays (PostgreSQL only).

smsnotify/outbox.py hands these over on PostgreSQL and writes the same rows with the ORM
elsewhere; the unit tests check that hand-over, the PostgreSQL run of the suite (CI) checks
the rows these write.
"""

from __future__ import annotations

import json

from .models import Direction, Message, MessageEvent, ShortLink
from .pg_arrays import execute_binary


def messages_insert(prepared: dict[str, tuple], common: dict) -> dict[str, int]:
    """outbox._insert_many_orm's rows, as one statement fed with arrays (``unnest``): a chunk of
    a 100,000-text bulk send costs the database's time, not the ORM's building of each row's SQL.
    ON CONFLICT DO NOTHING + RETURNING: only the rows this call wrote come back (keys already
    taken are skipped, as bulk_create's ignore_conflicts does)."""
    columns = [list(prepared), *(list(column) for column in zip(*prepared.values()))]
    return dict(execute_binary(
        f"""INSERT INTO {Message._meta.db_table} (shop_id, direction, kind, lane, recipient, sender, body, encoding,
                segments, credits_charged, customer_id, order_id, cart_id, product_id, dedupe_key, batch_ref,
                status, send_at, attempts, gateway, provider_id, error_code, error_text, created_at, updated_at)
            SELECT %s, %s, %s, %s, r.recipient, '', r.body, r.encoding, r.segments, 0, r.customer_id, r.order_id,
                   r.cart_id, r.product_id, r.dedupe_key, %s, %s, r.send_at, 0, '', '', %s, %s, %s, %s
            FROM unnest(%b::varchar[], %b::varchar[], %b::text[], %b::varchar[], %b::int[], %b::timestamptz[],
                        %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[])
                 AS r(dedupe_key, recipient, body, encoding, segments, send_at, customer_id, order_id, cart_id,
                      product_id)
            ON CONFLICT DO NOTHING RETURNING dedupe_key, id""",
        [common["shop_id"], Direction.OUTBOUND, common["kind"], common["lane"], common["batch_ref"],
         common["status"], common["error_code"], common["error_text"], common["created_at"], common["updated_at"],
         *columns]))


def events_insert(events: list[tuple[int, dict]], *, type: str, status: str, user, created_at) -> None:
    """One event of ``type`` per (message id, parameters)."""
    execute_binary(
        f"""INSERT INTO {MessageEvent._meta.db_table} (message_id, type, status, parameters, user_id, created_at)
            SELECT e.message_id, %s, %s, e.parameters::jsonb, %s, %s
            FROM unnest(%b::bigint[], %b::text[]) AS e(message_id, parameters)""",
        [type, status, user.pk if user is not None else None, created_at,
         [pk for pk, _params in events], [json.dumps(params) for _pk, params in events]])


def links_insert(shop_id: int, links: list[tuple[int, str, str]], *, created_at) -> None:
    """The short links (message id, code, address) of one shop's messages."""
    message_ids, codes, urls = (list(column) for column in zip(*links))
    execute_binary(
        f"""INSERT INTO {ShortLink._meta.db_table} (shop_id, message_id, code, url, created_at)
            SELECT %s, l.message_id, l.code, l.url, %s
            FROM unnest(%b::bigint[], %b::varchar[], %b::text[]) AS l(message_id, code, url)""",
        [shop_id, created_at, message_ids, codes, urls])
