"""Alembic migrations of the gateway's store, run programmatically by ``gateway.store.db.upgrade``."""
