"""求助: a help request and its workflow 已受理 → 已转办 → 办理中 → 已办结 → 已回访 (or 已驳回)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.encrypted import EncryptedText
from models.base import status_enum


class RequestStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # 已受理
    TRANSFERRED = "transferred"  # 已转办
    IN_PROGRESS = "in_progress"  # 办理中
    RESOLVED = "resolved"  # 已办结
    VISITED = "visited"  # 已回访
    REJECTED = "rejected"  # 已驳回


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class HelpRequest(Base):
    __tablename__ = "help_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # SY2026-000123
    openid: Mapped[str | None] = mapped_column(String(64))  # cleared when the person's data is erased
    category: Mapped[str] = mapped_column(String(24))
    description: Mapped[str | None] = mapped_column(EncryptedText())
    attachments: Mapped[Any] = mapped_column(JSON, default=list)  # [{"type": "voice", "media_id": ...}]
    urgency: Mapped[Urgency] = mapped_column(status_enum(Urgency, 16), default=Urgency.NORMAL)
    for_whom: Mapped[str] = mapped_column(String(16))  # self, family, other
    contact_name: Mapped[str | None] = mapped_column(EncryptedText())
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText())
    source: Mapped[str] = mapped_column(String(16), default="chat")  # chat, handover (人工), console
    status: Mapped[RequestStatus] = mapped_column(status_enum(RequestStatus), default=RequestStatus.ACCEPTED)
    reject_reason: Mapped[str | None] = mapped_column(EncryptedText())
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(EncryptedText())
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_help_request_openid", "openid"),
        Index("ix_help_request_status", "status"),
    )
