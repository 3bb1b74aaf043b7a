"""Who carries which households: each open household of a plan is on the own list of one
team member — an approved volunteer of the team, or a staff member when the team has no
volunteer — given in visiting order to whoever holds the fewest. A household keeps its
member; one whose member left the team (or whose team changed) is given again."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.visits import PlannedVisit, VisitStatus, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus

OPEN = (VisitStatus.PLANNED, VisitStatus.OVERDUE)


def list_holders(session: Session, team_id: int) -> list[tuple[int, str]]:
    """(member id, openid) of the members who get households: volunteers, else staff."""
    rows = session.execute(
        select(VisitTeamMember.id, VisitTeamMember.staff_openid, Volunteer.openid, Volunteer.status)
        .outerjoin(Volunteer, Volunteer.id == VisitTeamMember.volunteer_id)
        .where(VisitTeamMember.team_id == team_id)
        .order_by(VisitTeamMember.id)
    ).all()
    volunteers = [(member_id, openid) for member_id, staff, openid, status in rows
                  if not staff and openid and status == VolunteerStatus.APPROVED]
    return volunteers or [(member_id, staff) for member_id, staff, _, _ in rows if staff]


def assign_members(session: Session, plan_id: int) -> dict[int, list[int]]:
    """Give every open household without a current holder to one; member id → visit ids given now."""
    rows = session.execute(
        select(PlannedVisit.id, PlannedVisit.team_id, PlannedVisit.member_id)
        .join(Household, Household.id == PlannedVisit.household_id)
        .where(PlannedVisit.plan_id == plan_id, PlannedVisit.status.in_(OPEN), PlannedVisit.team_id.is_not(None))
        .order_by(PlannedVisit.team_id, PlannedVisit.priority, Household.village, PlannedVisit.household_id)
    ).all()
    holders: dict[int, list[int]] = {}
    load: Counter = Counter()
    for _, team_id, member_id in rows:
        if team_id not in holders:
            holders[team_id] = [member for member, _ in list_holders(session, team_id)]
        if member_id in holders[team_id]:
            load[member_id] += 1
    given: dict[int, list[int]] = {}
    changes = []
    for visit_id, team_id, member_id in rows:
        team_holders = holders[team_id]
        if not team_holders or member_id in team_holders:
            continue
        pick = min(team_holders, key=lambda member: (load[member], team_holders.index(member)))
        load[pick] += 1
        given.setdefault(pick, []).append(visit_id)
        changes.append({"id": visit_id, "member_id": pick})
    if changes:
        session.execute(update(PlannedVisit), changes)
    return given
