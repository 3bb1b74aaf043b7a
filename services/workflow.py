"""One status-change primitive for every aggregate with a workflow.

Help requests, volunteer and 优抚对象 registrations, 定点定人 pairs and activity
sign-ups each declare a `Workflow` (which moves are allowed); `transition` checks
the move, writes the event row and, when asked, tells the person through the
outbox, all in the caller's transaction. The chat, the console and the scheduler
call it alike, so a move made anywhere is recorded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Mapping, TypeVar

from sqlalchemy.orm import Session

from models.base import LabelledStrEnum
from models.status_event import StatusEvent
from services import notifications, status_events

S = TypeVar("S", bound=LabelledStrEnum)


class TransitionError(ValueError):
    """A move the workflow does not allow; the message is fit to show staff."""


@dataclass(frozen=True)
class Workflow(Generic[S]):
    subject: str  # the status_event.subject of this aggregate
    allowed: Mapping[S, frozenset[S]]

    def can(self, current: S, to: S) -> bool:
        return to in self.allowed.get(current, frozenset())

    def moves_from(self, current: S) -> frozenset[S]:
        return self.allowed.get(current, frozenset())


@dataclass(frozen=True)
class Notice:
    """What the person is told about a move: their openid, the message kind and the text."""

    openid: str | None
    kind: str
    text: str


def transition(
    session: Session,
    workflow: Workflow[S],
    record: Any,
    to: S,
    now: datetime,
    *,
    actor: str,
    note: str | None = None,
    action: str | None = None,
    notice: Notice | None = None,
    check: bool = True,
) -> StatusEvent:
    """Move `record.status` to `to`: allowed-move check, event row, optional notice.

    `check=False` is for moves the system makes on the person's own word (a correction
    sends a verified record back to review), which need no staff rule.
    """
    previous = record.status
    if check and not workflow.can(previous, to):
        raise TransitionError(f"当前状态为“{_label(previous)}”，不能改为“{_label(to)}”。")
    record.status = to
    if hasattr(record, "updated_at"):
        record.updated_at = now
    event = status_events.record(
        session, workflow.subject, record.id, to, at=now, from_status=previous, actor=actor, note=note, action=action
    )
    if notice is not None and notice.openid:
        notifications.tell_user(
            session, notice.openid, notice.kind, f"{workflow.subject}:{record.id}:{event.id}", notice.text,
        )
    return event


def record_action(
    session: Session,
    workflow: Workflow[S],
    record: Any,
    now: datetime,
    *,
    actor: str,
    action: str,
    note: str | None = None,
    notice: Notice | None = None,
) -> StatusEvent:
    """Something done to a record that does not move it (a note, an assignment): one event row."""
    status = record.status
    event = status_events.record(
        session, workflow.subject, record.id, status, at=now, from_status=status, actor=actor, note=note, action=action
    )
    if hasattr(record, "updated_at"):
        record.updated_at = now
    if notice is not None and notice.openid:
        notifications.tell_user(
            session, notice.openid, notice.kind, f"{workflow.subject}:{record.id}:{event.id}", notice.text,
        )
    return event


def required_text(text: str | None, if_empty: str, limit: int, what: str = "内容") -> str:
    """A reason or result staff must write (the person is shown it): stripped, present, not too long."""
    text = (text or "").strip()
    if not text:
        raise TransitionError(if_empty)
    if len(text) > limit:
        raise TransitionError(f"{what}太长了，请控制在{limit}字以内。")
    return text


def _label(status: Any) -> str:
    return getattr(status, "label", str(status))
