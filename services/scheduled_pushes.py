"""What scheduled jobs send: a Push is one outbox row to be, with its idempotency key.

Jobs compute pushes and hand them to `send`, which adds each once (the key is unique in
the outbox), so a job that runs twice for the same moment never sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Channel, OutboxMessage, Recipient, utcnow
from models.outbox import STAFF
from models.reminders import Audience
from models.visits import VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from services import outbox
from services.local_time import SHANGHAI

__all__ = ["STAFF", "Push", "SendLog", "send", "audience_recipients"]


@dataclass(frozen=True)
class Push:
    kind: str
    recipient: Recipient
    payload: dict[str, Any]
    key: str
    not_before: datetime | None = None
    channel: Channel | None = None
    expires_at: datetime | None = None  # stale after this: never sent (see services.push_validity)

    def summary(self) -> str:
        """One line for `run-jobs --dry-run`: no personal data, openids shortened."""
        who = f"openid:{self.recipient.value[:4]}…" if self.recipient.is_person else str(self.recipient)
        when = self.not_before.astimezone(SHANGHAI).isoformat(timespec="minutes") if self.not_before else "now"
        title = self.payload.get("title") or ""
        return f"{self.kind}\t{who}\t{when}\t{title}\t{self.key}"


@dataclass
class SendLog:
    """What a run sent (and skipped because it was already there)."""

    created: list[Push] = field(default_factory=list)
    existing: int = 0
    expired: list[Push] = field(default_factory=list)  # recorded as expired, not to be sent


def already_queued(session: Session, key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)) is not None


def queued_keys(session: Session, prefix: str) -> set[str]:
    """Keys already in the outbox under a prefix: one query instead of one per push."""
    return set(session.scalars(select(OutboxMessage.idempotency_key)
                               .where(OutboxMessage.idempotency_key.startswith(prefix, autoescape=True))))


def send(session: Session, push: Push, log: SendLog | None = None, known: set[str] | None = None,
         now: datetime | None = None, stale_reason: str | None = None) -> bool:
    """Queue the push once; True when it is new. `known`: keys already queued (from `queued_keys`).

    A push already past its `expires_at` at `now` (or given a `stale_reason`) is recorded as
    expired, so the delivery log shows what was not sent and why; it is never delivered."""
    if (push.key in known) if known is not None else already_queued(session, push.key):
        if log is not None:
            log.existing += 1
        return False
    row = outbox.enqueue(
        session,
        kind=push.kind,
        recipient=push.recipient,
        channel=push.channel,
        payload=push.payload,
        idempotency_key=push.key,
        not_before=push.not_before,
        expires_at=push.expires_at,
    )
    if stale_reason is None and push.expires_at is not None and now is not None and now >= push.expires_at:
        stale_reason = "past its date when the scheduler ran (it was not running in time)"
    if stale_reason is not None:
        outbox.expire(session, row, now or utcnow(), stale_reason)
        if log is not None:
            log.expired.append(push)
        return False
    if log is not None:
        log.created.append(push)
    return True


# --- audiences ---------------------------------------------------------------------


def audience_recipients(session: Session, audience: Audience, tag_id: str | None = None) -> list[Recipient]:
    """Who an audience is, as outbox recipients."""
    audience = Audience(audience)
    if audience is Audience.STAFF:
        return [STAFF]
    if audience is Audience.ALL_FOLLOWERS:
        return [Recipient.everyone()]
    if audience is Audience.TAG:
        return [Recipient.tag(tag_id)]
    if audience is Audience.VOLUNTEERS:
        return people(volunteer_openids(session))
    return [STAFF, *people(team_member_openids(session))]


def people(openids: list[str]) -> list[Recipient]:
    return [Recipient.person(openid) for openid in openids]


def volunteer_openids(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Volunteer.openid)
            .where(Volunteer.status == VolunteerStatus.APPROVED, Volunteer.openid.is_not(None))
            .order_by(Volunteer.id)
        )
    )


def team_member_openids(session: Session, team_id: int | None = None) -> list[str]:
    """Openids of visit-team members (volunteers and staff), each once."""
    query = (
        select(VisitTeamMember.staff_openid, Volunteer.openid, Volunteer.status)
        .join(VisitTeam, VisitTeam.id == VisitTeamMember.team_id)
        .outerjoin(Volunteer, Volunteer.id == VisitTeamMember.volunteer_id)
        .where(VisitTeam.active.is_(True))
        .order_by(VisitTeamMember.id)
    )
    if team_id is not None:
        query = query.where(VisitTeamMember.team_id == team_id)
    found: dict[str, None] = {}
    for staff_openid, volunteer_openid, status in session.execute(query):
        if staff_openid:
            found[staff_openid] = None
        elif volunteer_openid and status == VolunteerStatus.APPROVED:
            found[volunteer_openid] = None
    return list(found)
