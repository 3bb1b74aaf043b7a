"""最新通知: short notices shown in the chat (written by staff or the publicity calendar)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Notice(Base):
    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_notice_published_at", "published_at"),)


class Referral(Base):
    """Where a follower came from: the `ref:<code>` scene of the QR code they scanned."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_referral_code", "code"),)
