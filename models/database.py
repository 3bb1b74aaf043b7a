"""Engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(database_url: str, **kwargs) -> Engine:
    # Statement parameters (openids, names, phone numbers) never reach an exception
    # message, and so never a log line.
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        engine = _watched(create_engine(
            database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        ))
        # Before SQLite first opens (and so creates) the file: create it 0600 ourselves.
        event.listen(engine, "do_connect", lambda *_args: _private_file(database_url))
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN and breaks locking;
        # emit BEGIN ourselves (SQLAlchemy's documented recipe). IMMEDIATE takes the
        # write lock up front, so concurrent writers queue on the busy timeout
        # instead of failing when a read transaction tries to become a write.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping (a round trip per checkout): after a database restart the first
    # failing statement invalidates the whole pool and later checkouts reconnect.
    # Connections are recycled before idle-timeouts on the way can cut them.
    kwargs.setdefault("pool_recycle", 1800)
    return _watched(create_engine(database_url, **kwargs))


# --- knowing whether a message wrote anything ------------------------------------------
# With Redis a message that changes nothing in the database (帮助, an FAQ answer, a form
# question asked again) needs no database transaction of its own: its reply is kept in
# Redis alone (services.inbound_dedupe). The webhook watches its transaction's statements
# to know; a SQLite transaction watched "read first" is begun DEFERRED (readers never queue
# behind the one writer) and refuses its first write, so the message is run again as a
# writer (BEGIN IMMEDIATE, in turn with the others).


class WriteNeeded(Exception):
    """A read-first SQLite transaction reached a write: roll back and run it as a writer."""


@dataclass
class WriteWatch:
    read_first: bool = False
    wrote: bool = False


_watch: ContextVar[WriteWatch | None] = ContextVar("write_watch", default=None)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@contextmanager
def watch_writes(read_first: bool = False) -> Iterator[WriteWatch]:
    """Statements run in this thread inside the block are watched (see above)."""
    watch = WriteWatch(read_first=read_first)
    token = _watch.set(watch)
    try:
        yield watch
    finally:
        _watch.reset(token)


def current_watch() -> WriteWatch | None:
    return _watch.get()


def _watched(engine: Engine) -> Engine:
    event.listen(engine, "before_cursor_execute", _note_write)
    return engine


def _note_write(_conn, _cursor, statement: str, _parameters, _context, _executemany) -> None:
    watch = _watch.get()
    if watch is None or not statement.lstrip()[:7].upper().startswith(_WRITES):
        return
    if watch.read_first:
        raise WriteNeeded(statement.split(None, 1)[0])
    watch.wrote = True


def end_read_snapshot(session: Session) -> None:
    """SQLite: end a reader's snapshot (SQLite refuses a write on one another writer has moved
    past) and let it write from here on. Done on the driver, so the session keeps its connection
    and its objects: the next statements run outside any transaction, each its own, and the
    session's COMMIT finds nothing to commit. Ending it through the session instead (a rollback,
    then a new transaction) cost a pool check-in and check-out and a new connection wrapper, a
    twelfth of a read-only message's CPU (issue 16)."""
    session.connection().connection.driver_connection.rollback()
    watch = _watch.get()
    if watch is not None:
        watch.read_first = False


def _sqlite_begin(conn) -> None:
    watch = _watch.get()
    # On the driver's connection: a BEGIN needs none of the execution layer's work (events,
    # result set-up), and every SQLite transaction starts here.
    conn.connection.driver_connection.execute("BEGIN" if watch is not None and watch.read_first else "BEGIN IMMEDIATE")


def _private_file(database_url: str) -> None:
    """The SQLite file (and so its -wal and -shm files, which SQLite creates with the same
    mode) is readable by its owner only: 0600, created so before SQLite first opens it."""
    name = make_url(database_url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        return  # SQLite reports the missing directory itself
    # Never open-and-close an existing database file: closing any descriptor of a
    # file drops every POSIX lock this process holds on it, so SQLite connections
    # already open here would lose theirs, and another process could checkpoint the
    # WAL under them (stale reads, in the worst case a corrupt file). O_EXCL creates
    # the file only when no connection can have it open yet.
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    except FileExistsError:
        pass
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)
        except FileNotFoundError:
            pass


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and one writer work at once across processes; the busy
    # timeout makes a second writer wait instead of failing with "database is locked".
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def lost_connection(error: BaseException) -> bool:
    """The database connection died under a statement (server restarted, pg_terminate_backend):
    the transaction rolled back and a fresh connection will work, so it is a warning, not a bug."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class SqliteWriters:
    """One writing transaction at a time across this database's web processes, in turn.

    SQLite admits one writer; a second one waits in SQLite's busy handler, which naps up to
    100 ms between tries, so under load writers of two processes lost whole naps to each other
    (the webhook's p99 of 400–500 ms). Here a writer waits on a thread lock (its own process)
    and then on an flock of a file beside the database (the others), both woken the moment
    the holder lets go. Writers that do not take it (scheduler, console) still meet the busy
    handler, as before. The file descriptor is opened per process, after gunicorn's fork.
    """

    def __init__(self, database_url: str):
        name = make_url(database_url).database
        self._path = Path(name + ".writers") if name and name != ":memory:" and not name.startswith("file:") else None
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is not None:
            try:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise

    def __exit__(self, *_exc) -> None:
        try:
            if self._path is not None:
                fcntl.flock(self._descriptor(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600)
            self._pid = os.getpid()
        return self._fd
