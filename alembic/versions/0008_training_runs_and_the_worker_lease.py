"""training runs and the worker lease

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('training_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=True),
    sa.Column('new_ratings', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('version', sa.String(length=32), nullable=True),
    sa.Column('gate_decision', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'published', 'rejected-by-gate', 'failed')", name=op.f('ck_training_run_status_known')),
    sa.CheckConstraint("trigger IN ('schedule', 'new-ratings', 'manual')", name=op.f('ck_training_run_trigger_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_run'))
    )
    with op.batch_alter_table('training_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_run_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_run_status'), ['status'], unique=False)

    op.create_table('worker_lease',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_lease'))
    )


def downgrade() -> None:
    op.drop_table('worker_lease')
    with op.batch_alter_table('training_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_run_status'))
        batch_op.drop_index(batch_op.f('ix_training_run_started_at'))

    op.drop_table('training_run')
