"""a flag on each link: the calendar holds more of some field than the CRM keeps, so an update
reads the event first (links made before count as cut until their next write)

Revision ID: 0009_link_event_cut
Revises: 0008_known_members
Create Date: 2026-12-01 03:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_link_event_cut'
down_revision = '0008_known_members'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sync_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_cut', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sync_links', schema=None) as batch_op:
        batch_op.drop_column('event_cut')
