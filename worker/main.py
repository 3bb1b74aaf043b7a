"""The delivery worker process (`python -m bot worker`): its own engine, the transport
(WeChat or the sandbox), the global send rate, and the loop (worker/loop.py) until SIGTERM.

Run as many as you like, on as many machines as you like: claims never overlap and the
send rate holds across all of them.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable

from config import Settings
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from worker.loop import DeliveryWorker


def _open(settings: Settings):
    configure_data_key(settings.data_encryption_key)
    # SQLAlchemy's default pool (5 + 10 overflow) is enough: a sending thread holds a
    # connection only for its short transactions, never across the HTTP call.
    engine = make_engine(settings.database_url)
    return engine, make_session_factory(engine)


def _redis(settings: Settings):
    if not settings.redis_url:
        return None
    import redis

    return redis.Redis.from_url(settings.redis_url, socket_timeout=5)


def build_worker(settings: Settings, sessions, engine, concurrency: int | None = None) -> DeliveryWorker:
    """The delivery worker as configured: sandbox or WeChat, Redis or database for token and rate."""
    from wechat.api import WeChatTransport, make_client
    from worker.loop import delivery_config
    from worker.send_rate import DatabaseSendRate, RedisSendRate

    concurrency = concurrency or settings.outbox_worker_concurrency
    redis_client = _redis(settings)
    transport = rate = None
    if not settings.sandbox:
        client = make_client(settings, redis=redis_client, sessions=sessions, pool_size=concurrency)
        transport = WeChatTransport(client)
        if redis_client is not None:
            rate = RedisSendRate(redis_client, settings.outbox_send_rate)
        else:
            rate = DatabaseSendRate(engine, settings.outbox_send_rate)
    return DeliveryWorker(
        sessions,
        delivery_config(settings),
        transport,
        rate,
        concurrency=concurrency,
        lease_seconds=settings.outbox_lease_seconds,
    )


def run(settings: Settings, *, concurrency: int | None = None, once: bool = False,
        say: Callable[[str], None] = print) -> int:
    """Deliver until SIGTERM/SIGINT (or, with `once`, until nothing is due); returns the rows handled."""
    engine, sessions = _open(settings)
    delivery_worker = build_worker(settings, sessions, engine, concurrency)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    mode = "sandbox" if settings.sandbox else f"WeChat API at {settings.wechat_api_base_url}"
    say(f"delivery worker: {mode}, {delivery_worker.concurrency} in flight, "
        f"{settings.outbox_send_rate:g} messages/s across all workers")
    try:
        delivery_worker.run(stop, until_idle=once)
    finally:
        engine.dispose()
    say(f"delivery worker stopped after {delivery_worker.delivered} rows")
    return delivery_worker.delivered
