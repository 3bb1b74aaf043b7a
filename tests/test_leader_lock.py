"""The three leader locks in-process: one holder at a time, takeover only after the holder is gone."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from models.database import make_engine
from scheduler.leader import AdvisoryLock, LeaseLock, RedisLock

TTL = timedelta(seconds=1)


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    client.delete("test:leader")
    yield client
    client.delete("test:leader")
    client.close()


def test_redis_lock_one_holder_then_takeover_after_expiry(redis_client):
    first, second = RedisLock(redis_client, TTL, "test:leader"), RedisLock(redis_client, TTL, "test:leader")
    assert first.acquire()
    assert not second.acquire()
    assert first.renew()
    time.sleep(1.2)  # the holder died: its key expires
    assert second.acquire()
    assert not first.renew()


def test_redis_lock_a_holder_that_stepped_down_takes_its_own_key_back(redis_client):
    """A renewal that timed out made the leader step down; its key still exists, and is its own."""
    first, second = RedisLock(redis_client, timedelta(seconds=20), "test:leader"), RedisLock(
        redis_client, timedelta(seconds=20), "test:leader")
    assert first.acquire()
    assert first.acquire()  # immediately, not after the 20 s key expires
    assert redis_client.pttl("test:leader") > 19_000
    assert not second.acquire()
    first.release()
    assert second.acquire()


def test_lease_lock_one_holder_then_takeover_after_expiry(sqlite_url):
    engine = make_engine(sqlite_url)
    first, second = LeaseLock(engine, TTL), LeaseLock(engine, TTL)
    assert first.acquire() and not second.acquire()
    assert first.renew()
    time.sleep(1.2)
    assert second.acquire()
    assert not first.renew()
    second.release()
    assert first.acquire()


def test_advisory_lock_released_when_the_holder_connection_dies(pg_url):
    engine = create_engine(pg_url)
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    try:
        assert first.acquire() and not second.acquire()
        assert first.renew()
        holder_pid = first._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder_pid})
        # The server frees a dead session's locks once its backend has exited (asynchronously):
        # a standby polling as the scheduler does gets it within moments.
        deadline = time.monotonic() + 10
        while not second.acquire():
            assert time.monotonic() < deadline, "the dead holder's lock was never released"
            time.sleep(0.05)
        assert not first.renew()
    finally:
        first.release()
        second.release()
        engine.dispose()
