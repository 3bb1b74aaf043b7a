"""Retries, failures and slow handlers: nothing lost, nothing doubled, never silent."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
from sqlalchemy import select

from handlers import texts
from handlers.router import ROUTES, Route
from models import Channel, InboundMessage, OutboxMessage
from models.database import make_engine, make_session_factory
from tests.conftest import count_rows, make_settings
from tests.wechat_peer import event_xml, text_xml


class Counter:
    """A route that counts how often the handlers really ran, with an optional delay."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.calls = 0
        self.delay = delay
        self.fail = fail
        self._lock = threading.Lock()

    def handle(self, ctx):
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("handler exploded")
        return f"已收到：{ctx.message.text}"

    def routes(self):
        return (Route("count", lambda ctx: ctx.message.msg_type == "text", self.handle),) + ROUTES


def outbox_rows(database_url):
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        rows = list(session.scalars(select(OutboxMessage)))
    engine.dispose()
    return rows


def test_a_retry_gets_the_stored_reply_and_runs_nothing(settings, apps, plain_peer):
    counter = Counter()
    client = apps(settings, routes=counter.routes()).test_client()
    xml = text_xml("第一次", msg_id=9001)
    first = plain_peer.post(client, xml)
    second = plain_peer.post(client, xml)
    assert counter.calls == 1
    assert plain_peer.reply_text(first.data) == plain_peer.reply_text(second.data) == "已收到：第一次"
    assert count_rows(settings.database_url)["inbound_message"] == 1


def test_the_same_msgid_from_two_users_is_two_messages(settings, apps, plain_peer):
    counter = Counter()
    client = apps(settings, routes=counter.routes()).test_client()
    plain_peer.post(client, text_xml("a", openid="oAlice", msg_id=42))
    plain_peer.post(client, text_xml("b", openid="oBob", msg_id=42))
    assert counter.calls == 2


def test_events_dedupe_on_sender_time_and_event(settings, apps, plain_peer):
    seen = []
    routes = (Route("spy", lambda ctx: seen.append(ctx.message.event) and False, lambda ctx: None),) + ROUTES
    client = apps(settings, routes=routes).test_client()
    subscribe = event_xml("subscribe", create_time=1700000000)
    assert plain_peer.reply_text(plain_peer.post(client, subscribe).data) == texts.WELCOME
    assert plain_peer.reply_text(plain_peer.post(client, subscribe).data) == texts.WELCOME
    plain_peer.post(client, event_xml("unsubscribe", create_time=1700000000))
    assert seen == ["subscribe", "unsubscribe"]


def test_retry_storm_across_two_app_instances(pg_url, tmp_path, apps, plain_peer):
    """WeChat's three tries arrive at once at two workers sharing one PostgreSQL database."""
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    counter = Counter(delay=0.5)
    settings = make_settings(pg_url, tmp_path)
    clients = [apps(settings, routes=counter.routes()).test_client() for _ in range(2)]
    xml = text_xml("同时三次", msg_id=777001)
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda i: plain_peer.post(clients[i % 2], xml), range(3)))
    assert counter.calls == 1
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [plain_peer.reply_text(r.data) for r in responses] == ["已收到：同时三次"] * 3
    assert count_rows(pg_url)["inbound_message"] == 1


def test_retry_storm_with_redis_dedupe(sqlite_url, tmp_path, apps, plain_peer, redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    counter = Counter(delay=0.5)
    settings = make_settings(sqlite_url, tmp_path, REDIS_URL=redis_url)
    clients = [apps(settings, routes=counter.routes()).test_client() for _ in range(2)]
    xml = text_xml("redis 三次", msg_id=int(time.time() * 1000))
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda i: plain_peer.post(clients[i % 2], xml), range(3)))
    assert counter.calls == 1
    assert [plain_peer.reply_text(r.data) for r in responses] == ["已收到：redis 三次"] * 3
    keys = [k for k in client.keys("shuangyong:inbound:*") if client.type(k) == b"string"]
    assert keys and all(b"redis" not in client.get(k) for k in keys)  # replies stored encrypted
    assert 0 < client.ttl(keys[0]) <= settings.dedupe_ttl_seconds


def test_a_failing_handler_answers_politely_and_logs_the_msgid(settings, apps, plain_peer, caplog):
    counter = Counter(fail=True)
    client = apps(settings, routes=counter.routes()).test_client()
    before = count_rows(settings.database_url)
    response = plain_peer.post(client, text_xml("会出错", msg_id=5550001))
    assert response.status_code == 200
    assert plain_peer.reply_text(response.data) == texts.BUSY
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].msg_id == 5550001 and errors[0].exc_info
    assert "会出错" not in caplog.text
    assert count_rows(settings.database_url) == before
    # The claim was released: once the fault is fixed, WeChat's retry is handled.
    counter.fail = False
    assert plain_peer.reply_text(plain_peer.post(client, text_xml("会出错", msg_id=5550001)).data) == "已收到：会出错"


def test_a_slow_handler_gets_success_in_time_and_the_reply_is_queued(db_url, tmp_path, apps, plain_peer):
    counter = Counter(delay=1.5)
    settings = make_settings(db_url, tmp_path, WEBHOOK_REPLY_DEADLINE=0.5)
    app = apps(settings, routes=counter.routes())
    client = app.test_client()
    started = time.monotonic()
    response = plain_peer.post(client, text_xml("慢慢来", openid="oSlowUser", msg_id=6660001))
    assert time.monotonic() - started < 1.2
    assert response.data == b"success"
    app.extensions["shuangyong"].handlers_pool.shutdown(wait=True)  # let the handler finish
    rows = outbox_rows(db_url)
    assert len(rows) == 1
    assert (rows[0].kind, rows[0].recipient, rows[0].channel) == ("late_reply", "oSlowUser", Channel.CUSTOMER_SERVICE)
    assert rows[0].payload == {"msgtype": "text", "text": "已收到：慢慢来"}
    # WeChat does not retry after "success"; a stray retry must not produce a second message.
    client2 = apps(settings, routes=counter.routes()).test_client()
    assert plain_peer.post(client2, text_xml("慢慢来", openid="oSlowUser", msg_id=6660001)).data == b"success"
    assert counter.calls == 1 and len(outbox_rows(db_url)) == 1


def test_stored_replies_are_encrypted_at_rest(settings, apps, plain_peer):
    counter = Counter()
    client = apps(settings, routes=counter.routes()).test_client()
    plain_peer.post(client, text_xml("张三的住址", msg_id=7770001))
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT reply FROM inbound_message").scalar_one()
    engine.dispose()
    assert "张三" not in raw
    with make_session_factory(make_engine(settings.database_url))() as session:
        assert session.scalars(select(InboundMessage.reply)).one() == "已收到：张三的住址"
