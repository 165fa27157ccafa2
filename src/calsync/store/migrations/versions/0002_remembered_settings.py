"""settings remembered per provider account, so reconnecting the same account restores them

Revision ID: 0002_remembered_settings
Revises: 0001
Create Date: 2026-11-30 16:30:00
"""
from alembic import op
import sqlalchemy as sa
import calsync.store.tables


revision = '0002_remembered_settings'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_remembered_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('account_name', sa.String(length=320), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('saved_at', calsync.store.tables.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sync_remembered_settings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_remembered_settings')),
    sa.UniqueConstraint('user_id', 'provider', 'account_name', name='uq_sync_remembered_settings_account')
    )
    with op.batch_alter_table('sync_remembered_settings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_remembered_settings_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_remembered_settings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_remembered_settings_user_id'))

    op.drop_table('sync_remembered_settings')
