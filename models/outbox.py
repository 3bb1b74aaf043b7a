"""The outbox: everything the service says on its own, written in the same
transaction as the change it reports, and delivered later by a worker."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, status_enum, utcnow
from models.encrypted import EncryptedJSON

# What an openid looks like (WeChat's are 28 characters of these).
OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")
ROLE_NAME = re.compile(r"[a-z_]{1,27}")
TAG_ID = re.compile(r"\d{1,9}")


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



class RecipientKind(enum.StrEnum):
    """Who a row is for, stated by its writer: never read off the recipient's spelling, so a
    person whose id looks like a group (or a role) is still one person."""

    PERSON = "person"  # one follower: the value is the openid
    ROLE = "role"  # every openid of a staff role (expanded when delivered): the role's name
    TAG = "tag"  # a WeChat user tag, by mass send: the tag id
    ALL = "all"  # every follower, by mass send: no value


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    value: str = ""

    @classmethod
    def person(cls, openid: str) -> "Recipient":
        return cls(RecipientKind.PERSON, openid)

    @classmethod
    def role(cls, name: str) -> "Recipient":
        return cls(RecipientKind.ROLE, name)

    @classmethod
    def tag(cls, tag_id: str | int) -> "Recipient":
        return cls(RecipientKind.TAG, str(tag_id))

    @classmethod
    def everyone(cls) -> "Recipient":
        return cls(RecipientKind.ALL, "")

    @property
    def is_person(self) -> bool:
        return self.kind == RecipientKind.PERSON

    @property
    def is_mass(self) -> bool:
        """A mass-send audience: all followers or a tag."""
        return self.kind in (RecipientKind.ALL, RecipientKind.TAG)

    def problem(self) -> str | None:
        """Why this is not a recipient WeChat could take, or None."""
        pattern = {RecipientKind.PERSON: OPENID, RecipientKind.ROLE: ROLE_NAME, RecipientKind.TAG: TAG_ID}.get(self.kind)
        if pattern is None:
            return None if self.value == "" else "a send to all followers has no value"
        return None if pattern.fullmatch(self.value or "") else f"not a valid {self.kind} value"

    def __str__(self) -> str:
        """For idempotency keys, logs and the CLI (the spelling older rows used)."""
        return self.value if self.is_person else "all" if self.kind == RecipientKind.ALL else f"{self.kind}:{self.value}"


STAFF = Recipient.role("staff")  # the staff on duty: linked console accounts plus hand-added openids


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    recipient_kind: Mapped[RecipientKind] = mapped_column(status_enum(RecipientKind, 8))
    recipient: Mapped[str] = mapped_column(String(64))  # its value: an openid, a role name, a tag id ("" for all)
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

    @property
    def to(self) -> Recipient:
        return Recipient(RecipientKind(self.recipient_kind), self.recipient)

    @classmethod
    def addressed_to(cls, recipient: Recipient):
        """SQL: the rows for exactly this recipient (kind and value)."""
        return (cls.recipient_kind == recipient.kind) & (cls.recipient == recipient.value)

    __table_args__ = (
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
        Index("ix_outbox_message_recipient", "recipient", "status"),
        Index("ix_outbox_message_wechat_msgid", "wechat_msgid"),
    )
