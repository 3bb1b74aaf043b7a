"""拥军志愿者 registration and review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.volunteer import Volunteer, VolunteerStatus
from services import consents, notifications, numbers, status_events

SUBJECT = "volunteer"


@dataclass(frozen=True)
class VolunteerDetails:
    name: str
    mobile: str
    town: str
    village: str
    skills: list[str]
    availability: str


def find(session: Session, openid: str) -> Volunteer | None:
    return session.scalars(select(Volunteer).where(Volunteer.openid == openid)).first()


def register(session: Session, openid: str, details: VolunteerDetails, now: datetime) -> Volunteer:
    """A new volunteer, pending review; staff are told. Consent is recorded with it."""
    volunteer = Volunteer(
        number=numbers.yearly_number(session, "ZY", SUBJECT, now, width=4),
        openid=openid,
        status=VolunteerStatus.PENDING,
        created_at=now,
        updated_at=now,
        **vars(details),
    )
    session.add(volunteer)
    session.flush()
    consents.grant(session, openid, SUBJECT, now)
    status_events.record(session, SUBJECT, volunteer.id, VolunteerStatus.PENDING, at=now)
    notifications.alert_staff(
        session,
        "registration_pending",
        f"volunteer:{volunteer.id}",
        f"新的志愿者报名待审核：{volunteer.number}（{volunteer.town}{volunteer.village}）",
        subject=SUBJECT,
        number=volunteer.number,
    )
    return volunteer


def update_details(session: Session, volunteer: Volunteer, details: VolunteerDetails, now: datetime) -> None:
    for key, value in vars(details).items():
        setattr(volunteer, key, value)
    volunteer.updated_at = now


def rejoin(session: Session, volunteer: Volunteer, details: VolunteerDetails, now: datetime) -> None:
    """A volunteer who had left signs up again: same number, back to review."""
    update_details(session, volunteer, details, now)
    change_status(session, volunteer, VolunteerStatus.PENDING, now, actor="user")
    consents.grant(session, volunteer.openid, SUBJECT, now)


def change_status(
    session: Session, volunteer: Volunteer, to: VolunteerStatus, now: datetime, actor: str, note: str | None = None
) -> None:
    previous = volunteer.status
    volunteer.status = to
    volunteer.updated_at = now
    status_events.record(session, SUBJECT, volunteer.id, to, at=now, from_status=previous, actor=actor, note=note)
