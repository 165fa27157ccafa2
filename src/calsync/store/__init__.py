"""Storage: SQLAlchemy tables, engine and sessions, Alembic migrations. The bottom layer."""
