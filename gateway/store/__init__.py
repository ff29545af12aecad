"""The SQL store: SQLAlchemy 2 models, Alembic migrations and keyword-only repository functions."""
