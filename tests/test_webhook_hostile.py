"""Hostile input is refused at once, changes nothing, and the next good message still works."""

from __future__ import annotations

import base64
import logging
import time
import xml.etree.ElementTree as ET

import pytest
from wechatpy.crypto import WeChatCrypto

from handlers import understanding
from handlers.router import ROUTES, Route
from tests.conftest import AES_KEY, APP_ID, TOKEN, count_rows
from tests.wechat_peer import ACCOUNT, WeChatPeer, sha1_sorted, text_xml



def assert_still_serving(client, peer):
    response = peer.post(client, text_xml("你好"))
    assert response.status_code == 200
    assert peer.reply_text(response.data) == understanding.GREETING


def refused_lines(caplog):
    return [r for r in caplog.records if r.name == "bot.webhook" and r.levelno == logging.WARNING]


@pytest.fixture
def plain_client(settings, apps):
    return apps(settings).test_client()


@pytest.fixture
def safe_client(safe_settings, apps):
    return apps(safe_settings).test_client()


# --- URL verification ---------------------------------------------------------------


def test_url_verification_echoes_only_for_a_valid_signature(plain_client, plain_peer):
    query = plain_peer.sign_query()
    good = plain_client.get("/wechat", query_string={**query, "echostr": "8123456789"})
    assert (good.status_code, good.data) == (200, b"8123456789")
    forged = plain_client.get("/wechat", query_string={**query, "signature": "0" * 40, "echostr": "8123456789"})
    assert forged.status_code == 403 and b"8123456789" not in forged.data
    missing = plain_client.get("/wechat", query_string={"echostr": "8123456789"})
    assert missing.status_code == 403
    stale = plain_client.get("/wechat", query_string={**plain_peer.sign_query(int(time.time()) - 3600), "echostr": "1"})
    assert stale.status_code == 403


def test_official_doc_signature_verifies(sqlite_url, tmp_path, apps):
    from tests.conftest import make_settings

    app = apps(make_settings(sqlite_url, tmp_path, WECHAT_TOKEN="AAAAA", WEBHOOK_TIMESTAMP_TOLERANCE=10**9))
    response = app.test_client().get(
        "/wechat",
        query_string={
            "signature": "899cf89e464efb63f54ddac96b0a0a235f53aa78",
            "timestamp": "1714037059",
            "nonce": "486452656",
            "echostr": "4375120948345356249",
        },
    )
    assert response.data == b"4375120948345356249"


# --- plaintext mode -----------------------------------------------------------------


def _post_raw(client, query, body: bytes):
    return client.post("/wechat", query_string=query, data=body, content_type="text/xml")


