"""Keeping a read model of another service's data from its events.

Events may arrive out of order (several relays, retries). Each snapshot event carries a version
that grows with every change; a read-model row is replaced only by a newer version, so a late,
older snapshot can never overwrite a newer one.
"""
from __future__ import annotations

from typing import Any, cast
from collections.abc import Mapping

from sqlalchemy import FromClause, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert_if_newer(session: Session, model_table: FromClause, values: Mapping[str, Any], *, key: str,
                    version_column: str = "version") -> bool:
    """Insert the row, or update it if `values[version_column]` is newer than the stored one.
    Returns True if the row was written."""
    table = cast(Table, model_table)  # a mapped class's __table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = insert(table).values(**values)
    updates = {column: row.excluded[column] for column in values if column != key}
    statement = row.on_conflict_do_update(
        index_elements=[key],
        set_=updates,
        where=table.c[version_column] < row.excluded[version_column],
    ).returning(table.c[key])
    return session.execute(statement).first() is not None
