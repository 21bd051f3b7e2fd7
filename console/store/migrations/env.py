"""Alembic's environment for the console store: the engine comes from console.store.migrate()
(config.attributes["engine"]), or from [console] database_url when run by the alembic CLI."""
from __future__ import annotations

from alembic import context

from console.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    from etl.config import load_settings

    from console.store import make_engine

    engine = make_engine(load_settings().console.database_url)

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
