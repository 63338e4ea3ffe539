"""Statements fed with whole columns as arrays, sent in binary (PostgreSQL only).

Writing thousands of rows at once (a bulk send's recipients and messages, a campaign scan's
texts) as ``INSERT … SELECT … FROM unnest(%b::type[], …)``: one statement whose cost is the
database's, not the ORM's building of each row's SQL.
"""

from __future__ import annotations

import psycopg
from django.db import connection


def execute_binary(sql: str, params: list) -> list[tuple]:
    """Run ``sql`` on Django's connection (and transaction) with its %b parameters sent in binary:
    Django's cursor quotes every element of an array into the SQL text, which for a chunk of a
    bulk send costs more than the INSERT itself. Returns the rows it returns."""
    connection.ensure_connection()
    # Wrapped as Django wraps its own cursors, so query logging and execute_wrapper() see it.
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []
