"""Every status change writes a row: who, when, from, to, and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.status_event import StatusEvent


def record(
    session: Session,
    subject: str,
    subject_id: int,
    to_status: str,
    *,
    at: datetime,
    from_status: str | None = None,
    actor: str = "user",
    note: str | None = None,
    action: str | None = None,
) -> StatusEvent:
    event = StatusEvent(
        subject=subject,
        subject_id=subject_id,
        from_status=from_status,
        to_status=str(to_status),
        actor=actor,
        note=note,
        action=action,
        at=at,
    )
    session.add(event)
    session.flush()
    return event


def history(session: Session, subject: str, subject_id: int) -> list[StatusEvent]:
    return list(
        session.scalars(
            select(StatusEvent)
            .where(StatusEvent.subject == subject, StatusEvent.subject_id == subject_id)
            .order_by(StatusEvent.at, StatusEvent.id)
        )
    )
