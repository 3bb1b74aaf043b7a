"""Hostile inputs for /wechat, as hypothesis strategies, shared by tests/test_webhook_fuzz.py
(a bounded run in the suite) and bench/fuzz_webhook.py (a longer run that prints counts).

Each strategy draws a whole HTTP exchange: (method, query, body, signed) where `signed`
says whether the signature is valid — only then may a row be written."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.wechat_peer import ACCOUNT, sha1_sorted

QUERY_KEYS = ("signature", "timestamp", "nonce", "openid", "encrypt_type", "msg_signature", "echostr")
MSG_TYPES = ("text", "image", "voice", "video", "shortvideo", "location", "link", "event", "file", "miniprogrampage")
EVENTS = ("subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH",
          "MASSSENDJOBFINISH", "subscribe_msg_popup_event", "")

any_text = st.text(max_size=200)
hostile_text = st.one_of(
    any_text,
    st.sampled_from(["]]>", "<![CDATA[", "&amp;", "&#0;", "\x00", "\ufeff", "%s%n", "{{7*7}}", "' OR 1=1 --",
                     "<script>alert(1)</script>", "取消", "删除我的信息", "人工", "1", "同意", "\u202e", "A" * 700]),
)
numbers = st.one_of(st.integers(min_value=-2**70, max_value=2**70).map(str), any_text)


def signed_query(token: str, **extra) -> dict[str, str]:
    ts, nonce = str(int(time.time())), "1234567890"
    return {"signature": sha1_sorted(token, ts, nonce), "timestamp": ts, "nonce": nonce, **extra}


@st.composite
def random_query(draw):
    keys = draw(st.lists(st.one_of(st.sampled_from(QUERY_KEYS), any_text), max_size=8))
    return {k: draw(hostile_text) for k in keys}


@st.composite
def unsigned_exchange(draw):
    """Random bytes, random query strings and signatures: refused, nothing written."""
    method = draw(st.sampled_from(["GET", "POST"]))
    return method, draw(random_query()), draw(st.binary(max_size=2000)), False


def _element(name: str, value: str, cdata: bool) -> str:
    return f"<{name}><![CDATA[{value}]]></{name}>" if cdata else f"<{name}>{value}</{name}>"


@st.composite
def envelope_xml(draw) -> str:
    """A well-formed message envelope with garbage inside."""
    # Mostly a sound frame (so the handlers see the garbage), sometimes a broken one.
    sound = draw(st.integers(0, 3)) > 0
    openids = st.from_regex(r"o[A-Za-z0-9_-]{5,30}", fullmatch=True)
    msg_type = draw(st.sampled_from(MSG_TYPES) if sound else st.one_of(st.sampled_from(MSG_TYPES), any_text))
    parts = [
        _element("ToUserName", draw(st.just(ACCOUNT) if sound else any_text), draw(st.booleans())),
        _element("FromUserName", draw(openids if sound else st.one_of(openids, any_text)), draw(st.booleans())),
        _element("CreateTime", draw(st.integers(1, 2**31).map(str) if sound else numbers), False),
        _element("MsgType", msg_type, True),
    ]
    optional = {
        "Content": hostile_text, "MsgId": st.integers(1, 2**63).map(str) if sound else numbers, "Event": st.sampled_from(EVENTS), "EventKey": hostile_text,
        "MediaId": any_text, "PicUrl": any_text, "Location_X": numbers, "Label": hostile_text, "Recognition": any_text,
        "Ticket": any_text, "Status": any_text,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            parts.append(_element(name, draw(strategy), draw(st.booleans())))
    order = draw(st.permutations(parts))
    escaped = "".join(order).replace("]]>]]>", "]]>")
    return f"<xml>{escaped}</xml>"


@st.composite
def mutated_xml(draw) -> str:
    """A valid envelope, then cut, spliced, nested deep or given a DOCTYPE (XXE, entity bombs)."""
    base = draw(envelope_xml())
    how = draw(st.sampled_from(["cut", "splice", "deep", "doctype", "bomb", "bytes-ish", "duplicate"]))
    if how == "cut":
        return base[: draw(st.integers(0, len(base)))]
    if how == "splice":
        at = draw(st.integers(0, len(base)))
        return base[:at] + draw(hostile_text) + base[at:]
    if how == "deep":
        depth = draw(st.integers(50, 5000))
        return base.replace("</xml>", "<a>" * depth + "x" + "</a>" * depth + "</xml>")
    if how == "doctype":
        return ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                + base.replace("</xml>", "<Content>&xxe;</Content></xml>"))
    if how == "bomb":
        return ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
                '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
                '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>' + base.replace("</xml>", "<Content>&d;</Content></xml>"))
    if how == "bytes-ish":
        return base.replace("<xml>", "<xml>\x01\x02\ud7ff")
    return base.replace("</xml>", base[len("<xml>"):])  # every element twice


def signed_exchange(token: str):
    """Valid signature, hostile body (mutated XML, random bytes): refused, or answered; never a 5xx."""
    bodies = st.one_of(mutated_xml().map(lambda x: x.encode("utf-8", "surrogatepass")), st.binary(max_size=2000))
    return bodies.map(lambda body: ("POST", signed_query(token), body, True))


def valid_envelope_exchange(token: str):
    """Valid signature, well-formed envelope with garbage inside: answered (200), never a 5xx."""
    return envelope_xml().map(lambda xml: ("POST", signed_query(token), xml.encode("utf-8", "surrogatepass"), True))


@st.composite
def sealed_garbage_exchange(draw, token: str):
    """Safe mode: a correctly signed Encrypt element whose ciphertext is garbage."""
    encrypt = draw(st.one_of(st.binary(min_size=0, max_size=600).map(lambda b: __import__("base64").b64encode(b).decode()),
                             st.from_regex(r"[A-Za-z0-9+/=]{0,400}", fullmatch=True)))
    query = signed_query(token, encrypt_type="aes")
    query["msg_signature"] = sha1_sorted(token, query["timestamp"], query["nonce"], encrypt)
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return "POST", query, body.encode(), True


@dataclass
class Tally:
    """What a run saw: inputs tried, answers by status, defects."""

    tried: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    rows_for_refused: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def see(self, status: int) -> None:
        self.tried += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


def exchange(client, method: str, query: dict, body: bytes):
    if method == "GET":
        return client.get("/wechat", query_string=query)
    return client.post("/wechat", query_string=query, data=body, headers={"Content-Type": "text/xml"})
