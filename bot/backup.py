"""Encrypted backups (PI-7): `python -m bot backup --out FILE` and `python -m bot restore FILE`.

SQLite: a consistent copy through sqlite3's online backup API (safe while the bot runs).
PostgreSQL: `pg_dump --format=custom` (must be on PATH), restored with `pg_restore`.
The copy is encrypted with the current data key (Fernet) in chunks as it is written, never
held whole in memory: a header line `SYBACKUP1 <key id> <kind>` then one Fernet token per
line. The file is created 0600. A restore finds the key by its id, so a backup made before a
key rotation opens while the old key is still listed in DATA_ENCRYPTION_KEY.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from models.encrypted import data_key

MAGIC = b"SYBACKUP1"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """Shown to the operator as is."""


def _private_output(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    return os.fdopen(fd, "wb")


def encrypt_stream(source: BinaryIO, target: BinaryIO, kind: str) -> None:
    key = data_key()
    target.write(b" ".join([MAGIC, key.id.encode(), kind.encode()]) + b"\n")
    while chunk := source.read(CHUNK):
        target.write(key.fernet.encrypt(chunk) + b"\n")


def decrypt_stream(source: BinaryIO, target: BinaryIO) -> str:
    """Writes the plain copy; returns its kind ("sqlite" or "pg_dump")."""
    header = source.readline().split()
    if len(header) != 3 or header[0] != MAGIC:
        raise BackupError("这不是本系统的加密备份文件 (not a backup made by `python -m bot backup`)")
    key_id, kind = header[1].decode(), header[2].decode()
    try:
        key = data_key(key_id)
    except KeyError:
        raise BackupError(f"the backup was encrypted with key id {key_id!r}, which DATA_ENCRYPTION_KEY does not list") from None
    for line in source:
        target.write(key.fernet.decrypt(line.strip()))
    return kind


@contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="shuangyong-backup-"))  # 0700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pg(database_url: str) -> tuple[str, dict]:
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password  # not on the command line, where `ps` would show it
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools")
    return found


def backup(database_url: str, out: Path) -> str:
    """Writes the encrypted copy to `out`; returns the kind."""
    if database_url.startswith("sqlite"):
        with _scratch() as folder:
            copy = folder / "copy.sqlite3"
            source = sqlite3.connect(make_url(database_url).database)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            with copy.open("rb") as plain, _private_output(out) as sealed:
                encrypt_stream(plain, sealed, "sqlite")
        return "sqlite"
    dbname, env = _pg(database_url)
    with subprocess.Popen([_tool("pg_dump"), "--format=custom", "--no-owner", f"--dbname={dbname}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as dump:
        with _private_output(out) as sealed:
            encrypt_stream(dump.stdout, sealed, "pg_dump")
        error = dump.stderr.read()
    if dump.returncode != 0:
        out.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {error.decode(errors='replace').strip()[:500]}")
    return "pg_dump"


def is_empty(engine) -> bool:
    return not inspect(engine).get_table_names()


def restore(database_url: str, backup_file: Path) -> str:
    """Restores the copy into the database (the caller checked it may be overwritten)."""
    with _scratch() as folder:
        plain = folder / "plain"
        with backup_file.open("rb") as sealed, plain.open("wb") as out:
            kind = decrypt_stream(sealed, out)
        if database_url.startswith("sqlite"):
            if kind != "sqlite":
                raise BackupError("this is a PostgreSQL backup; DATABASE_URL is SQLite")
            path = Path(make_url(database_url).database)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            source, target = sqlite3.connect(plain), sqlite3.connect(path)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return kind
        if kind != "pg_dump":
            raise BackupError("this is a SQLite backup; DATABASE_URL is PostgreSQL")
        dbname, env = _pg(database_url)
        done = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                               f"--dbname={dbname}", str(plain)], capture_output=True, env=env)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.decode(errors='replace').strip()[:500]}")
        return kind
