"""What one app instance holds: settings, database, dedupe store, routes, a thread pool.

Built once per process by `create_app`; nothing here is per-user state.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from wechat.protocol import MessageCrypto
from config import Settings
from handlers import intents
from handlers.router import ROUTES, Route
from models import utcnow
from models.database import SqliteWriters, make_engine, make_session_factory
from services import metrics
from services.inbound_dedupe import DatabaseDedupe, DedupeStore, RedisDedupe, RedisWithDatabaseFallback

EXTENSION = "shuangyong"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dedupe: DedupeStore
    redis: object | None
    crypto: MessageCrypto | None
    routes: tuple[Route, ...]
    handlers_pool: ThreadPoolExecutor
    # SQLite admits one writer at a time; queueing the writers on a lock (this process's
    # threads, then the other web processes') keeps them in order instead of sleeping in
    # SQLite's busy handler (models.database.SqliteWriters).
    serial_writes: contextlib.AbstractContextManager
    # SQLite: a message runs as a reader first (bot.webhook), so the many that change nothing
    # do not queue behind SQLite's one writer.
    reads_first: bool = False
    # The handlers' clock; tests replace it to move time forward (form timeouts).
    clock: Callable[[], datetime] = utcnow

    @classmethod
    def build(cls, settings: Settings, routes: tuple[Route, ...] | None = None) -> "Runtime":
        # Create the metrics now, in one thread: the first messages of a fresh worker arrive on
        # several threads at once, and two of them creating the same prometheus metric raise
        # DuplicateTimeseries (a 500 on /wechat, found by bench/drill.py).
        metrics._metrics()
        # The intent examples load on first use (handlers.intents); a web worker loads them now,
        # not while its first message waits.
        intents.preload()
        # A web worker's threads and its handler pool share the pool: enough connections that a
        # handler never waits for one (serve's 4 threads, and handlers left running past the
        # reply deadline), few enough that serve's 4 workers stay at 40 connections in all, well
        # under PostgreSQL's max_connections with the scheduler and the delivery workers.
        pool = {} if settings.is_sqlite else {"pool_size": 5, "max_overflow": 5}
        engine = make_engine(settings.database_url, **pool)
        sessions = make_session_factory(engine)
        ttl = timedelta(seconds=settings.dedupe_ttl_seconds)
        redis_client = None
        if settings.redis_url:
            import redis

            # Short timeouts: Redis answers in a millisecond when it is there; when it is not,
            # messages fall back to the database instead of waiting out the reply deadline.
            redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
            # The lease outlasts a handler's reply deadline; a dead worker's claim frees up
            # for WeChat's second or third retry (5 s apart).
            lease = timedelta(seconds=2 * settings.webhook_reply_deadline)
            dedupe: DedupeStore = RedisWithDatabaseFallback(
                RedisDedupe(redis_client, ttl, lease=lease), DatabaseDedupe(sessions, ttl), (redis.RedisError,),
                on_fallback=metrics.dedupe_fallback)
        else:
            dedupe = DatabaseDedupe(sessions, ttl)
        crypto = None
        if settings.safe_mode:
            crypto = MessageCrypto(settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            dedupe=dedupe,
            redis=redis_client,
            crypto=crypto,
            routes=routes or ROUTES,
            handlers_pool=ThreadPoolExecutor(max_workers=16, thread_name_prefix="handler"),
            serial_writes=SqliteWriters(settings.database_url) if settings.is_sqlite else contextlib.nullcontext(),
            reads_first=settings.is_sqlite,
        )

    def close(self) -> None:
        self.handlers_pool.shutdown(wait=True)
        self.engine.dispose()


def runtime() -> Runtime:
    return current_app.extensions[EXTENSION]
