"""Named counters for human-readable numbers (SY2026-000123), unique across processes."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Counter(Base):
    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "help_request:2026"
    value: Mapped[int] = mapped_column(default=0)
