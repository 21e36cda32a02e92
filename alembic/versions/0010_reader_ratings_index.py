"""a covering index of a reader's ratings: rating (user_id, book_id, half_stars)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f('ix_rating_user_id_book_id_half_stars'),
        'rating',
        ['user_id', 'book_id', 'half_stars'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_rating_user_id_book_id_half_stars'), table_name='rating')
