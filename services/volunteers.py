"""拥军志愿者 registration and review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.volunteer import Volunteer, VolunteerStatus
from services import consents, numbers, status_events, workflow
from services.workflow import Notice

SUBJECT = "volunteer"
V = VolunteerStatus
FLOW = workflow.Workflow(SUBJECT, {
    V.PENDING: frozenset({V.APPROVED, V.REJECTED}),
    V.APPROVED: frozenset({V.WITHDRAWN}),
    V.REJECTED: frozenset({V.APPROVED}),
    V.WITHDRAWN: frozenset(),
})
NOTICE_KIND = "registration_result"


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
    """A new volunteer, pending review (staff see it in the console and the daily digest)."""
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
    """A move on the person's own word (rejoin, erasure) or by a script; nobody is told."""
    workflow.transition(session, FLOW, volunteer, to, now, actor=actor, note=note, check=False)


def approve_notice(volunteer: Volunteer) -> str:
    return (f"{volunteer.name}您好，您的志愿者报名（{volunteer.number}）已通过审核，欢迎加入拥军志愿者队伍！\n"
            "回复“活动”可以查看近期活动。")


def reject_notice(volunteer: Volunteer, reason: str) -> str:
    return (f"{volunteer.name}您好，很抱歉，您的志愿者报名（{volunteer.number}）未通过审核。\n原因：{reason}\n"
            "如有疑问，请回复“人工”。")


def approve(session: Session, volunteer: Volunteer, now: datetime, *, actor: str) -> None:
    workflow.transition(session, FLOW, volunteer, V.APPROVED, now, actor=actor, action="approve",
                        notice=Notice(volunteer.openid, NOTICE_KIND, approve_notice(volunteer)))


def reject(session: Session, volunteer: Volunteer, reason: str, now: datetime, *, actor: str) -> None:
    reason = workflow.required_text(reason, "请填写未通过的原因，报名人会看到这段话。", 300, what="原因")
    workflow.transition(session, FLOW, volunteer, V.REJECTED, now, actor=actor, action="reject", note=reason,
                        notice=Notice(volunteer.openid, NOTICE_KIND, reject_notice(volunteer, reason)))
