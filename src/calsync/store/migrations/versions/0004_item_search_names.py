"""deals, persons and organizations get a lower-cased search_name with a (company, name) index,
for prefix search (list pages and the editor's type-ahead) that stays fast at any size

Revision ID: 0004_item_search_names
Revises: 0003_series_originals
Create Date: 2026-11-30 17:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_item_search_names'
down_revision = '0003_series_originals'
branch_labels = None
depends_on = None

# table -> the column search_name is the lower-cased copy of
TABLES = {'organizations': 'name', 'persons': 'name', 'deals': 'title'}


def _search_type() -> sa.types.TypeEngine:
    return sa.String(length=300).with_variant(sa.String(length=300, collation='C'), 'postgresql')


def upgrade() -> None:
    connection = op.get_bind()
    for table, label in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('search_name', _search_type(), nullable=True))
        # Lower-cased in Python (Unicode), as the application does; SQL lower() is ASCII-only on SQLite.
        rows = connection.execute(sa.text(f'SELECT id, {label} FROM {table}')).all()
        if rows:
            connection.execute(
                sa.text(f'UPDATE {table} SET search_name = :name WHERE id = :id'),
                [{'id': row[0], 'name': (row[1] or '').lower()} for row in rows],
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('search_name', existing_type=_search_type(), nullable=False)
            batch_op.create_index(f'ix_{table}_search', ['company_id', 'search_name', 'id'], unique=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{table}_search')
            batch_op.drop_column('search_name')
