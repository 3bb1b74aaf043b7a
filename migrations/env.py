"""Alembic environment: the models' metadata, the URL from the caller or DATABASE_URL."""

from alembic import context
from sqlalchemy import TypeDecorator

import models
from config import Settings
from models.database import make_engine

config = context.config
target_metadata = models.Base.metadata


def _database_url() -> str:
    return (
        config.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or Settings.from_env().database_url
    )


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _render_item(type_, obj, autogen_context):
    # Migrations stay frozen: custom column types are written as their plain
    # storage type, so a migration never imports application code.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def _run(connection) -> None:
    # Batch mode lets ALTER work on SQLite (it rebuilds the table).
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
