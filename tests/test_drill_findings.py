"""Regression tests for the defects bench/drill.py found (each failed before its fix):

1. a fresh process's first messages, on several threads, raced to create the prometheus
   metrics: DuplicateTimeseries, a 500 on /wechat and "unexpected error"s in the worker;
2. a send WeChat accepted whose recording failed (pg_terminate_backend) went to
   record_crash, was due again and a customer-service message reached the person twice;
3. a WeChat retry of a message whose first attempt died (SIGKILL, Redis lease still held)
   was answered "success" and the message was never handled;
4. the reply was written to Redis before the handler's commit: a process dying between
   the two left a reply for work that had rolled back, and the retry got it; and the claim
   was extended to the full TTL before the commit: a process dying in between held the
   message unhandled for 24 hours;
5. Redis going away mid-message (the 3-second pause) failed the handler: 系统繁忙;
6. pg_terminate_backend under a handler answered 系统繁忙 instead of handling it again;
7. a late reply (someone waiting in the chat) was queued behind a 10,000-row push;
8. a reply that missed the deadline was stored before it was queued as a late reply: a
   retry in between got it inline too, and the person read it twice.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from models import Follower, InboundMessage, Recipient, utcnow
from services.inbound_dedupe import Claim, DatabaseDedupe, RedisDedupe, RedisWithDatabaseFallback, dedupe_key
from tests.conftest import make_settings
from tests.fake_wechat_api import CUSTOM, FakeWeChatApi
from tests.outbound_kit import Outbound, outbound_settings
from tests.test_webhook_reliability import Counter, outbox_rows
from tests.wechat_peer import text_xml

ROOT = Path(__file__).resolve().parent.parent

RACE = """
import sys, threading
from bot import create_app
from worker.main import build_worker
from models.database import make_engine, make_session_factory
from services import metrics
from tests.conftest import make_settings

settings = make_settings(sys.argv[1], sys.argv[2])
create_app(settings)  # a gunicorn worker, after the fork
engine = make_engine(settings.database_url)
build_worker(settings, make_session_factory(engine), engine, 8)  # a delivery worker
barrier, errors = threading.Barrier(24), []

def first_message():
    barrier.wait()
    try:
        metrics.message("handled", 0.01)
        metrics.send("template", 0)
        metrics.dedupe_fallback()
    except Exception as exc:
        errors.append(type(exc).__name__)

