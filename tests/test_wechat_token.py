"""The shared access token: stable_token, one fetch for many threads, bounded refresh
on token errors, the configured API host — the real wechatpy client against the fake API."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib

from wechat.api import make_client
from wechat.token_store import DatabaseTokenStore, Token
from models.database import make_engine, make_session_factory
from services.delivery_policy import ApiError
from tests.fake_wechat_api import APP_ID, CUSTOM, STABLE_TOKEN, TEMPLATE, FakeWeChatApi
from tests.outbound_kit import outbound_settings

USER = "oUserAlpha0001"
BODY = {"touser": USER, "template_id": "TPL", "data": {"thing1": {"value": "进度更新"}}}


@pytest.fixture
def api():
    with FakeWeChatApi() as fake:
        yield fake


@pytest.fixture
def sessions(db_url):
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def _client(db_url, tmp_path, api, sessions, redis=None, **overrides):
    settings = outbound_settings(db_url, tmp_path, api, **overrides)
    return make_client(settings, redis=redis, sessions=sessions)


def _all_at_once(count, work):
    barrier, results, errors = threading.Barrier(count), [], []

    def run():
        barrier.wait()
        try:
            results.append(work())
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_ten_threads_needing_a_token_cause_one_fetch(db_url, tmp_path, api, sessions):
    api.latency = 0.05  # a slow token endpoint widens the race
    clients = [_client(db_url, tmp_path, api, sessions) for _ in range(2)]  # two "processes"' clients
    tokens = _all_at_once(10, lambda: clients[threading.get_ident() % 2].tokens.current())
    assert api.token_fetches == 1
    assert set(tokens) == {api.token}
    assert api.plain_token_fetches == 0


def test_ten_threads_with_the_token_in_redis_cause_one_fetch(sqlite_url, tmp_path, api, redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    api.latency = 0.05
    wechat = _client(sqlite_url, tmp_path, api, None, redis=client)
    other = _client(sqlite_url, tmp_path, api, None, redis=client)
    tokens = _all_at_once(10, lambda: (wechat if threading.get_ident() % 2 else other).tokens.current())
    assert api.token_fetches == 1 and set(tokens) == {api.token}
    assert api.token.encode() not in b"".join(client.get(k) or b"" for k in client.keys("*"))  # stored encrypted
    client.close()


def test_the_token_is_refreshed_shortly_before_it_expires(db_url, tmp_path, api, sessions):
    wechat = _client(db_url, tmp_path, api, sessions)
    first = wechat.tokens.current()
    with DatabaseTokenStore(sessions, APP_ID).locked() as held:  # as if fetched long ago
        held.store(Token(first, time.time() + 60))
    api.expire_token()
    other = _client(db_url, tmp_path, api, sessions)  # another process reads the shared store
    second = other.tokens.current()
    assert second != first and api.token_fetches == 2
    assert other.tokens.current() == second and api.token_fetches == 2


def test_a_token_another_process_replaced_is_picked_up_without_a_fetch(db_url, tmp_path, api, sessions):
    mine, theirs = _client(db_url, tmp_path, api, sessions), _client(db_url, tmp_path, api, sessions)
    old = mine.tokens.current()  # this process now reuses it for a few seconds
    api.revoke_token()
    assert theirs.call("message/template/send", BODY)["errcode"] == 0  # they get 40001 and refresh
    assert api.token_fetches == 2

    assert mine.call("message/template/send", BODY)["errcode"] == 0
    assert [c.token == old for c in api.calls(TEMPLATE)] == [True, False, True, False]
    assert api.token_fetches == 2  # the refused old token led to the store, not to WeChat


def test_an_expired_token_is_replaced_once_and_the_call_retried_once(db_url, tmp_path, api, sessions):
    wechat = _client(db_url, tmp_path, api, sessions)
    wechat.tokens.current()
    api.expire_token()  # WeChat now answers 42001 for the stored token
    result = wechat.call("message/template/send", BODY)
    assert result["errcode"] == 0
    answers = [c.answer.get("errcode") for c in api.calls(TEMPLATE)]
    assert answers == [42001, 0] and api.token_fetches == 2


def test_a_token_wechat_keeps_refusing_is_force_refreshed_once(db_url, tmp_path, api, sessions):
    wechat = _client(db_url, tmp_path, api, sessions)
    wechat.tokens.current()
    api.stale_stable_token = True
    api.revoke_token()  # refused with 40001, yet stable_token in normal mode still hands it out
    assert wechat.call("message/template/send", BODY)["errcode"] == 0
    assert api.forced_fetches == 1 and api.token_fetches == 3


def test_token_errors_never_loop(db_url, tmp_path, api, sessions):
    wechat = _client(db_url, tmp_path, api, sessions)
    api.respond(TEMPLATE, 40001, 40014, 42001, 40001)
    with pytest.raises(ApiError) as raised:
        wechat.call("message/template/send", BODY)
    assert raised.value.errcode == 40014
    assert len(api.calls(TEMPLATE)) == 2  # the call and one retry, never more
    assert len(api.calls(STABLE_TOKEN)) <= 3  # first fetch, one refresh (and at most one forced)


def test_many_threads_refused_at_once_refresh_once(db_url, tmp_path, api, sessions):
    wechat = _client(db_url, tmp_path, api, sessions)
    wechat.tokens.current()
    api.revoke_token()
    results = _all_at_once(10, lambda: wechat.call("message/template/send", BODY)["errcode"])
    assert results == [0] * 10
    assert api.token_fetches == 2


def test_a_wrong_secret_is_reported_not_retried(sqlite_url, tmp_path, api):
    engine = make_engine(sqlite_url)
    settings = outbound_settings(sqlite_url, tmp_path, api, WECHAT_APP_SECRET="not-the-secret")
    wechat = make_client(settings, sessions=make_session_factory(engine))
    with pytest.raises(ApiError) as raised:
        wechat.call("message/template/send", BODY)
    assert raised.value.errcode == 40125
    assert api.calls(TEMPLATE) == [] and len(api.calls(STABLE_TOKEN)) == 1
    engine.dispose()


def test_every_wechatpy_call_goes_to_the_configured_host_with_the_shared_token(sqlite_url, tmp_path, api):
    engine = make_engine(sqlite_url)
    wechat = _client(sqlite_url, tmp_path, api, make_session_factory(engine))
    wechat.message.send_text(USER, "您好")  # a plain wechatpy API method
    (call,) = api.calls(CUSTOM)
    assert call.token == api.token and call.body == {"touser": USER, "msgtype": "text", "text": {"content": "您好"}}
    for name in ("template", "customservice", "datacube", "wxa", "card"):
        assert getattr(wechat, name).API_BASE_URL.startswith(api.base_url)
    assert wechat.API_BASE_URL == f"{api.base_url}/cgi-bin/"
    engine.dispose()
