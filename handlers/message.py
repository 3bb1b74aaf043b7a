"""What the handlers see of an inbound WeChat message, independent of wechatpy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


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


@dataclass
class Context:
    """One message being handled: the message, a database session and the clock.

    `settings` carries the deployment's choices (form timeout, site config files);
    `state` is the user's conversation row, locked by the router before any route runs.
    """

    message: Incoming
    session: Session
    now: datetime
    settings: Any = None  # config.Settings; None in bare unit tests means the defaults
    state: Any = None  # models.conversation.ConversationState once dispatch has locked it
    dedupe: Any = None  # services.inbound_dedupe store (删除我的信息 clears its cached replies)
