"""求助: a help request and its workflow.

已提交/待受理 → 已受理 → 已转办 / 办理中 → 已办结 → 已回访, or 不予受理. 受理 is a staff
act; a request arriving from the chat waits in 待受理 until someone takes it up.
A 人工 hand-over is a request of category "handover" whose chat lives in
`handover_message` until staff close it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from models.base import Base, LabelledStrEnum, status_enum, utcnow
from models.encrypted import EncryptedText, blind_index


class RequestStatus(LabelledStrEnum):
    SUBMITTED = "submitted", "待受理"
    ACCEPTED = "accepted", "已受理"
    TRANSFERRED = "transferred", "已转办"
    IN_PROGRESS = "in_progress", "办理中"
    RESOLVED = "resolved", "已办结"
    VISITED = "visited", "已回访"
    REJECTED = "rejected", "不予受理"


OPEN_STATUSES = (RequestStatus.SUBMITTED, RequestStatus.ACCEPTED, RequestStatus.TRANSFERRED, RequestStatus.IN_PROGRESS)


class Urgency(LabelledStrEnum):
    NORMAL = "normal", "一般"
    URGENT = "urgent", "紧急"


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
    contact_phone_bi: Mapped[str | None] = mapped_column(String(64))  # blind index: search by phone
    # 乡镇/街道 of the requester when known: what an area-scoped officer may see.
    town: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16), default="chat")  # chat, handover (人工), console
    status: Mapped[RequestStatus] = mapped_column(status_enum(RequestStatus), default=RequestStatus.SUBMITTED)
    assignee_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    assignee_volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer.id"))
    transferred_to: Mapped[str | None] = mapped_column(String(60))  # the unit it was passed to (转办)
    resolution: Mapped[str | None] = mapped_column(EncryptedText())  # what was done (办结)
    reject_reason: Mapped[str | None] = mapped_column(EncryptedText())
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(EncryptedText())
    # Computed once on the working-day calendar at submission: 受理 is due by then.
    due_at: Mapped[datetime | None]
    # A 人工 chat whose latest message is the user's: waiting for a staff reply since then.
    waiting_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Retention: when a long-closed request lost what identified the person (None: not yet).
    anonymised_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_help_request_openid", "openid"),
        Index("ix_help_request_status", "status", "created_at"),
        Index("ix_help_request_due", "status", "due_at"),
        Index("ix_help_request_town", "town", "status"),
        Index("ix_help_request_created_at", "created_at"),
        Index("ix_help_request_contact_phone_bi", "contact_phone_bi"),
        Index("ix_help_request_waiting", "category", "waiting_since"),
    )

    @validates("contact_phone")
    def _index_phone(self, _key: str, value: str | None) -> str | None:
        self.contact_phone_bi = blind_index(value, "phone")
        return value


class HandoverMessage(Base):
    """One message of a 人工 chat: the user's (in) or a staff member's answer (out)."""

    __tablename__ = "handover_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" from the user, "out" from staff
    msg_type: Mapped[str] = mapped_column(String(16), default="text")  # text, voice, image, location …
    text: Mapped[str | None] = mapped_column(EncryptedText())
    media_id: Mapped[str | None] = mapped_column(String(128))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_handover_message_request", "request_id", "at"),)
