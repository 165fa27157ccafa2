"""stored originals of recurring series, so cancelled deletions put a series back as one object

Revision ID: 0003_series_originals
Revises: 0002_remembered_settings
Create Date: 2026-11-30 17:05:00
"""
from alembic import op
import sqlalchemy as sa
import calsync.store.tables


revision = '0003_series_originals'
down_revision = '0002_remembered_settings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_series_originals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('calendar_id', sa.String(length=1024), nullable=False),
    sa.Column('event_id', sa.String(length=1024), nullable=False),
    sa.Column('etag', sa.String(length=256), nullable=True),
    sa.Column('original', sa.Text(), nullable=False),
    sa.Column('saved_at', calsync.store.tables.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['sync_accounts.id'], name=op.f('fk_sync_series_originals_account_id_sync_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_series_originals')),
    sa.UniqueConstraint('account_id', 'calendar_id', 'event_id', name='uq_sync_series_originals_event')
    )
    with op.batch_alter_table('sync_series_originals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_series_originals_account_id'), ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_series_originals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_series_originals_account_id'))

    op.drop_table('sync_series_originals')
