"""政策咨询: answers to common questions, matched by keywords; staff edit them in the console."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class FaqEntry(Base):
    __tablename__ = "faq_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(32), unique=True)
    keywords: Mapped[str] = mapped_column(String(400))  # comma-separated
    answer: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
