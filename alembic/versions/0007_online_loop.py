"""the online loop: opens of listed books, A/B experiments

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rec_list_open',
    sa.Column('list_id', sa.String(length=32), nullable=False),
    sa.Column('book_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['book_id'], ['book.id'], name=op.f('fk_rec_list_open_book_id_book'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['list_id'], ['rec_list.id'], name=op.f('fk_rec_list_open_list_id_rec_list'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_rec_list_open_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('list_id', 'book_id', name=op.f('pk_rec_list_open'))
    )
    with op.batch_alter_table('rec_list_open', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rec_list_open_opened_at'), ['opened_at'], unique=False)

    op.create_table('experiment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('control_version', sa.String(length=32), nullable=True),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('running', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.CheckConstraint('share > 0 AND share < 1', name=op.f('ck_experiment_share_range')),
    sa.CheckConstraint('running = 1', name=op.f('ck_experiment_running_flag')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('stopped', 'promoted')", name=op.f('ck_experiment_outcome_known')),
    sa.CheckConstraint('(running IS NULL) = (stopped_at IS NOT NULL)', name=op.f('ck_experiment_running_until_stopped')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment')),
    sa.UniqueConstraint('running', name=op.f('uq_experiment_running'))
    )


def downgrade() -> None:
    op.drop_table('experiment')
    with op.batch_alter_table('rec_list_open', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rec_list_open_opened_at'))

    op.drop_table('rec_list_open')
