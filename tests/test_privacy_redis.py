"""删除我的信息 with a Redis dedupe store (REDIS_URL): the replies cached there for WeChat's
retries (which may quote the person's name and phone) are removed with the rest, against the
real local Redis. They are found through a per-sender set named by the keyed sender hash, so
Redis never holds the openid."""

from __future__ import annotations

import pytest
import redis as redis_lib

from models.encrypted import blind_index, decrypt_text
from tests.conftest import TOKEN, make_settings
from tests.conversation_fixtures import clock, db  # noqa: F401
from tests.test_conversation_volunteer import UP_TO_SUMMARY
from tests.transcript import Chat, has
from tests.wechat_peer import WeChatPeer

PREFIX = "shuangyong:inbound:"
IDENTIFYING = ("张伟民", "13912345678", "139****5678")


@pytest.fixture
def redis_client(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def redis_chat(db, tmp_path, apps, redis_url, clock):
    app = apps(make_settings(db.url, tmp_path, REDIS_URL=redis_url))
    return lambda openid: Chat(app, WeChatPeer(TOKEN), openid, clock)


def _cached_replies(client, leave_out=()) -> list[str]:
    """Every cached reply, decrypted as someone holding the key would read it."""
    replies = []
    for key in client.keys(PREFIX + "*"):
        if client.type(key) == b"string" and key not in leave_out:
            value = client.get(key).decode()
            replies.append(decrypt_text(value) if value and not value.startswith("\x00") else value)
    return replies


def test_deleting_my_information_removes_my_cached_replies_from_redis(redis_chat, redis_client):
    me, other = redis_chat("oRedisErase1"), redis_chat("oRedisKeep1")
    me.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    other.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    # The scene: replies quoting both people are cached, each person's keys listed under their hash.
    assert any("张伟民" in r for r in _cached_replies(redis_client))
    mine = PREFIX + "sender:" + blind_index("oRedisErase1", "openid")
    theirs = PREFIX + "sender:" + blind_index("oRedisKeep1", "openid")
    assert redis_client.scard(mine) >= len(UP_TO_SUMMARY) and redis_client.scard(theirs) >= len(UP_TO_SUMMARY)
    assert 0 < redis_client.ttl(mine) <= 86400
    their_keys = {(PREFIX + k.decode()).encode() for k in redis_client.smembers(theirs)}

    me.run([
        ("删除我的信息", has("确定要删除吗？")),
        ("1", has("确认删除")),
        ("确认删除", has("您的个人信息已删除。")),
    ])
    # Nothing cached that came from my conversation quotes me any more; my list is gone.
    mine_left = _cached_replies(redis_client, leave_out=their_keys)
    assert mine_left and not [r for r in mine_left if any(v in r for v in IDENTIFYING)]
    assert not redis_client.exists(mine)
    # The other person's cached replies are untouched.
    assert any("张伟民" in r for r in _cached_replies(redis_client)) and all(redis_client.get(k) for k in their_keys)
    # Redis holds neither openid anywhere, in key names or values.
    names = b" ".join(redis_client.keys("*"))
    assert b"oRedisErase1" not in names and b"oRedisKeep1" not in names
