"""Consent to the processing of personal information (PIPL Art. 14, 29): what, which text, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ConsentRecord(Base):
    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str | None] = mapped_column(String(64))  # cleared when the person's data is erased
    purpose: Mapped[str] = mapped_column(String(32))  # volunteer, beneficiary, help_request
    version: Mapped[str] = mapped_column(String(16))  # version of the notice the person agreed to
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_consent_record_openid", "openid", "purpose"),)
