"""drop the unused is_admin column

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing ever read or set it; a staff role, when it comes, is its own migration.
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('is_admin')


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_admin', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
