"""Inbound messages seen by the webhook: the dedupe record and the stored reply."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, status_enum, utcnow
from models.encrypted import EncryptedText


class InboundStatus(enum.StrEnum):
    PROCESSING = "processing"
    DONE = "done"


class InboundMessage(Base):
    """One row per distinct message; the unique key makes WeChat's retries harmless.

    The key is a hash of sender + MsgId (events: sender + CreateTime + Event + EventKey),
    so the openid itself is not stored here.
    """

    __tablename__ = "inbound_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[InboundStatus] = mapped_column(status_enum(InboundStatus, 16))
    # The rendered reply text (may hold a user's own answers), encrypted at rest.
    reply: Mapped[str | None] = mapped_column(EncryptedText())
    # Keyed hash of the sender's openid: 删除我的信息 finds and blanks the person's cached replies.
    sender_bi: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_inbound_message_expires_at", "expires_at"),
        Index("ix_inbound_message_sender_bi", "sender_bi"),
    )
