"""The floor for bench/webhook_bench.py: the least storage work a correct webhook must do, in raw
driver calls, added to the bare handler (bench/bare_app.py --floor).

Per message, with no ORM, no Flask extension, no handler, no log line:
- the sender's state is read (a form in progress changes what a message means): one SELECT;
- the message is claimed before it is handled and its reply stored with the claim, so a retry
  on any process gets the same reply: on SQLite one autocommit INSERT of claim and reply, in turn
  with this process's other writers (as the product's readers do); on PostgreSQL an INSERT of the
  claim and an UPDATE with the reply, each its own autocommit statement (one round trip each, no
  BEGIN/COMMIT); with Redis a SET NX of the claim and a SET of the reply.

What the product does beyond this (a row lock on the conversation for the message's length,
the follower's reply window, the handler's reads, the 4-second deadline's thread) is what the
real/floor ratio leaves to be won; floor/bare is the most any design of this storage can reach.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

from sqlalchemy.engine import make_url

TTL_SECONDS = 7 * 24 * 3600
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS floor_inbound (dedupe_key VARCHAR(64) PRIMARY KEY, reply TEXT, expires_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS floor_state (openid VARCHAR(64) PRIMARY KEY, form VARCHAR(32))",
)


class Floor:
    def __init__(self, database_url: str, redis_url: str = ""):
        url = make_url(database_url)
        self.sqlite = url.get_backend_name() == "sqlite"
        self._path = url.database if self.sqlite else None
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._redis_url = redis_url
        self._local = threading.local()
        self._writers = threading.Lock()
        self._flock: int | None = None

    def create_tables(self) -> None:
        connection = self._connect()
        for statement in _SCHEMA:
            connection.execute(statement)
        if not self.sqlite:
            connection.commit()
        connection.close()

    def handle(self, key: str, openid: str, reply: str) -> str | None:
        """The stored reply of an earlier attempt, or None when this attempt claimed the message."""
        redis = self._redis()
        if redis is not None and not redis.set(f"floor:{key}", "\x00", nx=True, ex=TTL_SECONDS):
            return redis.get(f"floor:{key}").decode()
        connection = self._connection()
        if not self.sqlite and redis is None:
            claimed = connection.execute(
                "INSERT INTO floor_inbound VALUES (%s, NULL, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (key, int(time.time()) + TTL_SECONDS)).fetchone()
            if claimed is None:
                return connection.execute("SELECT reply FROM floor_inbound WHERE dedupe_key = %s", (key,)).fetchone()[0]
        marker = "?" if self.sqlite else "%s"
        connection.execute(f"SELECT form FROM floor_state WHERE openid = {marker}", (openid,)).fetchone()
        if redis is not None:
            redis.set(f"floor:{key}", reply, ex=TTL_SECONDS)
        elif self.sqlite:
            with self._writers:
                fcntl.flock(self._lock_file(), fcntl.LOCK_EX)
                try:
                    inserted = connection.execute(
                        "INSERT INTO floor_inbound VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        (key, reply, int(time.time()) + TTL_SECONDS)).rowcount
                finally:
                    fcntl.flock(self._lock_file(), fcntl.LOCK_UN)
            if not inserted:
                return connection.execute("SELECT reply FROM floor_inbound WHERE dedupe_key = ?", (key,)).fetchone()[0]
        else:
            connection.execute("UPDATE floor_inbound SET reply = %s WHERE dedupe_key = %s", (reply, key))
        return None

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        return connection

    def _connect(self):
        if self.sqlite:
            import sqlite3

            connection = sqlite3.connect(self._path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            return connection
        import psycopg

        return psycopg.connect(self._dsn, autocommit=True)

    def _redis(self):
        if not self._redis_url:
            return None
        client = getattr(self._local, "redis", None)
        if client is None:
            import redis

            client = self._local.redis = redis.Redis.from_url(self._redis_url, socket_timeout=0.5)
        return client

    def _lock_file(self) -> int:
        if self._flock is None:
            self._flock = os.open(Path(self._path + ".floor-writers"), os.O_CREAT | os.O_RDWR, 0o600)
        return self._flock
