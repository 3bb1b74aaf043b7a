"""The simulator's JSON endpoints without a browser: only in the sandbox, bad input refused."""

from __future__ import annotations

import pytest

from wechat.protocol import Rejected
from wechat.peer import WeChatPeer, text_xml
from tests.conftest import AES_KEY, APP_ID, TOKEN, count_rows, make_settings


def test_the_simulator_does_not_exist_outside_the_sandbox(sqlite_url, tmp_path, apps):
    live = apps(make_settings(sqlite_url, tmp_path, WECHAT_APP_ID=APP_ID)).test_client()
    for path in ("/simulator/", "/simulator/api/users", "/simulator/static/simulator.js"):
        assert live.get(path).status_code == 404
    assert live.post("/simulator/api/send", json={"type": "text", "openid": "oX", "content": "你好"}).status_code == 404
    assert live.post("/simulator/api/time-travel", json={"date": "2027-01-20"}).status_code == 404


def test_the_sandbox_serves_the_page_with_the_menu(sqlite_url, tmp_path, apps):
    client = apps(make_settings(sqlite_url, tmp_path, DEMO_MODE=1)).test_client()
    page = client.get("/simulator/").get_data(as_text=True)
    for name in ("我要报名", "志愿者报名", "我要求助", "双拥服务", "联系我们", "新关注用户", "扫一扫", "跳转到这一天"):
        assert name in page
    assert 'data-key="VOLUNTEER_SIGNUP"' in page


@pytest.mark.parametrize("body, error", [
    ({"type": "voice", "openid": "oDEMO0001"}, "type 应为"),
    ({"type": "click", "openid": "oDEMO0001"}, "type 应为"),
    ({"type": "text", "openid": "oDEMO0001", "content": " "}, "请输入要发送的文字"),
    ({"type": "text", "openid": "oDEMO0001", "content": "字" * 601}, "不能超过 600"),
    ({"type": "text", "openid": "<bad openid>", "content": "你好"}, "请先选择一位用户"),
    ({"type": "scan", "openid": "oDEMO0001", "key": "a]]><x"}, "key 参数不正确"),
    (["text"], "JSON 对象"),
])
def test_send_refuses_bad_messages_and_writes_nothing(sqlite_url, tmp_path, apps, body, error):
    client = apps(make_settings(sqlite_url, tmp_path, DEMO_MODE=1)).test_client()
    before = count_rows(sqlite_url)
    response = client.post("/simulator/api/send", json=body)
    assert response.status_code == 400
    assert error in response.get_json()["error"]
    assert count_rows(sqlite_url) == before


@pytest.mark.parametrize("body, error", [
    ({"date": "2020-01-20"}, "只能跳转到今天或以后"),
    ({"date": "2027-13-01"}, "请选择日期"),
    ({}, "请选择日期"),
])
def test_time_travel_refuses_bad_days_and_runs_nothing(sqlite_url, tmp_path, apps, body, error):
    client = apps(make_settings(sqlite_url, tmp_path, DEMO_MODE=1)).test_client()
    before = count_rows(sqlite_url)
    response = client.post("/simulator/api/time-travel", json=body)
    assert response.status_code == 400 and error in response.get_json()["error"]
    assert count_rows(sqlite_url) == before


def test_pushes_refuses_a_bad_query(sqlite_url, tmp_path, apps):
    client = apps(make_settings(sqlite_url, tmp_path, DEMO_MODE=1)).test_client()
    assert client.get("/simulator/api/pushes?openid=oDEMO1&after=x").status_code == 400
    assert client.get("/simulator/api/pushes?openid=oDEMO1&after=0").get_json() == {"pushes": []}


def test_the_peer_refuses_a_reply_whose_signature_does_not_verify():
    peer = WeChatPeer(TOKEN, AES_KEY, APP_ID)
    sealed = peer.crypto.encrypt(text_xml("oDEMO1", "你好"), "12345", "1700000000")
    assert peer.reply_text(sealed.encode()) == "你好"
    forged = sealed.replace("<MsgSignature><![CDATA[", "<MsgSignature><![CDATA[0")
    with pytest.raises(Rejected):
        peer.reply_text(forged.encode())
