"""Who carries which households: each open household of a plan is on the own list of one
team member — an approved volunteer of the team, or a staff member when the team has no
volunteer. Households are shared out in (village, priority) order up to an even share
each, so one member's households lie together. A household keeps its member; one whose
member left the team (or whose team changed) is given again."""

from __future__ import annotations

import math
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.visits import PlannedVisit, VisitStatus, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus

OPEN = (VisitStatus.PLANNED, VisitStatus.OVERDUE)
CHUNK = 500  # ids per IN list
TABLE = PlannedVisit.__table__  # Core: no ORM session synchronisation for thousands of rows


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


def share_out(session: Session, plan_id: int, new: list[dict], villages: dict[int, str]) -> dict[int, list[int]]:
    """Give the rows about to be inserted (`new`: their member_id is set here) and the plan's
    open rows without a current holder; member id → household ids given now."""
    existing = session.execute(
        select(PlannedVisit.id, PlannedVisit.team_id, PlannedVisit.member_id, PlannedVisit.household_id,
               Household.village, PlannedVisit.priority)
        .join(Household, Household.id == PlannedVisit.household_id)
        .where(PlannedVisit.plan_id == plan_id, PlannedVisit.status.in_(OPEN), PlannedVisit.team_id.is_not(None))
    ).all()
    by_team: dict[int, list] = {}
    for row in existing:
        by_team.setdefault(row.team_id, []).append(row)
    for row in new:
        if row["team_id"] is not None:
            by_team.setdefault(row["team_id"], [])
    new_by_team: dict[int, list[dict]] = {}
    for row in new:
        if row["team_id"] is not None:
            new_by_team.setdefault(row["team_id"], []).append(row)
    given: dict[int, list[int]] = {}
    moved: dict[int, list[int]] = {}
    for team_id, rows in by_team.items():
        holders = [member for member, _ in list_holders(session, team_id)]
        if not holders:
            continue
        load = Counter(r.member_id for r in rows if r.member_id in holders)
        waiting = [(r.village, r.priority, r.household_id, r.id, None) for r in rows if r.member_id not in holders]
        waiting += [(villages.get(d["household_id"], ""), d["priority"], d["household_id"], None, d)
                    for d in new_by_team.get(team_id, [])]
        if not waiting:
            continue
        share = math.ceil((sum(load.values()) + len(waiting)) / len(holders))
        for _village, _priority, household_id, visit_id, fresh in sorted(waiting, key=lambda w: w[:3]):
            pick = next((m for m in holders if load[m] < share), holders[0])
            load[pick] += 1
            given.setdefault(pick, []).append(household_id)
            if fresh is not None:
                fresh["member_id"] = pick
            else:
                moved.setdefault(pick, []).append(visit_id)
    for member_id, visit_ids in moved.items():
        for start in range(0, len(visit_ids), CHUNK):
            session.execute(update(TABLE).where(TABLE.c.id.in_(visit_ids[start:start + CHUNK]))
                            .values(member_id=member_id))
    return given
