"""Status history shared by every aggregate with a workflow: one row per change.

Help requests, volunteer and 优抚对象 registrations and activity sign-ups all write
here, so a timeline (the chat's 进度 view, the console's audit trail) reads one table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.encrypted import EncryptedText


class StatusEvent(Base):
    __tablename__ = "status_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(32))  # "help_request", "volunteer", ...
    subject_id: Mapped[int]
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))  # "user", "system", "staff:<name>"
    # What happened when it is more than a move: "assign", "transfer", "note", "reply" …
    action: Mapped[str | None] = mapped_column(String(24))
    # A reason may quote the person's situation: encrypted like any personal text.
    note: Mapped[str | None] = mapped_column(EncryptedText())
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_status_event_subject", "subject", "subject_id"),)
