"""Visit teams (走访组): several per town, each serving listed villages or the whole town
(services.visit_plans.teams_for reads this), with volunteers and staff as members."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models.staff_account import StaffAccount
from models.visits import VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from services import areas
from services.areas import split_villages

NAME_MAX = 60


class TeamError(ValueError):
    """A refused team edit; the message is for staff (Chinese)."""


@dataclass(frozen=True)
class MemberRow:
    id: int
    kind: str  # 志愿者 | 工作人员
    name: str
    number: str  # a volunteer's number or a staff account's username


def teams(session: Session, town: str | None = None) -> list[VisitTeam]:
    query = select(VisitTeam).options(selectinload(VisitTeam.members)).order_by(VisitTeam.town, VisitTeam.id)
    if town is not None:
        query = query.where(VisitTeam.town == town)
    return list(session.scalars(query))


def get(session: Session, team_id: int) -> VisitTeam | None:
    return session.get(VisitTeam, team_id)


def members(session: Session, team: VisitTeam) -> list[MemberRow]:
    rows = []
    volunteers = {v.id: v for v in session.scalars(select(Volunteer).where(
        Volunteer.id.in_([m.volunteer_id for m in team.members if m.volunteer_id])))}
    staff = {a.wechat_openid: a for a in session.scalars(select(StaffAccount).where(
        StaffAccount.wechat_openid.in_([m.staff_openid for m in team.members if m.staff_openid])))}
    for member in team.members:
        if member.volunteer_id in volunteers:
            v = volunteers[member.volunteer_id]
            rows.append(MemberRow(member.id, "志愿者", v.name, v.number))
        elif member.staff_openid:
            account = staff.get(member.staff_openid)
            rows.append(MemberRow(member.id, "工作人员", account.name if account else "（账号已解绑）",
                                  account.username if account else ""))
    return rows


def _clean(session: Session, settings, town: str, name: str, villages: str) -> tuple[str, str | None]:
    name = " ".join((name or "").split())
    if not name:
        raise TeamError("请填写走访组名称。")
    if len(name) > NAME_MAX:
        raise TeamError(f"名称最多{NAME_MAX}个字。")
    known = set(areas.villages_of(session, settings, town))
    listed = split_villages(villages)
    unknown = [v for v in listed if v not in known]
    if unknown:
        raise TeamError(f"{town}没有这些村/社区：{'、'.join(unknown)}。")
    return name, "、".join(dict.fromkeys(listed)) or None


def create(session: Session, settings, town: str, name: str, villages: str = "") -> VisitTeam:
    if town not in areas.town_names(session, settings):
        raise TeamError("请选择乡镇/街道。")
    name, listed = _clean(session, settings, town, name, villages)
    team = VisitTeam(town=town, name=name, villages=listed, active=True)
    session.add(team)
    session.flush()
    return team


def update(session: Session, settings, team: VisitTeam, name: str, villages: str, active: bool) -> None:
    team.name, team.villages = _clean(session, settings, team.town, name, villages)
    team.active = active


def add_member(session: Session, team: VisitTeam, who: str) -> MemberRow:
    """`who`: a volunteer's number (ZY2026-0001) or a staff account's username (bound to WeChat)."""
    who = (who or "").strip()
    volunteer = session.scalars(select(Volunteer).where(Volunteer.number == who.upper())).first() if who else None
    if volunteer is not None:
        if volunteer.status != VolunteerStatus.APPROVED:
            raise TeamError(f"志愿者{volunteer.number}还没有通过审核。")
        if any(m.volunteer_id == volunteer.id for m in team.members):
            raise TeamError(f"志愿者{volunteer.number}已在本组。")
        member = VisitTeamMember(volunteer_id=volunteer.id)
    else:
        account = session.scalars(select(StaffAccount).where(StaffAccount.username == who)).first() if who else None
        if account is None:
            raise TeamError("没有找到这个志愿者编号或工作人员账号。")
        if not account.wechat_openid:
            raise TeamError(f"{account.name}还没有绑定微信，绑定后才能收到走访名单。")
        if any(m.staff_openid == account.wechat_openid for m in team.members):
            raise TeamError(f"{account.name}已在本组。")
        member = VisitTeamMember(staff_openid=account.wechat_openid)
    team.members.append(member)
    session.flush()
    return next(row for row in members(session, team) if row.id == member.id)


def remove_member(session: Session, team: VisitTeam, member_id: int) -> bool:
    member = next((m for m in team.members if m.id == member_id), None)
    if member is None:
        return False
    team.members.remove(member)
    session.flush()
    return True


def uncovered_villages(session: Session, settings, town: str) -> list[str]:
    """Villages no active team serves (no whole-town team either): their households get no team."""
    active = [t for t in teams(session, town) if t.active]
    if not active:
        return []  # the plan makes a whole-town team of its volunteers
    if any(not split_villages(t.villages) for t in active):
        return []
    served = {v for t in active for v in split_villages(t.villages)}
    return [v for v in areas.villages_of(session, settings, town) if v not in served]