PLAIN_CASES = {
    "missing signature": (403, lambda p: ({}, text_xml("x").encode())),
    "forged signature": (403, lambda p: ({**p.sign_query(), "signature": "f" * 40}, text_xml("x").encode())),
    "signature for another token": (403, lambda p: (WeChatPeer("othertoken").sign_query(), text_xml("x").encode())),
    "timestamp six minutes old": (403, lambda p: (p.sign_query(int(time.time()) - 360), text_xml("x").encode())),
    "timestamp six minutes ahead": (403, lambda p: (p.sign_query(int(time.time()) + 360), text_xml("x").encode())),
    "malformed xml": (400, lambda p: (p.sign_query(), b"<xml><ToUserName>gh_x</ToUserName")),
    "not xml at all": (400, lambda p: (p.sign_query(), b'{"MsgType": "text"}')),
    "empty body": (400, lambda p: (p.sign_query(), b"")),
    "missing MsgType": (400, lambda p: (p.sign_query(), b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime></xml>")),
    "doctype": (400, lambda p: (p.sign_query(), b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1/x.dtd">' + text_xml("x").encode())),
    "external entity": (
        400,
        lambda p: (p.sign_query(), b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>'),
    ),
    "billion laughs": (
        400,
        lambda p: (p.sign_query(), b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><Content>&lol2;</Content></xml>'),
    ),
    "not utf-8": (400, lambda p: (p.sign_query(), text_xml("你好").encode("gbk"))),
    # Found by the fault drill (issue 11): each of these answered 500 with a traceback.
    "non-ASCII signature": (403, lambda p: ({**p.sign_query(), "signature": "签" * 40}, text_xml("x").encode())),
    "superscript digit as CreateTime": (400, lambda p: (p.sign_query(), text_xml("x", create_time="²").encode())),
    # A sender that looks like an outbox group recipient would become a "follower" named so.
    **{f"FromUserName {label}": (400, lambda p, name=name: (p.sign_query(), text_xml("x", openid=name).encode()))
       for label, name in (("all", "all"), ("role:staff", "role:staff"), ("tag:1", "tag:1"),
                           ("of 5000 characters", "o" * 5000))},
    "encrypted without a key configured": (400, lambda p: ({**p.sign_query(), "encrypt_type": "aes", "msg_signature": "0" * 40}, b"<xml><Encrypt>abc</Encrypt></xml>")),
}


@pytest.mark.parametrize("case", PLAIN_CASES, ids=list(PLAIN_CASES))
def test_plaintext_hostile_input(case, plain_client, plain_peer, settings, caplog):
    status, build = PLAIN_CASES[case]
    query, body = build(plain_peer)
    before = count_rows(settings.database_url)
    response = _post_raw(plain_client, query, body)
    assert response.status_code == status
    assert count_rows(settings.database_url) == before
    assert len(refused_lines(caplog)) == 1
    assert "oUser0001" not in caplog.text
    assert_still_serving(plain_client, plain_peer)


def test_oversized_body_is_413(plain_client, plain_peer, settings):
    big = text_xml("长" * 400_000).encode()  # ~1.2 MB
    assert len(big) > 1024 * 1024
    before = count_rows(settings.database_url)
    response = _post_raw(plain_client, plain_peer.sign_query(), big)
    assert response.status_code == 413
    assert count_rows(settings.database_url) == before
    assert_still_serving(plain_client, plain_peer)


def test_body_limit_is_configurable(sqlite_url, tmp_path, apps, plain_peer):
    from tests.conftest import make_settings

    app = apps(make_settings(sqlite_url, tmp_path, WEBHOOK_MAX_BODY_BYTES=2048))
    client = app.test_client()
    assert _post_raw(client, plain_peer.sign_query(), text_xml("长" * 1000).encode()).status_code == 413
    assert_still_serving(client, plain_peer)


def test_timestamp_tolerance_is_configurable(sqlite_url, tmp_path, apps, plain_peer):
    from tests.conftest import make_settings

    app = apps(make_settings(sqlite_url, tmp_path, WEBHOOK_TIMESTAMP_TOLERANCE=900))
    response = plain_peer.post(app.test_client(), text_xml("你好"), timestamp=int(time.time()) - 600)
    assert response.status_code == 200


# --- safe mode ----------------------------------------------------------------------


def _sealed(xml: str, app_id: str = APP_ID, key: str = AES_KEY) -> str:
    ts, nonce = str(int(time.time())), "12345"
    envelope = WeChatCrypto(TOKEN, key, app_id).encrypt_message(xml, nonce, ts)
    return ET.fromstring(envelope.encode()).findtext("Encrypt")


def _safe_request(peer: WeChatPeer, encrypted: str, msg_signature: str | None = None):
    query = peer.sign_query()
    signature = msg_signature or sha1_sorted(TOKEN, query["timestamp"], query["nonce"], encrypted)
    query.update(encrypt_type="aes", msg_signature=signature)
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return query, body.encode()


SAFE_CASES = {
    "forged msg_signature": (403, lambda p: _safe_request(p, _sealed(text_xml("x")), "a" * 40)),
    "missing msg_signature": (403, lambda p: ({k: v for k, v in _safe_request(p, _sealed(text_xml("x")))[0].items() if k != "msg_signature"}, _safe_request(p, _sealed(text_xml("x")))[1])),
    "wrong AppId inside": (400, lambda p: _safe_request(p, _sealed(text_xml("x"), app_id="wxffffffffffffffff"))),
    "other EncodingAESKey": (400, lambda p: _safe_request(p, _sealed(text_xml("x"), key="B" * 43))),
    "truncated ciphertext": (400, lambda p: _safe_request(p, _sealed(text_xml("x"))[:64])),
    "ciphertext cut mid-block": (400, lambda p: _safe_request(p, base64.b64encode(base64.b64decode(_sealed(text_xml("x")))[:-5]).decode())),
    "non-base64 ciphertext": (400, lambda p: _safe_request(p, "这不是密文!!**")),
    "empty Encrypt": (400, lambda p: _safe_request(p, "")),
    "doctype inside the ciphertext": (400, lambda p: _safe_request(p, _sealed('<!DOCTYPE xml [<!ENTITY e "x">]>' + text_xml("x")))),
    "plaintext body in safe mode": (400, lambda p: (p.sign_query(), text_xml("x").encode())),
    "malformed inner xml": (400, lambda p: _safe_request(p, _sealed("<xml><MsgType>text"))),
}


@pytest.mark.parametrize("case", SAFE_CASES, ids=list(SAFE_CASES))
def test_safe_mode_hostile_input(case, safe_client, safe_peer, safe_settings, caplog):
    status, build = SAFE_CASES[case]
    query, body = build(safe_peer)
    before = count_rows(safe_settings.database_url)
    response = _post_raw(safe_client, query, body)
    assert response.status_code == status
    assert count_rows(safe_settings.database_url) == before
    assert len(refused_lines(caplog)) == 1
    assert_still_serving(safe_client, safe_peer)


# --- replies that must not break ----------------------------------------------------


def echo_routes():
    return (Route("echo", lambda ctx: ctx.message.msg_type == "text", lambda ctx: f"您说：{ctx.message.text}"),) + ROUTES


@pytest.mark.parametrize("peer_mode", ["plain", "safe"])
def test_user_text_with_cdata_terminator_survives_the_reply(peer_mode, settings, safe_settings, apps):
    tricky = "a]]>b<c>&amp;]]]]>>"
    if peer_mode == "plain":
        client, peer = apps(settings, routes=echo_routes()).test_client(), WeChatPeer(TOKEN)
    else:
        client, peer = apps(safe_settings, routes=echo_routes()).test_client(), WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
    xml = text_xml(tricky.replace("]]>", "]]]]><![CDATA[>"))  # how WeChat itself would encode it
    response = peer.post(client, xml)
    assert response.status_code == 200
    assert peer.reply_text(response.data) == f"您说：{tricky}"
