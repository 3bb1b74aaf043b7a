"""The outbox: everything the service says on its own, written in the same
transaction as the change it reports, and delivered later by a worker."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, status_enum, utcnow
from models.encrypted import EncryptedJSON

# What an openid looks like (WeChat's are 28 characters of these). The group recipients of
# the outbox ("all", "role:staff", "tag:7") never match, so no sender can pose as one.
OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"
    EXPIRED = "expired"  # past its "valid until": never sent (the reason is in its event)


class Channel(enum.StrEnum):
    CUSTOMER_SERVICE = "customer_service"
    TEMPLATE = "template"
    SUBSCRIPTION = "subscription"
    MASS = "mass"
    SANDBOX = "sandbox"



class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    recipient: Mapped[str] = mapped_column(String(64))  # an openid, a tag id or "all"
    channel: Mapped[Channel] = mapped_column(status_enum(Channel))
    payload: Mapped[Any] = mapped_column(EncryptedJSON())
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(status_enum(OutboxStatus), default=OutboxStatus.PENDING)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    # A dated greeting, a countdown, an activity reminder: stale after this, never sent.
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_errcode: Mapped[int | None]
    last_errmsg: Mapped[str | None] = mapped_column(Text)
    wechat_msgid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]
    # WeChat's asynchronous verdict (TEMPLATESENDJOBFINISH, MASSSENDJOBFINISH, subscribe_msg_sent_event).
    delivery_report: Mapped[str | None] = mapped_column(String(64))
    # The channel of a send under way (set just before the call to WeChat, cleared by the next
    # claim). A row found "sending" after its lease ran out with a channel that has no
    # client_msg_id (客服消息, 订阅通知) may have reached the person: it is not sent again blindly.
    in_flight_channel: Mapped[Channel | None] = mapped_column(status_enum(Channel), nullable=True)

    __table_args__ = (
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_recipient", "recipient", "status"),
        Index("ix_outbox_message_wechat_msgid", "wechat_msgid"),
    )
