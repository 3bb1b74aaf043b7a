"""Who a console notice reaches: an audience kind (and its team or 乡镇) turned into outbox recipients.

"all" is one mass send; every other audience is the openids of the people in it, each once
(a volunteer who is also a 优抚对象's contact gets one copy). A township account may address
its own 乡镇 and its own teams only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Recipient
from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.visits import VisitTeam
from models.volunteer import Volunteer, VolunteerStatus
from models.volunteer_team import VolunteerTeam, VolunteerTeamMember
from services.scheduled_pushes import team_member_openids

ALL, VOLUNTEERS, BENEFICIARIES = "all", "volunteers", "beneficiaries"
VOLUNTEER_TEAM, VISIT_TEAM, TOWN = "volunteer_team", "visit_team", "town"
LABELS = {
    ALL: "全体关注者",
    VOLUNTEERS: "志愿者（已通过审核）",
    BENEFICIARIES: "优抚对象（已核实）",
    VOLUNTEER_TEAM: "志愿服务队",
    VISIT_TEAM: "走访组",
    TOWN: "乡镇（该乡镇的志愿者和优抚对象）",
}
WITH_REF = (VOLUNTEER_TEAM, VISIT_TEAM, TOWN)


class AudienceError(ValueError):
    """An audience that cannot be used; the message is for staff (Chinese)."""


@dataclass(frozen=True)
class Audience:
    kind: str
    ref: str | None = None

    @property
    def is_mass(self) -> bool:
        return self.kind == ALL


def parse(kind: str | None, ref: str | None, town_scope: str | None = None) -> Audience:
    """The audience chosen in a form, checked against the account's area."""
    kind = (kind or "").strip()
    if kind not in LABELS:
        raise AudienceError("请选择发送对象")
    ref = (ref or "").strip() or None
    if kind in WITH_REF and ref is None:
        raise AudienceError("请选择具体的队伍或乡镇")
    if kind not in WITH_REF:
        ref = None
    if kind in (VOLUNTEER_TEAM, VISIT_TEAM) and not (ref or "").isdigit():
        raise AudienceError("请选择具体的队伍")
    if town_scope is not None and kind not in WITH_REF:
        raise AudienceError(f"乡镇账号只能发给{town_scope}的志愿者、优抚对象或本乡镇的队伍")
    return Audience(kind, ref)


def check_scope(session: Session, audience: Audience, town_scope: str | None) -> None:
    if town_scope is None:
        return
    if audience.kind in (VOLUNTEER_TEAM, VISIT_TEAM, TOWN) and town_of(session, audience) != town_scope:
        raise AudienceError(f"乡镇账号只能发给{town_scope}的对象")


def town_of(session: Session, audience: Audience) -> str | None:
    """The 乡镇 an audience lies in (None: county-wide, or a county-wide team)."""
    if audience.kind not in WITH_REF:
        return None
    if audience.kind == TOWN:
        return audience.ref
    model = VolunteerTeam if audience.kind == VOLUNTEER_TEAM else VisitTeam
    team = session.get(model, int(audience.ref))
    return team.town if team is not None else None


def describe(session: Session, audience: Audience) -> str:
    if audience.kind == TOWN:
        return f"{audience.ref}的志愿者和优抚对象"
    if audience.kind in (VOLUNTEER_TEAM, VISIT_TEAM):
        model = VolunteerTeam if audience.kind == VOLUNTEER_TEAM else VisitTeam
        team = session.get(model, int(audience.ref)) if (audience.ref or "").isdigit() else None
        name = team.name if team is not None else "（已删除的队伍）"
        return f"{LABELS[audience.kind]}：{name}"
    return LABELS[audience.kind]


def recipients(session: Session, audience: Audience) -> list[Recipient]:
    """Outbox recipients: everyone (one mass send), else people, each once, in a stable order."""
    if audience.kind == ALL:
        return [Recipient.everyone()]
    if audience.kind == VOLUNTEERS:
        found = volunteer_openids(session)
    elif audience.kind == BENEFICIARIES:
        found = beneficiary_openids(session)
    elif audience.kind == VOLUNTEER_TEAM:
        found = volunteer_team_openids(session, int(audience.ref))
    elif audience.kind == VISIT_TEAM:
        team = session.get(VisitTeam, int(audience.ref))
        found = team_member_openids(session, team.id) if team is not None else []
    else:
        found = volunteer_openids(session, audience.ref) + beneficiary_openids(session, audience.ref)
    return [Recipient.person(openid) for openid in dict.fromkeys(found)]


def volunteer_openids(session: Session, town: str | None = None) -> list[str]:
    query = (select(Volunteer.openid)
             .where(Volunteer.status == VolunteerStatus.APPROVED, Volunteer.openid.is_not(None))
             .order_by(Volunteer.id))
    if town is not None:
        query = query.where(Volunteer.town == town)
    return list(session.scalars(query))


def beneficiary_openids(session: Session, town: str | None = None) -> list[str]:
    """The WeChat users who registered verified 优抚对象 (the person or a relative who uses WeChat)."""
    query = (select(Beneficiary.registered_by)
             .join(Household, Household.id == Beneficiary.household_id)
             .where(Beneficiary.status == RegistrationStatus.VERIFIED, Beneficiary.registered_by.is_not(None))
             .order_by(Beneficiary.id))
    if town is not None:
        query = query.where(Household.town == town)
    return list(session.scalars(query))


def volunteer_team_openids(session: Session, team_id: int) -> list[str]:
    return list(session.scalars(
        select(Volunteer.openid)
        .join(VolunteerTeamMember, VolunteerTeamMember.volunteer_id == Volunteer.id)
        .where(VolunteerTeamMember.team_id == team_id, Volunteer.status == VolunteerStatus.APPROVED,
               Volunteer.openid.is_not(None))
        .order_by(VolunteerTeamMember.id)
    ))


def team_options(session: Session, town_scope: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """Teams to choose from in the form: (id, name), limited to the account's 乡镇."""
    volunteer_q = select(VolunteerTeam).order_by(VolunteerTeam.name)
    visit_q = select(VisitTeam).where(VisitTeam.active.is_(True)).order_by(VisitTeam.town)
    if town_scope is not None:
        volunteer_q = volunteer_q.where(VolunteerTeam.town == town_scope)
        visit_q = visit_q.where(VisitTeam.town == town_scope)
    return {
        VOLUNTEER_TEAM: [(str(t.id), t.name) for t in session.scalars(volunteer_q)],
        VISIT_TEAM: [(str(t.id), t.name) for t in session.scalars(visit_q)],
    }
