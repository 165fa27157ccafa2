"""web sessions kept server-side (sign-out, password change and idle expiry end them)

Revision ID: 0005_web_sessions
Revises: 0004_item_search_names
Create Date: 2026-11-30 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import calsync.store.tables


revision = '0005_web_sessions'
down_revision = '0004_item_search_names'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('password_stamp', sa.String(length=64), nullable=False),
    sa.Column('created_at', calsync.store.tables.UtcDateTime(), nullable=False),
    sa.Column('last_seen_at', calsync.store.tables.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
    op.drop_table('web_sessions')
