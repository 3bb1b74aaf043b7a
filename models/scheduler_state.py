"""What the scheduler keeps between runs: a watermark per job and the leader lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class JobWatermark(Base):
    """Everything due up to `covered_until` has been handled by this job."""

    __tablename__ = "job_watermark"

    job_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    covered_until: Mapped[datetime]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(Base):
    """Leader lease for databases without advisory locks (SQLite): renewed while alive."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(48), primary_key=True)
    holder: Mapped[str] = mapped_column(String(96))
    expires_at: Mapped[datetime]
