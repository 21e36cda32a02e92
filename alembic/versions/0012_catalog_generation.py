"""the catalog's generation, counted by triggers

`catalog_state` holds one row whose `generation` goes up with every change to what a
recommendation list shows of the catalog: a book inserted, deleted or updated (any column
but `like_count`, which likes change all day and the service reads fresh when asked for),
a book's category links, a category renamed or deleted. Triggers count in the writing
transaction, so every writer (the service, an import, a hand-made SQL statement) is
counted; servers keep book rows in memory while the generation they read is unchanged
(db.catalog_cache).

SQLite has only row triggers (an import of 2,500 books counts 2,500: one page, in one
transaction); PostgreSQL counts once per statement. A later migration that rebuilds `book`,
`book_category` or `category` on SQLite (batch "move and copy") drops their triggers and
must create them again: tests/db/test_catalog_generation.py checks every column on both.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of `book` a list shows (db.catalog.BookRow but for like_count).
BOOK_COLUMNS = 'id, title, authors, year, isbn, description, cover_url, hidden'
BUMP = 'UPDATE catalog_state SET generation = generation + 1'
# (trigger name, table, events): SQLite takes one event per trigger.
SQLITE_TRIGGERS = [
    ('catalog_book_insert', 'book', 'INSERT'),
    ('catalog_book_update', 'book', f'UPDATE OF {BOOK_COLUMNS}'),
    ('catalog_book_delete', 'book', 'DELETE'),
    ('catalog_link_insert', 'book_category', 'INSERT'),
    ('catalog_link_update', 'book_category', 'UPDATE'),
    ('catalog_link_delete', 'book_category', 'DELETE'),
    ('catalog_category_update', 'category', 'UPDATE'),
    ('catalog_category_delete', 'category', 'DELETE'),
]
POSTGRES_TRIGGERS = [
    ('catalog_book_change', 'book', f'INSERT OR DELETE OR TRUNCATE OR UPDATE OF {BOOK_COLUMNS}'),
    ('catalog_link_change', 'book_category', 'INSERT OR UPDATE OR DELETE OR TRUNCATE'),
    ('catalog_category_change', 'category', 'UPDATE OR DELETE OR TRUNCATE'),
]


def upgrade() -> None:
    op.create_table('catalog_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_catalog_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_state'))
    )
    op.execute('INSERT INTO catalog_state (id, generation) VALUES (1, 0)')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'CREATE FUNCTION catalog_generation_bump() RETURNS trigger LANGUAGE plpgsql AS '
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for name, table, events in POSTGRES_TRIGGERS:
            op.execute(
                f'CREATE TRIGGER {name} AFTER {events} ON {table} '
                'FOR EACH STATEMENT EXECUTE FUNCTION catalog_generation_bump()'
            )
    else:
        for name, table, event in SQLITE_TRIGGERS:
            op.execute(f'CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {BUMP}; END')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, table, _ in POSTGRES_TRIGGERS:
            op.execute(f'DROP TRIGGER {name} ON {table}')
        op.execute('DROP FUNCTION catalog_generation_bump()')
    else:
        for name, _, _ in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER {name}')
    op.drop_table('catalog_state')
