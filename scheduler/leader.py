"""One active scheduler: a leader lock that a standby takes over when the leader dies.

- PostgreSQL: a session advisory lock held on a dedicated connection; the server drops
  it the moment the holder's connection dies (kill -9 included).
- Redis (REDIS_URL set): `SET NX PX` with a token, renewed while alive, released or
  expiring after `ttl` when the holder dies.
- SQLite: a lease row with an expiry, renewed the same way.

The active scheduler calls `renew()` every few seconds; False means leadership is
lost and the scheduler must stop running jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models import utcnow
from models.scheduler_state import SchedulerLease

log = logging.getLogger("scheduler.leader")
LOCK_NAME = "shuangyong:scheduler"
ADVISORY_KEY = 0x5359_5343  # "SYSC": fixed, so every scheduler of one database contends for it


class LeaderLock(Protocol):
    holder: str

    def acquire(self) -> bool: ...

    def renew(self) -> bool: ...

    def release(self) -> None: ...


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class AdvisoryLock:
    def __init__(self, engine: Engine):
        self.holder = holder_id()
        self._engine = engine
        self._conn = None

    def acquire(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        except OperationalError:
            self._drop_connection()
            return False
        return bool(got)

    def renew(self) -> bool:
        """Still ours while our connection lives (the server releases it otherwise)."""
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() AND objid = :k"
                ),
                {"k": ADVISORY_KEY},
            ).scalar()
        except OperationalError:
            self._drop_connection()
            return False
        return bool(held)

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            except OperationalError:
                pass
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # the connection is already gone; nothing left to free
                pass
            self._conn = None


class RedisLock:
    # Taking the lock also succeeds when it is still ours: a leader that stepped down because
    # one renewal timed out (Redis paused) takes it straight back instead of leaving the
    # account without a scheduler until its own key expires.
    _ACQUIRE = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
        "else return redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) end"
    )
    _RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, redis_client, ttl: timedelta, name: str = LOCK_NAME):
        self.holder = holder_id()
        self._redis = redis_client
        self._ttl_ms = int(ttl.total_seconds() * 1000)
        self._name = name

    def acquire(self) -> bool:
        try:
            return bool(self._redis.eval(self._ACQUIRE, 1, self._name, self.holder, self._ttl_ms))
        except Exception as exc:  # Redis unreachable: stay standby, try again later
            log.warning("leader lock: redis unavailable", extra={"error": type(exc).__name__})
            return False

    def renew(self) -> bool:
        try:
            return bool(self._redis.eval(self._RENEW, 1, self._name, self.holder, self._ttl_ms))
        except Exception as exc:
            log.warning("leader lock: renewal failed", extra={"error": type(exc).__name__})
            return False

    def release(self) -> None:
        try:
            self._redis.eval(self._RELEASE, 1, self._name, self.holder)
        except Exception:  # it expires by itself
            pass


class LeaseLock:
    """A row `scheduler_lease(name, holder, expires_at)`: taken when free or expired."""

    def __init__(self, engine: Engine, ttl: timedelta, name: str = LOCK_NAME):
        self.holder = holder_id()
        self._engine = engine
        self._ttl = ttl
        self._name = name

    def acquire(self) -> bool:
        return self._claim(take_expired=True)

    def renew(self) -> bool:
        return self._claim(take_expired=False)

    def _claim(self, take_expired: bool) -> bool:
        now = utcnow()
        condition = SchedulerLease.holder == self.holder
        if take_expired:
            condition = condition | (SchedulerLease.expires_at < now)
        try:
            with Session(self._engine) as session, session.begin():
                result = session.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == self._name, condition)
                    .values(holder=self.holder, expires_at=now + self._ttl)
                )
                if result.rowcount:
                    return True
                if not take_expired or session.get(SchedulerLease, self._name) is not None:
                    return False
                session.add(SchedulerLease(name=self._name, holder=self.holder, expires_at=now + self._ttl))
            return True
        except (IntegrityError, OperationalError):
            return False

    def release(self) -> None:
        try:
            with Session(self._engine) as session, session.begin():
                session.execute(
                    delete(SchedulerLease).where(SchedulerLease.name == self._name, SchedulerLease.holder == self.holder)
                )
        except OperationalError:
            pass

    def current_holder(self) -> str | None:
        with Session(self._engine) as session:
            return session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == self._name))


def make_lock(engine: Engine, redis_url: str | None, ttl: timedelta) -> LeaderLock:
    if redis_url:
        import redis

        return RedisLock(redis.Redis.from_url(redis_url, socket_timeout=2), ttl)
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return LeaseLock(engine, ttl)
