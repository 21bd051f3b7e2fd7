"""Alembic's environment for the fix requests: the engine comes from etl.fixes.store.migrate()
(config.attributes["engine"]). Its own version table keeps these revisions apart from the
console's, in the same database."""
from __future__ import annotations

from alembic import context

from etl.fixes.store.models import FixBase

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=FixBase.metadata, render_as_batch=True,
                      version_table="alembic_version_fixes")
    with context.begin_transaction():
        context.run_migrations()
