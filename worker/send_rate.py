"""One send rate (messages per second) for every delivery worker on every machine.

A generic cell rate algorithm with reservations: a shared number `tat` is the
earliest time the next message may go. Each sender atomically books the slot
(`tat = max(tat, now) + 1/rate`) and sleeps until it comes. One round trip per
message, no polling, and the clock is the shared store's (Redis TIME or the
PostgreSQL server clock), so machines with skewed clocks still agree.
"""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy import Engine, create_engine, text

BUCKET = "wechat_api"


class SendRate(Protocol):
    def wait(self) -> float:
        """Block until this caller may send one message; returns the seconds waited."""
        ...


class DatabaseSendRate:
    """The booking is one UPDATE … RETURNING on a row of `rate_bucket`."""

    _POSTGRES = text(
        "UPDATE rate_bucket SET tat = GREATEST(tat, EXTRACT(EPOCH FROM clock_timestamp())) + :interval "
        "WHERE name = :name RETURNING tat - :interval - EXTRACT(EPOCH FROM clock_timestamp())"
    )
    # SQLite serves one machine, so the local clock is the shared clock.
    _SQLITE = text("UPDATE rate_bucket SET tat = MAX(tat, :now) + :interval WHERE name = :name RETURNING tat - :interval - :now")

    def __init__(self, engine: Engine, rate: float, name: str = BUCKET):
        self._interval = 1.0 / rate
        self._name = name
        self._postgres = engine.dialect.name == "postgresql"
        self._engine = engine
        self._ensure_row()
        if self._postgres:
            # One statement is its own transaction (no BEGIN/COMMIT round trips), and every
            # sender queues on this row: no waiting for a disk flush per booking — a
            # booking lost in a crash costs nothing.
            self._engine = create_engine(
                engine.url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=2,
                connect_args={"options": "-c synchronous_commit=off"},
            )

    def _ensure_row(self) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                text("INSERT INTO rate_bucket (name, tat) VALUES (:name, 0) ON CONFLICT (name) DO NOTHING"),
                {"name": self._name},
            )

    def wait(self) -> float:
        params = {"interval": self._interval, "name": self._name}
        if self._postgres:
            with self._engine.connect() as conn:
                delay = conn.execute(self._POSTGRES, params).scalar_one()
        else:
            with self._engine.begin() as conn:
                delay = conn.execute(self._SQLITE, {**params, "now": time.time()}).scalar_one()
        return _sleep(float(delay))

    def close(self) -> None:
        if self._postgres:
            self._engine.dispose()


class RedisSendRate:
    _SCRIPT = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
    local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
    if tat < now then tat = now end
    redis.call('SET', KEYS[1], string.format('%.6f', tat + tonumber(ARGV[1])), 'EX', 3600)
    return string.format('%.6f', tat - now)
    """

    def __init__(self, redis, rate: float, name: str = BUCKET, prefix: str = "shuangyong:rate:"):
        self._interval = 1.0 / rate
        self._key = prefix + name
        self._book = redis.register_script(self._SCRIPT)

    def wait(self) -> float:
        delay = self._book(keys=[self._key], args=[repr(self._interval)])
        return _sleep(float(delay))


def _sleep(delay: float) -> float:
    if delay > 0:
        time.sleep(delay)
    return max(delay, 0.0)
