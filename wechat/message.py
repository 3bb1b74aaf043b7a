"""An inbound WeChat message as the protocol layer delivers it, independent of wechatpy.

Built by wechat.protocol.parse_incoming; the handlers see it as `ctx.message`
(handlers.message re-exports it beside their Context).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Incoming:
    openid: str
    account: str  # the official account's original id (gh_...)
    msg_type: str  # text, image, voice, video, shortvideo, location, link, event, unknown
    create_time: int
    msg_id: int | None = None  # None for events
    event: str | None = None  # lower case: subscribe, unsubscribe, click, scan, ...
    event_key: str | None = None
    content: str | None = None  # text messages only
    fields: dict[str, Any] = field(default_factory=dict)  # everything else, as parsed

    @property
    def is_event(self) -> bool:
        return self.msg_type == "event"

    @property
    def text(self) -> str:
        return (self.content or "").strip()
