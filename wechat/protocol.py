"""The WeChat protocol at the edge: signatures, AES envelopes, parsing, replies.

Everything here wraps wechatpy; anything it cannot vouch for is turned into a
`Rejected` carrying the HTTP status to answer with.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import TextReply

from wechat.message import Incoming
from models.outbox import OPENID

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_TIMESTAMP = re.compile(r"\d{1,12}")
_NONCE = re.compile(r"[A-Za-z0-9]{1,64}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{40}")  # a sha1 hex digest; anything else is refused before comparing
_CREATE_TIME = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is True, int("²") fails


class Rejected(Exception):
    """An inbound request we refuse; `status` is the HTTP answer, `reason` goes to the log."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted, concatenated parts."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_request_signature(token: str, args: dict[str, str], now: float, tolerance: int) -> None:
    """Every GET and POST carries signature/timestamp/nonce; refuse anything else with 403."""
    signature, timestamp, nonce = args.get("signature"), args.get("timestamp"), args.get("nonce")
    if not signature or not timestamp or not nonce:
        raise Rejected(403, "signature parameters missing")
    if not _TIMESTAMP.fullmatch(timestamp) or not _NONCE.fullmatch(nonce) or not _SIGNATURE.fullmatch(signature):
        raise Rejected(403, "malformed signature, timestamp or nonce")
    if not hmac.compare_digest(sign(token, timestamp, nonce), signature.lower()):
        raise Rejected(403, "bad signature")
    if abs(now - int(timestamp)) > tolerance:
        raise Rejected(403, "timestamp outside tolerance")


def reject_declarations(xml: bytes) -> None:
    """No DOCTYPE or ENTITY: WeChat never sends them and they only serve attacks."""
    if _DECLARATION.search(xml):
        raise Rejected(400, "DOCTYPE or ENTITY declaration")


class MessageCrypto:
    """The AES envelope of safe and compatible mode (wechatpy's WeChatCrypto)."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str):
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)
        self._token = token
        self._app_id = app_id

    def decrypt(self, body: bytes, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        """The inner XML of an encrypted POST, or Rejected (403 bad signature, 400 bad data)."""
        envelope = _parse_xml(body)
        encrypted = envelope.get("Encrypt")
        if not isinstance(encrypted, str) or not encrypted:
            raise Rejected(400, "no Encrypt element")
        if not msg_signature or not _SIGNATURE.fullmatch(msg_signature) or not hmac.compare_digest(
            sign(self._token, timestamp, nonce, encrypted), msg_signature.lower()
        ):
            raise Rejected(403, "bad msg_signature")
        prp = PrpCrypto(self._crypto.key)
        try:
            return prp.decrypt(encrypted, self._app_id)
        except Exception as exc:  # wrong AppId, bad base64, truncated or garbled ciphertext
            raise Rejected(400, f"ciphertext rejected ({type(exc).__name__})") from None

    def encrypt(self, xml: str, nonce: str, timestamp: str, random: str | None = None) -> str:
        """The encrypted reply envelope. `random` fixes the 16-byte prefix (test vectors)."""
        crypto_class = PrpCrypto
        if random is not None:
            crypto_class = type("FixedRandomPrpCrypto", (PrpCrypto,), {"get_random_string": lambda _self: random})
        return self._crypto._encrypt_message(xml, nonce, timestamp, crypto_class)


def _parse_xml(xml: bytes | str) -> dict[str, Any]:
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    reject_declarations(raw)
    try:
        document = xmltodict.parse(raw)
    except Exception:
        raise Rejected(400, "malformed XML") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise Rejected(400, "no <xml> root element")
    return root


REQUIRED_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
# Read as text by the handlers: an element nested inside, or repeated, is refused (found by fuzzing:
# <Content>a<b>c</b></Content> parsed to a dict and crashed the text handler).
TEXT_FIELDS = ("Content", "MsgId", "Event", "EventKey", "MediaId", "Recognition", "Label", "Ticket")


def parse_incoming(xml: str) -> Incoming:
    """Parse with wechatpy (once: its event names, e.g. subscribe_scan, are the handlers') and
    keep what the handlers need; anything malformed is Rejected."""
    reject_declarations(xml.encode("utf-8"))
    try:
        message = parse_message(xml)  # fails on broken XML, no <xml> root, no MsgType
    except Exception as exc:
        raise Rejected(400, f"malformed XML or no MsgType ({type(exc).__name__})") from None
    data = message._data if message is not None else None
    if not isinstance(data, dict):
        raise Rejected(400, "no <xml> root element")
    missing = [name for name in REQUIRED_FIELDS if not isinstance(data.get(name), str) or not data[name]]
    if missing:
        raise Rejected(400, f"missing {', '.join(missing)}")
    if not _CREATE_TIME.fullmatch(data["CreateTime"]):
        raise Rejected(400, "CreateTime is not a number")
    if not OPENID.fullmatch(data["FromUserName"]):
        raise Rejected(400, "FromUserName is not an openid")
    nested = [name for name in TEXT_FIELDS if data.get(name) is not None and not isinstance(data[name], str)]
    if nested:
        raise Rejected(400, f"{', '.join(nested)} is not text")
    try:
        msg_id = int(data["MsgId"]) if data.get("MsgId") else None
    except ValueError:
        raise Rejected(400, "MsgId is not a number") from None
    is_event = message.type == "event"
    return Incoming(
        openid=message.source,
        account=message.target,
        msg_type=message.type,
        create_time=int(message.time),
        msg_id=None if is_event else msg_id,
        event=message.event if is_event else None,
        event_key=data.get("EventKey") if is_event else None,
        content=data.get("Content") if message.type == "text" else None,
        fields=dict(data),
    )


def cdata_safe(text: str) -> str:
    """Neither wechatpy nor WeChat escapes `]]>` inside CDATA; split it instead."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def render_text_reply(incoming: Incoming, text: str, now: int) -> str:
    reply = TextReply(
        source=cdata_safe(incoming.account),
        target=cdata_safe(incoming.openid),
        content=cdata_safe(text),
        time=now,
    )
    return reply.render()
