"""What the handlers see of an inbound WeChat message: the message itself (wechat.message) and
the context it is handled in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from wechat.message import Incoming

__all__ = ["Context", "Incoming"]


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
