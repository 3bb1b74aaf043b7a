"""The webhook's hot path. With Redis, a message that changes nothing in the database writes
nothing there: its claim, its sender's lock and its reply live in Redis. On SQLite a message is
first run as a reader, and one that changes nothing writes only its dedupe row. A message that
writes keeps its database record."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from models import InboundMessage
from models.conversation import ConversationState
from handlers.router import ROUTES, Route
from models.database import WriteNeeded, make_engine, make_session_factory, watch_writes
from models import utcnow
from services import conversations
from tests.conftest import TOKEN, count_rows, make_settings
from tests.conversation_fixtures import ensure_faq
from tests.test_conversation_volunteer import UP_TO_SUMMARY
from tests.transcript import Chat
from tests.wechat_peer import WeChatPeer, text_xml


@pytest.fixture
def redis_app(db_url, tmp_path, apps, redis_url):
    ensure_faq(db_url)
    return apps(make_settings(db_url, tmp_path, REDIS_URL=redis_url))


def _user_locks(redis_url) -> list[bytes]:
    return redis_lib.Redis.from_url(redis_url).keys("shuangyong:inbound:user:*")


def test_a_message_that_changes_nothing_leaves_no_row_and_its_retry_gets_the_reply(redis_app, db_url, redis_url):
    peer = WeChatPeer(TOKEN)
    chat = Chat(redis_app, peer, "oRedisHot0001")
    assert chat.say("你好")  # the first message: follower and conversation rows are made
    before = count_rows(db_url)
    client = redis_app.test_client()
    xml = text_xml("帮助", openid="oRedisHot0001", msg_id=7_700_001)
    first = peer.reply_text(peer.post(client, xml).data)
    assert first == Chat(redis_app, peer, "oRedisHot0002").say("帮助")  # the help menu, as anyone gets it
    before = count_rows(db_url)
    assert count_rows(db_url) == before  # nothing written: no inbound row, no conversation update
    assert peer.reply_text(peer.post(client, xml).data) == first  # WeChat's retry: the same reply
    assert count_rows(db_url) == before
    assert _user_locks(redis_url) == []  # the sender is unlocked after each message


def test_a_message_that_writes_is_recorded_with_its_reply_and_the_form_goes_on(redis_app, db_url, redis_url):
    peer = WeChatPeer(TOKEN)
    chat = Chat(redis_app, peer, "oRedisForm001")
    chat.run(UP_TO_SUMMARY[:3])  # 志愿者报名, name, phone: each step changes the conversation
    rows = count_rows(db_url)["inbound_message"]
    assert rows == 3
    chat.run(UP_TO_SUMMARY[3:4])
    assert count_rows(db_url)["inbound_message"] == 4
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        state = session.get(ConversationState, "oRedisForm001")
    engine.dispose()
    assert state.step == "village"
    assert _user_locks(redis_url) == []


def test_a_stale_conversation_row_rolls_back_instead_of_overwriting(pg_url):
    """Two writers without a shared lock (one fell back to the database in a Redis outage):
    the second update of the same version is refused, nothing is overwritten. (On SQLite the
    two could not write at once in the first place.)"""
    engine = make_engine(pg_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        conversations.lock(session, "oStaleRow0001", utcnow())
    first, second = sessions(), sessions()
    for session in (first, second):
        conversations.mark_locked_elsewhere(session)
    a = conversations.lock(first, "oStaleRow0001", utcnow())
    b = conversations.lock(second, "oStaleRow0001", utcnow())
    conversations.offer_choices(a, ["faq"], utcnow(), timedelta(minutes=5))
    first.commit()
    conversations.offer_choices(b, ["help"], utcnow(), timedelta(minutes=5))
    with pytest.raises(StaleDataError):
        second.commit()
    second.close()
    first.close()
    with sessions() as session:
        assert session.get(ConversationState, "oStaleRow0001").scratch["choices"] == ["faq"]
    engine.dispose()


def test_a_read_first_transaction_refuses_its_first_write(sqlite_url):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    with watch_writes(read_first=True) as watch, sessions() as session:
        conversations.mark_locked_elsewhere(session)
        with pytest.raises(WriteNeeded):
            conversations.lock(session, "oNewReader001", utcnow())  # a new user needs a row
        session.rollback()
    assert not watch.wrote
    with watch_writes() as watch, sessions.begin() as session:
        conversations.lock(session, "oNewReader001", utcnow())
    assert watch.wrote
    engine.dispose()


def test_on_sqlite_a_message_that_changes_nothing_writes_only_its_record(sqlite_url, tmp_path, apps):
    ensure_faq(sqlite_url)
    app = apps(make_settings(sqlite_url, tmp_path))
    peer = WeChatPeer(TOKEN)
    chat = Chat(app, peer, "oReaderFirst01")
    assert chat.say("你好")
    before = count_rows(sqlite_url)
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        version = session.get(ConversationState, "oReaderFirst01").version
    assert chat.say("帮助") == Chat(app, peer, "oReaderFirst02").say("帮助")
    after = count_rows(sqlite_url)
    assert after["inbound_message"] == before["inbound_message"] + 2
    assert {k: v for k, v in after.items() if k not in ("inbound_message", "follower", "conversation_state")} == \
        {k: v for k, v in before.items() if k not in ("inbound_message", "follower", "conversation_state")}
    with make_session_factory(engine)() as session:
        assert session.get(ConversationState, "oReaderFirst01").version == version  # not written
    engine.dispose()


def test_on_sqlite_attempts_of_one_message_at_once_store_one_reply(sqlite_url, tmp_path, apps):
    """WeChat's retries, two workers, all at once: readers may each work out the answer, but one
    row is written and every attempt answers with it."""
    slow = (Route("slow answer", lambda ctx: ctx.message.text == "慢一点",
                  lambda ctx: time.sleep(0.3) or f"答复 {time.monotonic_ns()}"),) + ROUTES
    settings = make_settings(sqlite_url, tmp_path)
    clients = [apps(settings, routes=slow).test_client() for _ in range(2)]
    peer = WeChatPeer(TOKEN)
    Chat(apps(settings), peer, "oRetryReader1").say("你好")  # a known follower
    xml = text_xml("慢一点", openid="oRetryReader1", msg_id=7_700_100)
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda i: peer.reply_text(peer.post(clients[i % 2], xml).data), range(3)))
    assert len(set(answers)) == 1 and answers[0].startswith("答复")
    assert peer.reply_text(peer.post(clients[0], xml).data) == answers[0]  # and a later retry too
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(InboundMessage)).all()
    engine.dispose()
    assert len([r for r in rows if r.reply == answers[0]]) == 1


def test_a_retry_of_a_reply_cached_under_a_removed_key_is_answered_success(redis_url):
    """The data key was rotated and the old one removed within a reply's TTL: WeChat's retry
    gets "success" (the person had the reply from the first attempt), not 系统繁忙."""
    import base64

    from models import encrypted
    from services.inbound_dedupe import NO_REPLY, Claim, RedisDedupe

    store = RedisDedupe(redis_lib.Redis.from_url(redis_url), timedelta(hours=1))
    old, new = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    saved = encrypted._keys
    try:
        encrypted.configure_data_key(f"old:{old}")
        claim = Claim("k-rotated", "text", None)
        assert store.claim(claim, utcnow(), None)
        store.finish(claim, "您好，已收到")
        assert store.stored_reply("k-rotated", 0) == "您好，已收到"
        encrypted.configure_data_key(f"new:{new}")
        assert store.stored_reply("k-rotated", 0) == NO_REPLY
    finally:
        encrypted._keys = saved
