"""Plays WeChat's side of the webhook protocol: signs, encrypts and posts messages.

Built from the protocol description (wechat-platform.md §1–§4) with wechatpy's
crypto, independently of the project's own `wechat.protocol` helpers.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import string
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from wechatpy.crypto import WeChatCrypto

SAMPLES = Path(__file__).parent / "data" / "wechat-samples"
INBOUND = SAMPLES / "inbound"
ACCOUNT = "gh_3f9a2b7c1d0e"
_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(content: str, openid: str = "oUser0001", msg_id: int | None = None, create_time: int | None = None) -> str:
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id or next(_msg_ids)}</MsgId>"
        "</xml>"
    )


def event_xml(event: str, openid: str = "oUser0001", key: str | None = None, create_time: int | None = None) -> str:
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else ""
    return (
        "<xml>"
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key_xml}"
        "</xml>"
    )


class WeChatPeer:
    def __init__(self, token: str, aes_key: str | None = None, app_id: str | None = None, mode: str = "plain"):
        self.token = token
        self.mode = mode  # plain, compat or safe
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    def sign_query(self, timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or "".join(random.choices(string.digits, k=10))
        return {"signature": sha1_sorted(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}

    def envelope(self, xml: str, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """The query string and body WeChat would send for this inner XML."""
        query = self.sign_query(timestamp)
        openid = ET.fromstring(xml.encode()).findtext("FromUserName") or ""
        query["openid"] = openid
        if self.mode == "plain":
            return query, xml.encode()
        sealed = ET.fromstring(self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))
        encrypted = sealed.findtext("Encrypt")
        query.update(encrypt_type="aes", msg_signature=sealed.findtext("MsgSignature"))
        if self.mode == "compat":
            inner = xml.strip()[len("<xml>") : -len("</xml>")]
            body = f"<xml>{inner}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        else:
            body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return query, body.encode()

    def post(self, client, xml: str, timestamp: int | None = None):
        """POST through a Flask test client."""
        query, body = self.envelope(xml, timestamp)
        return client.post("/wechat", query_string=query, data=body, content_type="text/xml")

    def reply_text(self, response_body: bytes | str) -> str | None:
        """The Content of a text reply (decrypted in aes modes), or None for "success"."""
        body = response_body.decode() if isinstance(response_body, bytes) else response_body
        if body in ("success", ""):
            return None
        root = ET.fromstring(body.encode())
        if self.crypto is not None and root.find("Encrypt") is not None:
            signature = sha1_sorted(
                self.token, root.findtext("TimeStamp"), root.findtext("Nonce"), root.findtext("Encrypt")
            )
            assert signature == root.findtext("MsgSignature"), "reply signature does not verify"
            root = ET.fromstring(self.crypto.decrypt_message(body, signature, root.findtext("TimeStamp"), root.findtext("Nonce")).encode())
        assert root.findtext("MsgType") == "text"
        return root.findtext("Content")
