"""Chat transcripts through the real webhook (zulip_bots style): what the user says, what the bot answers.

    chat = Chat(app, peer, "oVolunteer1")
    chat.run([
        ("志愿者报名", has("请问您的姓名？")),
        ("张伟民", "张伟民您好！请输入您的手机号："),
    ])

An expected answer is the exact text, or `has(...)` for the lines that matter
in a long answer. Every message is signed by tests/wechat_peer.py and goes through
the Flask test client: signature, parsing, dedupe, the router, the database.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from models import utcnow
from tests.wechat_peer import ACCOUNT, text_xml, event_xml

_msg_ids = itertools.count(880_000_000_000)


@dataclass(frozen=True)
class has:
    """The answer contains every one of these fragments."""

    fragments: tuple[str, ...]

    def __init__(self, *fragments: str):
        object.__setattr__(self, "fragments", fragments)

    def check(self, answer: str | None) -> bool:
        return answer is not None and all(f in answer for f in self.fragments)


class Clock:
    """The handlers' clock: starts now, moves only when told to."""

    def __init__(self, start: datetime | None = None):
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class Chat:
    def __init__(self, app, peer, openid: str = "oChatUser0001", clock: Clock | None = None):
        self.client = app.test_client()
        self.peer = peer
        self.openid = openid
        self.clock = clock
        if clock is not None:
            app.extensions["shuangyong"].clock = clock

    def say(self, text: str) -> str | None:
        return self._post(text_xml(text, openid=self.openid, msg_id=next(_msg_ids)))

    def click(self, key: str) -> str | None:
        return self._post(event_xml("CLICK", openid=self.openid, key=key, create_time=next(_msg_ids) % 2_000_000_000))

    def event(self, name: str, key: str | None = None) -> str | None:
        return self._post(event_xml(name, openid=self.openid, key=key, create_time=next(_msg_ids) % 2_000_000_000))

    def media(self, kind: str, media_id: str, recognition: str | None = None) -> str | None:
        extra = f"<MediaId><![CDATA[{media_id}]]></MediaId>"
        if kind == "voice":
            extra += "<Format><![CDATA[amr]]></Format>"
            if recognition:
                extra += f"<Recognition><![CDATA[{recognition}]]></Recognition>"
        else:
            extra += "<PicUrl><![CDATA[https://mmbiz.qpic.cn/example/1]]></PicUrl>"
        xml = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{self.openid}]]></FromUserName>"
            f"<CreateTime>1738368000</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
            f"{extra}<MsgId>{next(_msg_ids)}</MsgId></xml>"
        )
        return self._post(xml)

    def location(self, label: str, x: str = "30.572815", y: str = "104.066801") -> str | None:
        """A shared location, as WeChat sends it: coordinates and the place's name (Label)."""
        xml = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{self.openid}]]></FromUserName>"
            f"<CreateTime>1738368000</CreateTime><MsgType><![CDATA[location]]></MsgType>"
            f"<Location_X>{x}</Location_X><Location_Y>{y}</Location_Y><Scale>16</Scale>"
            f"<Label><![CDATA[{label}]]></Label><MsgId>{next(_msg_ids)}</MsgId></xml>"
        )
        return self._post(xml)

    def _post(self, xml: str) -> str | None:
        response = self.peer.post(self.client, xml)
        assert response.status_code == 200, response.status_code
        return self.peer.reply_text(response.data)

    def run(self, turns) -> None:
        """Each turn: (what the user says, the expected answer). Stops at the first difference."""
        for number, (said, expected) in enumerate(turns, start=1):
            answer = self.say(said)
            ok = expected.check(answer) if isinstance(expected, has) else answer == expected
            assert ok, f"turn {number}: user said {said!r}\n--- bot answered:\n{answer}\n--- expected:\n{expected}"