threads = [threading.Thread(target=first_message) for _ in range(24)]
for t in threads: t.start()
for t in threads: t.join()
print("errors:", errors)
"""


def test_the_first_messages_of_a_fresh_process_do_not_race_to_create_the_metrics(sqlite_url, tmp_path):
    for _ in range(3):  # a race: give it several chances to show
        run = subprocess.run([sys.executable, "-c", RACE, sqlite_url, str(tmp_path)], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "errors: []" in run.stdout, run.stdout + run.stderr


def test_a_sent_customer_service_message_whose_record_fails_once_is_not_sent_again(db_url, tmp_path, monkeypatch):
    import worker.loop as worker_module

    with FakeWeChatApi() as api:
        kit = Outbound(outbound_settings(db_url, tmp_path, api))
        now = utcnow()
        with kit.sessions.begin() as session:
            session.add(Follower(openid="oRecordFails01", last_interaction_at=now, window_quota=5, window_used=0,
                                 window_expires_at=now + timedelta(hours=47)))
        row_id = kit.enqueue(kind="request_update", recipient=Recipient.person("oRecordFails01"), payload={"text": "您的求助已受理。"},
                             idempotency_key="drill:record-fails")
        real = worker_module.delivery.record_success
        calls = []

        def flaky(session, send, msgid, now):
            calls.append(send.row_id)
            if len(calls) == 1:  # the database drops the connection (pg_terminate_backend)
                raise OperationalError("UPDATE outbox_message", {}, Exception("terminating connection"))
            return real(session, send, msgid, now)

        monkeypatch.setattr(worker_module.delivery, "record_success", flaky)
        kit.drain()
        assert [d.touser for d in api.delivered(CUSTOM)] == ["oRecordFails01"]  # once
        assert str(kit.row(row_id).status) == "sent"
        assert len(calls) == 2  # recorded on the second try
        kit.close()


def test_a_retry_handles_a_message_whose_first_attempt_died_holding_the_claim(sqlite_url, tmp_path, apps, plain_peer,
                                                                             redis_url):
    """A SIGKILLed web worker leaves its Redis claim (a lease); WeChat's retry, answered
    "success" at the deadline, still gets the message handled once the lease runs out,
    and the reply goes out as a late (customer-service) reply."""
    counter = Counter()
    # The retry waits for the dead attempt until 3 deadlines + 1 s, trying the claim about once a
    # second: the dead lease (2 s) outlasts the retry's deadline (1 s) and runs out two tries before
    # that horizon (4 s), so a slow machine still sees both sides of it.
    settings = make_settings(sqlite_url, tmp_path, REDIS_URL=redis_url, WEBHOOK_REPLY_DEADLINE="1.0")
    client = apps(settings, routes=counter.routes()).test_client()
    msg_id = int(time.time() * 1000)
    key = dedupe_key("oDiedMidway01", msg_id, 0, None, None)
    redis_lib.Redis.from_url(redis_url).set("shuangyong:inbound:" + key, RedisDedupe.PROCESSING + "dead", px=2000)

    retry = plain_peer.post(client, text_xml("还在吗", openid="oDiedMidway01", msg_id=msg_id))
    assert retry.status_code == 200 and plain_peer.reply_text(retry.data) is None  # "success" at the deadline
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        late = [r for r in outbox_rows(sqlite_url) if r.kind == "late_reply"]
        if late:
            break
        time.sleep(0.1)
    assert [r.payload["text"] for r in late] == ["已收到：还在吗"]
    assert counter.calls == 1
    again = plain_peer.post(client, text_xml("还在吗", openid="oDiedMidway01", msg_id=msg_id))
    assert plain_peer.reply_text(again.data) is None and counter.calls == 1  # answered once, late


def _stores(url, redis_url, redis_store=None):
    from models.database import make_engine, make_session_factory

    engine = make_engine(url)
    sessions = make_session_factory(engine)
    client = redis_lib.Redis.from_url(redis_url, socket_timeout=0.5)
    store = RedisWithDatabaseFallback(redis_store or RedisDedupe(client, timedelta(days=1), lease=timedelta(seconds=8)),
                                      DatabaseDedupe(sessions, timedelta(days=1)), (redis_lib.RedisError,))
    return engine, sessions, store


def test_no_reply_is_stored_for_work_that_rolled_back(sqlite_url, redis_url):
    engine, sessions, store = _stores(sqlite_url, redis_url)
    claim = Claim(f"k-rollback-{time.time()}", "text", None)
    with sessions() as session:
        assert store.claim(claim, utcnow(), session)
        store.confirm(claim)
        store.complete(claim.key, "联系人姓名：", session)
        session.rollback()  # the process died (or the commit failed) before the commit
    assert store.stored_reply(claim.key, 0) is None  # no answer for work never saved
    other = Claim(f"k-commit-{time.time()}", "text", None)
    with sessions() as session:
        assert store.claim(other, utcnow(), session)
        store.confirm(other)
        store.complete(other.key, "联系人姓名：", session)
        session.commit()
    assert store.stored_reply(other.key, 0) == "联系人姓名："
    engine.dispose()


class _PausedAfterClaim(RedisDedupe):
    """Redis answers the claim, then goes quiet (CLIENT PAUSE) for the rest of the message."""

    def confirm(self, claim):
        raise redis_lib.TimeoutError("Timeout reading from socket")

    def complete(self, key, reply, session):
        raise redis_lib.TimeoutError("Timeout reading from socket")


def test_redis_going_away_mid_message_records_it_in_the_database(sqlite_url, redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    engine, sessions, store = _stores(sqlite_url, redis_url, _PausedAfterClaim(client, timedelta(days=1)))
    claim = Claim(f"k-paused-{time.time()}", "text", None)
    with sessions() as session:
        assert store.claim(claim, utcnow(), session)
        store.confirm(claim)
        store.complete(claim.key, "请核对：", session)  # raised before: the handler answered 系统繁忙
        session.commit()
    with sessions() as session:
        row = session.scalars(select(InboundMessage).where(InboundMessage.dedupe_key == claim.key)).one()
    assert str(row.status).lower().endswith("done")
    assert store.stored_reply(claim.key, 0) == "请核对："  # a retry gets the reply
    engine.dispose()


class _DropsTheConnectionOnce:
    """A handler whose database connection is terminated under it the first time
    (what `pg_terminate_backend` did to the web workers in the drill)."""

    def __init__(self):
        self.calls = 0

    def handle(self, ctx):
        import psycopg
        from sqlalchemy import text

        from tests.conftest import PG_ADMIN_URL

        self.calls += 1
        if self.calls == 1:
            pid = ctx.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        ctx.session.execute(text("SELECT 1"))
        return f"已收到：{ctx.message.text}"

    def routes(self):
        from handlers.router import ROUTES, Route

        return (Route("drops", lambda ctx: ctx.message.msg_type == "text", self.handle),) + ROUTES


def test_a_database_connection_killed_mid_message_is_handled_again_not_answered_busy(pg_url, tmp_path, apps,
                                                                                     plain_peer):
    from tests.conftest import _truncate_all, count_rows

    _truncate_all(pg_url)
    handler = _DropsTheConnectionOnce()
    client = apps(make_settings(pg_url, tmp_path), routes=handler.routes()).test_client()
    reply = plain_peer.post(client, text_xml("断线了吗", openid="oDropped01", msg_id=int(time.time() * 1000)))
    assert plain_peer.reply_text(reply.data) == "已收到：断线了吗"  # was 系统繁忙
    assert handler.calls == 2 and count_rows(pg_url)["inbound_message"] == 1


def test_a_process_dying_between_confirm_and_commit_does_not_hold_the_message(sqlite_url, redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    engine, sessions, store = _stores(sqlite_url, redis_url,
                                      RedisDedupe(client, timedelta(days=1), lease=timedelta(seconds=0.3)))
    claim = Claim(f"k-died-{time.time()}", "text", None)
    with sessions() as session:
        assert store.claim(claim, utcnow(), session)
        store.confirm(claim)
        store.complete(claim.key, "联系电话（手机）：", session)
    # SIGKILL before the commit: nothing was saved; once the lease runs out, a retry handles it
    time.sleep(0.4)
    with sessions() as session:
        assert store.claim(Claim(claim.key, "text", None), utcnow(), session)
    engine.dispose()


def test_a_late_reply_goes_before_a_big_push(db_url):
    from models.database import make_engine, make_session_factory
    from services import delivery, outbox

    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        for n in range(30):
            outbox.enqueue(session, kind="holiday_reminder", recipient=Recipient.person(f"oCampaign{n:04d}"),
                           payload={"fields": {"thing1": "节日问候"}}, idempotency_key=f"drill:campaign:{n}")
        late = outbox.enqueue(session, kind="late_reply", recipient=Recipient.person("oWaiting0001"), payload={"text": "联系人姓名："},
                              idempotency_key="drill:late")
    with sessions.begin() as session:
        claimed = delivery.claim_due(session, utcnow() + timedelta(seconds=1), 4, timedelta(seconds=60))
    assert late.id in [c.row_id for c in claimed] and len(claimed) == 4
    engine.dispose()


def test_a_reply_that_missed_the_deadline_is_not_also_given_to_a_retry(sqlite_url, tmp_path, apps, plain_peer,
                                                                       redis_url, monkeypatch):
    import bot.webhook as webhook

    slow_queue = webhook._ReplyJob._queue_late_reply

    def queued_slowly(self, reply):  # widens the moment between the commit and queueing the late reply
        time.sleep(1.0)
        return slow_queue(self, reply)

    monkeypatch.setattr(webhook._ReplyJob, "_queue_late_reply", queued_slowly)
    counter = Counter(delay=0.6)
    settings = make_settings(sqlite_url, tmp_path, REDIS_URL=redis_url, WEBHOOK_REPLY_DEADLINE="0.3")
    client = apps(settings, routes=counter.routes()).test_client()
    xml = text_xml("慢一点", openid="oSlowOnce01", msg_id=int(time.time() * 1000))
    assert plain_peer.reply_text(plain_peer.post(client, xml).data) is None  # "success" at the deadline
    time.sleep(0.6)  # the handler has committed
    retry = plain_peer.post(client, xml)  # WeChat's retry (its answer to the first came too late)
    assert plain_peer.reply_text(retry.data) is None  # not the reply: that goes out late, once
    time.sleep(1.2)
    assert [r.payload["text"] for r in outbox_rows(sqlite_url) if r.kind == "late_reply"] == ["已收到：慢一点"]
    assert counter.calls == 1
