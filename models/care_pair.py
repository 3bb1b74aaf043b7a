"""定点定人帮困: a volunteer paired with a household, and the contacts they record."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, LabelledStrEnum, status_enum, utcnow
from models.encrypted import EncryptedText


class PairStatus(LabelledStrEnum):
    ACTIVE = "active", "结对中"
    ENDED = "ended", "已结束"


class ContactMethod(enum.StrEnum):
    VISIT = "visit"  # 上门
    PHONE = "phone"  # 电话
    WECHAT = "wechat"  # 微信
    OTHER = "other"



class CarePair(Base):
    __tablename__ = "care_pair"

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    status: Mapped[PairStatus] = mapped_column(status_enum(PairStatus, 16), default=PairStatus.ACTIVE)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # The newest recorded contact; the nudge counts silence from here (or from started_at).
    last_contact_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("volunteer_id", "household_id"),
        Index("ix_care_pair_status", "status"),
    )


class CareContact(Base):
    __tablename__ = "care_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("care_pair.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    method: Mapped[ContactMethod] = mapped_column(status_enum(ContactMethod, 16))
    note: Mapped[str | None] = mapped_column(EncryptedText())  # may mention health or hardship
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
