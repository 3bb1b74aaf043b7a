"""The edit history of the roster: one row per changed field, written by whoever changes a
person, a status or a household (a staff edit, an Excel import, a merge)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import utcnow
from models.roster import RosterChange


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Enum):
        return str(getattr(value, "label", value.value))
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def apply(session: Session, record: Any, changes: dict[str, Any], *, actor: str, reason: str | None = None,
          at: datetime | None = None) -> list[str]:
    """Set the given attributes on a person, status or household and keep a history row for each
    one that really changes; returns the names of the changed fields (empty: nothing to do)."""
    changed = []
    for field, new in changes.items():
        old = getattr(record, field)
        if _text(old) == _text(new):
            continue
        setattr(record, field, new)
        session.add(RosterChange(subject=record.__tablename__, subject_id=record.id, field=field,
                                 old_value=_text(old), new_value=_text(new), actor=actor, reason=reason,
                                 at=at or utcnow()))
        changed.append(field)
    return changed


def history(session: Session, subject: str, subject_id: int) -> list[RosterChange]:
    return list(session.scalars(
        select(RosterChange).where(RosterChange.subject == subject, RosterChange.subject_id == subject_id)
        .order_by(RosterChange.at.desc(), RosterChange.id.desc())
    ))
