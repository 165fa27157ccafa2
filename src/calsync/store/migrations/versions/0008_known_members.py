"""objects the membership listing named at the last complete listing (digests), so only new ones
absent from a windowed answer are read before deciding

Revision ID: 0008_known_members
Revises: 0007_run_progress
Create Date: 2026-12-01 03:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_known_members'
down_revision = '0007_run_progress'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_known_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['sync_accounts.id'], name=op.f('fk_sync_known_members_account_id_sync_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_known_members')),
    sa.UniqueConstraint('account_id', 'digest', name='uq_sync_known_members_digest')
    )
    with op.batch_alter_table('sync_known_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_known_members_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_known_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_known_members_account_id'))

    op.drop_table('sync_known_members')
