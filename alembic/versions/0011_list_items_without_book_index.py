"""served list items without an index on book_id

Every list served writes about ten `rec_list_item` rows, and the book_id index was the one
part of those writes that lands on random pages: on SQLite it made the recorder's flushes
about half again as costly in CPU, and as large again in write-ahead-log pages. No query
reads list items by book alone (a list's items are read by its id, the key's prefix). The
index served only a cascade from `book`, which the service never deletes (staff hide
books); a deletion made by hand in the database still cascades, by a scan.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f('ix_rec_list_item_book_id'), table_name='rec_list_item')


def downgrade() -> None:
    op.create_index(op.f('ix_rec_list_item_book_id'), 'rec_list_item', ['book_id'], unique=False)
