"""WeChat's side of the webhook, for the sandbox tools (`python -m bot chat`, the simulator):
build the XML WeChat would post, sign it (and seal it in safe mode), read the reply.

The signing and AES envelope are wechat.protocol's own (sign, MessageCrypto); tests keep an
independent peer (tests/wechat_peer.py) so the protocol is not checked against itself.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import NamedTuple
from xml.sax.saxutils import escape

from wechat.protocol import MessageCrypto, _parse_xml, sign

ACCOUNT = "gh_sandbox_demo"
_msg_ids = itertools.count(int(time.time() * 1000) * 1000 + secrets.randbelow(1000))


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_xml(openid: str, content: str, now: int | None = None) -> str:
    return (
        f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
        f"<CreateTime>{now or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content><MsgId>{next(_msg_ids)}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, key: str | None = None, now: int | None = None) -> str:
    key_xml = f"<EventKey>{_cdata(key)}</EventKey>" if key is not None else ""
    return (
        f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
        f"<CreateTime>{now or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event>{_cdata(event)}</Event>{key_xml}</xml>"
    )


class Envelope(NamedTuple):
    query: dict[str, str]
    body: bytes


class WeChatPeer:
    """Signs (and, with an EncodingAESKey, encrypts) what it posts, as WeChat does."""

    def __init__(self, token: str, aes_key: str | None = None, app_id: str | None = None):
        self.token = token
        self.crypto = MessageCrypto(token, aes_key, app_id) if aes_key and app_id else None

    @classmethod
    def from_settings(cls, settings) -> "WeChatPeer":
        """Safe mode when the account has an EncodingAESKey, plaintext otherwise."""
        return cls(settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id)

    def envelope(self, xml: str, openid: str) -> Envelope:
        """The query string and body of the POST to /wechat."""
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        query = {"signature": sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "openid": openid}
        if self.crypto is None:
            return Envelope(query, xml.encode())
        sealed = _parse_xml(self.crypto.encrypt(xml, nonce, timestamp))
        query.update(encrypt_type="aes", msg_signature=sealed["MsgSignature"])
        body = f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName><Encrypt>{_cdata(sealed['Encrypt'])}</Encrypt></xml>"
        return Envelope(query, body.encode())

    def reply_text(self, body: bytes) -> str | None:
        """The text of a passive reply, or None for "success"/empty (the answer comes later, pushed)."""
        if body.strip() in (b"", b"success"):
            return None
        data = _parse_xml(body)
        if self.crypto is not None:
            # In safe mode WeChat accepts only encrypted replies; so does this peer.
            if "Encrypt" not in data:
                raise ValueError("safe mode: the reply is not encrypted")
            data = _parse_xml(self.crypto.decrypt(body, data.get("MsgSignature"), data["TimeStamp"], data["Nonce"]))
        if data.get("MsgType") == "text":
            return data.get("Content") or ""
        return f"[{escape(str(data.get('MsgType')))} message]"
