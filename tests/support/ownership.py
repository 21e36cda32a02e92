"""Which rows of a database belong to a reader, found from the live database's foreign keys
(reflected, not from db/models.py): rows referencing the reader's `app_user` row, rows
referencing those, and so on. Tables added later are covered without changing the tests."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

Owned = dict[str, set[tuple[Any, ...]]]


def reflect(engine: sa.Engine) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    return metadata


def user_columns(metadata: sa.MetaData) -> list[tuple[sa.Table, list[sa.Column[Any]]]]:
    """Every (table, its columns) of a foreign key that references app_user."""
    found = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name == "app_user":
                found.append((table, [element.parent for element in fk.elements]))
    return found


def rows_of_reader(engine: sa.Engine, user_id: int, metadata: sa.MetaData | None = None) -> Owned:
    """{table: primary keys of the rows that belong to the reader}, transitively."""
    metadata = metadata or reflect(engine)
    users = metadata.tables["app_user"]
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    with engine.connect() as conn:
        start = conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().all()
        rows["app_user"] = {(r["id"],): dict(r) for r in start}
        for _ in range(len(metadata.tables) + 1):  # a fixed point within as many rounds
            grew = False
            for table in metadata.sorted_tables:
                key = [c.name for c in table.primary_key.columns] or [c.name for c in table.c]
                for fk in table.foreign_key_constraints:
                    parents = rows.get(fk.referred_table.name)
                    if not parents:
                        continue
                    local = [e.parent for e in fk.elements]
                    remote = [e.column.name for e in fk.elements]
                    values = list({tuple(p[c] for c in remote) for p in parents.values()})
                    clause = (
                        local[0].in_([v[0] for v in values])
                        if len(local) == 1
                        else sa.tuple_(*local).in_(values)
                    )
                    mine = rows.setdefault(table.name, {})
                    for row in conn.execute(sa.select(table).where(clause)).mappings():
                        pk = tuple(row[c] for c in key)
                        if pk not in mine:
                            mine[pk] = dict(row)
                            grew = True
            if not grew:
                break
    return {name: set(found) for name, found in rows.items() if found}


def remaining(engine: sa.Engine, owned: Owned, metadata: sa.MetaData | None = None) -> Owned:
    """Of the rows listed in `owned`, those still in the database."""
    metadata = metadata or reflect(engine)
    left: Owned = {}
    with engine.connect() as conn:
        for name, keys in owned.items():
            table = metadata.tables[name]
            columns = list(table.primary_key.columns) or list(table.c)
            for pk in keys:
                clause = sa.and_(*(c == v for c, v in zip(columns, pk, strict=True)))
                if conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(clause)
                ).scalar():
                    left.setdefault(name, set()).add(pk)
    return left


def rows_naming(
    engine: sa.Engine, user_id: int, metadata: sa.MetaData | None = None
) -> dict[str, int]:
    """{table: rows whose app_user-referencing column holds `user_id`}, every such table."""
    metadata = metadata or reflect(engine)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table, columns in user_columns(metadata):
            clause = sa.or_(*(c == user_id for c in columns))
            n = conn.execute(sa.select(sa.func.count()).select_from(table).where(clause)).scalar()
            counts[table.name] = counts.get(table.name, 0) + int(n or 0)
    return counts
