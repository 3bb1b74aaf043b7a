"""The schema comes from Alembic migrations, and they match the models."""

from __future__ import annotations

from sqlalchemy import inspect

from models import Base
from models.database import make_engine
from models.schema import check, current_revision, head_revision, upgrade
from tests.conftest import create_pg_database, drop_pg_database


def _assert_fresh_upgrade(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()
    check(url)  # raises if models and migrations disagree
    upgrade(url)  # a second upgrade is a no-op


def test_upgrade_from_empty_on_sqlite(tmp_path):
    _assert_fresh_upgrade(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_upgrade_from_empty_on_postgresql(pg_url):
    url = create_pg_database()
    try:
        _assert_fresh_upgrade(url)
    finally:
        drop_pg_database(url)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()
