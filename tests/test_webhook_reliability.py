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
    plain_peer.post(client, text_xml("b", openid="oBob01", msg_id=42))
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


# --- a Redis claim is a lease: a dead worker does not swallow the message ----------------


def _redis_store(redis_url, lease_seconds: float):
    from datetime import timedelta

    from services.inbound_dedupe import RedisDedupe

    return RedisDedupe(redis_lib.Redis.from_url(redis_url), timedelta(hours=24), lease=timedelta(seconds=lease_seconds))


def test_a_redis_claim_left_by_a_dead_handler_frees_up_after_its_lease(redis_url):
    from services.inbound_dedupe import Claim

    store = _redis_store(redis_url, 0.3)
    dead = Claim("k-dead", "text", None)
    assert store.claim(dead, None, None)
    assert not store.claim(Claim("k-dead", "text", None), None, None)  # a retry while it works
    time.sleep(0.4)  # the handler died: nobody confirms
    retry = Claim("k-dead", "text", None)
    assert store.claim(retry, None, None)
    store.confirm(retry)
    assert redis_lib.Redis.from_url(redis_url).ttl("shuangyong:inbound:k-dead") > 3600  # kept for the TTL


def test_a_handler_that_outlived_its_lease_rolls_back_and_cannot_release_the_new_claim(redis_url):
    from services.inbound_dedupe import Claim, ClaimLost

    store = _redis_store(redis_url, 0.2)
    slow = Claim("k-slow", "text", None)
    assert store.claim(slow, None, None)
    time.sleep(0.3)
    retry = Claim("k-slow", "text", None)
    assert store.claim(retry, None, None)
    with pytest.raises(ClaimLost):
        store.confirm(slow)
    store.release(slow)  # the slow one's clean-up leaves the retry's claim alone
    assert not store.claim(Claim("k-slow", "text", None), None, None)
    store.confirm(retry)


def test_a_slow_handler_whose_lease_ran_out_unclaimed_still_commits(redis_url):
    from services.inbound_dedupe import Claim

    store = _redis_store(redis_url, 0.1)
    late = Claim("k-late", "text", None)
    assert store.claim(late, None, None)
    time.sleep(0.2)
    store.confirm(late)  # nobody took over: it keeps the message
    assert not store.claim(Claim("k-late", "text", None), None, None)


def _post_http(server, peer, xml):
    import requests

    query, body = peer.envelope(xml)
    return requests.post(server.url + "/wechat", params=query, data=body, headers={"Content-Type": "text/xml"},
                         timeout=10)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


def test_sigkill_of_the_web_worker_mid_message_and_the_retry_is_handled(tmp_path, redis_url):
    """A real `serve` with Redis: the worker handling a message is SIGKILLed while the handler
    waits on the database; WeChat's retry after the lease gets the real answer, not "success"."""
    import os
    import signal
    import sqlite3

    from tests.test_serve import Server, bot_env
    from tests.wechat_peer import WeChatPeer
    from tests.conftest import TOKEN

    env = bot_env(tmp_path, REDIS_URL=redis_url, WEBHOOK_REPLY_DEADLINE="1")
    for name in ("WECHAT_APP_ID", "WECHAT_ENCODING_AES_KEY"):
        env.pop(name)
    server = Server(env, workers=1)
    try:
        peer = WeChatPeer(TOKEN)
        xml = text_xml("你好", openid="oKilledWorker01", msg_id=7770001)
        blocker = sqlite3.connect(tmp_path / "shuangyong.db", timeout=1)
        blocker.execute("BEGIN IMMEDIATE")  # the handler will wait on the write lock
        (worker,) = _children(server.process.pid)
        sent = time.monotonic()  # the claim is taken after this: its lease runs out by sent + lease
        first = _post_http(server, peer, xml)
        assert first.content == b"success"  # the deadline passed; the handler still waits
        os.kill(worker, signal.SIGKILL)
        blocker.rollback()
        blocker.close()
        # Retry half a second after the lease (2 × the 1-second deadline) ran out, not later: the
        # retry is what WeChat sends, and gunicorn starts a new worker meanwhile.
        time.sleep(max(0.0, sent + 2 * 1 + 0.5 - time.monotonic()))
        retry = _post_http(server, peer, xml)
        assert retry.status_code == 200 and peer.reply_text(retry.content)  # an answer, not "success"
    finally:
        server.stop()


def test_chat_goes_on_through_a_redis_outage_and_retries_stay_single(sqlite_url, tmp_path, apps, plain_peer, redis_url):
    """Redis down: messages are claimed in the database (a retry gets the stored reply). Redis
    back: a retry of a message handled during the outage is still not run again."""
    counter = Counter()
    down = make_settings(sqlite_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    client = apps(down, routes=counter.routes()).test_client()
    xml = text_xml("停电也要回", openid="oOutageUser01", msg_id=8880001)
    first = plain_peer.post(client, xml)
    assert plain_peer.reply_text(first.data) == "已收到：停电也要回"
    assert plain_peer.reply_text(plain_peer.post(client, xml).data) == "已收到：停电也要回"
    back = apps(make_settings(sqlite_url, tmp_path, REDIS_URL=redis_url), routes=counter.routes()).test_client()
    assert plain_peer.reply_text(plain_peer.post(back, xml).data) == "已收到：停电也要回"
    assert counter.calls == 1
    fresh = text_xml("恢复了", openid="oOutageUser01", msg_id=8880002)
    assert plain_peer.reply_text(plain_peer.post(back, fresh).data) == "已收到：恢复了"
    assert counter.calls == 2
