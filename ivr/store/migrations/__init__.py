"""Alembic migrations of the call records (run by ``ivr.store.database.migrate``)."""
