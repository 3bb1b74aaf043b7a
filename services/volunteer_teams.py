"""志愿服务队 (teams with a 授旗 date) and the staff-entered parts of a volunteer's profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.volunteer import Volunteer, VolunteerStatus
from models.volunteer_team import VolunteerTeam, VolunteerTeamMember
from services.workflow import TransitionError

NAME_LIMIT, NOTE_LIMIT = 60, 200


@dataclass(frozen=True)
class TeamDetails:
    name: str
    town: str | None
    flag_date: date | None
    note: str = ""


def check(session: Session, details: TeamDetails, team: VolunteerTeam | None = None) -> dict[str, str]:
    problems = {}
    name = details.name.strip()
    if not name:
        problems["name"] = "请填写队伍名称。"
    elif len(name) > NAME_LIMIT:
        problems["name"] = f"队伍名称请控制在{NAME_LIMIT}字以内。"
    else:
        same = session.scalars(select(VolunteerTeam).where(VolunteerTeam.name == name)).first()
        if same is not None and same is not team:
            problems["name"] = "已有同名的队伍。"
    if len(details.note.strip()) > NOTE_LIMIT:
        problems["note"] = f"备注请控制在{NOTE_LIMIT}字以内。"
    return problems


def create(session: Session, details: TeamDetails, now: datetime) -> VolunteerTeam:
    problems = check(session, details)
    if problems:
        raise TransitionError(next(iter(problems.values())))
    team = VolunteerTeam(created_at=now)
    _apply(team, details)
    session.add(team)
    session.flush()
    return team


def update(session: Session, team: VolunteerTeam, details: TeamDetails) -> None:
    problems = check(session, details, team)
    if problems:
        raise TransitionError(next(iter(problems.values())))
    _apply(team, details)


def _apply(team: VolunteerTeam, details: TeamDetails) -> None:
    team.name = details.name.strip()
    team.town = details.town or None
    team.flag_date = details.flag_date
    team.note = details.note.strip()


def listing(session: Session, scope=None) -> list[VolunteerTeam]:
    query = select(VolunteerTeam).options(selectinload(VolunteerTeam.members)).order_by(VolunteerTeam.name)
    if scope is not None:
        query = query.where(scope)
    return list(session.scalars(query))


def add_member(session: Session, team: VolunteerTeam, volunteer: Volunteer, today: date) -> bool:
    """False when already a member. Only approved volunteers join a team."""
    if volunteer.status != VolunteerStatus.APPROVED:
        raise TransitionError(f"{volunteer.number}还没有通过审核，通过后才能加入队伍。")
    if team.town and volunteer.town != team.town:
        raise TransitionError(f"{volunteer.number}不在{team.town}，不能加入这支队伍。")
    if any(m.volunteer_id == volunteer.id for m in team.members):
        return False
    team.members.append(VolunteerTeamMember(volunteer_id=volunteer.id, joined_on=today))
    session.flush()
    return True


def remove_member(session: Session, team: VolunteerTeam, volunteer_id: int) -> bool:
    for member in team.members:
        if member.volunteer_id == volunteer_id:
            team.members.remove(member)
            session.flush()
            return True
    return False


def teams_of(session: Session, volunteer_id: int) -> list[VolunteerTeam]:
    return list(session.scalars(
        select(VolunteerTeam).join(VolunteerTeamMember)
        .where(VolunteerTeamMember.volunteer_id == volunteer_id).order_by(VolunteerTeam.name)
    ))


def by_number(session: Session, number: str) -> Volunteer | None:
    return session.scalars(select(Volunteer).where(Volunteer.number == number.strip().upper())).first()


def set_id_number(volunteer: Volunteer, value: str | None) -> bool:
    """The 证件号码 the national record needs (already checked by the caller's parser); None clears it.

    Returns whether it changed."""
    if (volunteer.id_number or None) == (value or None):
        return False
    volunteer.id_number = value or None
    return True
