"""Encrypted backups (PI-7): `python -m bot backup --out FILE` and `python -m bot restore FILE`
through click's runner on the real command group, as an operator would run them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.cli.main import cli
from models.beneficiary import Beneficiary
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from models.volunteer import Volunteer
from tests.conftest import DATA_KEY, TOKEN
from tests.test_encryption_at_rest import ID_B, NAME_B, NAME_V, PHONE_B, PHONE_V, _people


@pytest.fixture
def database(sqlite_url, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("WECHAT_", "REDIS_", "SCHEDULER_", "CONSOLE_")):
            monkeypatch.delenv(name)
    for name, value in {"DATABASE_URL": sqlite_url, "INSTANCE_DIR": str(tmp_path),
                        "SECRET_KEY": "test-secret-key-0123456789", "DATA_ENCRYPTION_KEY": DATA_KEY,
                        "WECHAT_TOKEN": TOKEN, "APP_ENV": "development", "LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)
    configure_data_key(DATA_KEY)
    engine = make_engine(sqlite_url)
    _people(make_session_factory(engine))
    engine.dispose()
    return Path(make_url(sqlite_url).database)


def bot(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _names(path: Path) -> tuple[list[str], list[str]]:
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as session:
        found = ([v.name for v in session.scalars(select(Volunteer))],
                 [b.id_number for b in session.scalars(select(Beneficiary))])
    engine.dispose()
    return found


def test_backup_delete_restore_finds_the_data(database, tmp_path):
    out = tmp_path / "backups" / "shuangyong.backup"
    out.parent.mkdir()
    made = bot("backup", "--out", str(out))
    assert made.exit_code == 0 and "encrypted" in made.output
    assert out.stat().st_mode & 0o777 == 0o600
    sealed = out.read_bytes()
    # Neither a person's data nor even the database's structure can be read in the file.
    for secret in (NAME_V, PHONE_V, NAME_B, PHONE_B, ID_B, "河口村", "volunteer", "SQLite format", "CREATE TABLE"):
        assert secret.encode("utf-8") not in sealed, secret

    for leftover in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        leftover.unlink(missing_ok=True)
    restored = bot("restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert _names(database) == ([NAME_V], [ID_B])
    assert database.stat().st_mode & 0o777 == 0o600


def test_restore_refuses_a_database_that_holds_data_without_force(database, tmp_path):
    out = tmp_path / "copy.backup"
    assert bot("backup", "--out", str(out)).exit_code == 0
    refused = CliRunner().invoke(cli, ["restore", str(out)])
    assert refused.exit_code != 0 and "not empty" in refused.output and "--force" in refused.output
    assert bot("restore", "--force", str(out)).exit_code == 0
    assert _names(database) == ([NAME_V], [ID_B])


def test_a_backup_needs_its_key(database, tmp_path, monkeypatch):
    from cryptography.fernet import Fernet

    out = tmp_path / "copy.backup"
    assert bot("backup", "--out", str(out)).exit_code == 0
    database.unlink()
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "other:" + Fernet.generate_key().decode())
    refused = CliRunner().invoke(cli, ["restore", str(out)])
    assert refused.exit_code != 0 and "DATA_ENCRYPTION_KEY does not list" in refused.output


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump not installed")
def test_postgresql_backup_and_restore(pg_url, tmp_path, monkeypatch):
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    for name, value in {"INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "test-secret-key-0123456789",
                        "DATA_ENCRYPTION_KEY": DATA_KEY, "WECHAT_TOKEN": TOKEN, "APP_ENV": "development",
                        "LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, value)
    configure_data_key(DATA_KEY)
    engine = make_engine(pg_url)
    _people(make_session_factory(engine))
    engine.dispose()
    out = tmp_path / "pg.backup"
    assert bot("backup", "--out", str(out)).exit_code == 0
    sealed = out.read_bytes()
    assert NAME_V.encode() not in sealed and PHONE_V.encode() not in sealed and b"volunteer" not in sealed
    _truncate_all(pg_url)
    assert bot("restore", "--force", str(out)).exit_code == 0
    engine = make_engine(pg_url)
    with make_session_factory(engine)() as session:
        assert [v.name for v in session.scalars(select(Volunteer))] == [NAME_V]
    engine.dispose()
