"""The rows of a plan the three visit exports read: one query, households' heads in a second."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from services.exports.common import Head, Options, area_order, find_plan, find_team, heads


@dataclass(frozen=True)
class VisitRow:
    id: int
    household_id: int
    team_id: int | None
    member_id: int | None
    priority: int
    category: str
    status: str
    visited_at: datetime | None
    visitors: str | None
    money_cents: int | None
    goods: str | None
    leader: str | None
    town: str
    village: str
    address: str | None
    head: Head | None


def plan_rows(session: Session, options: Options, *, order: str = "area",
              with_phone: bool = False) -> tuple[VisitPlan, VisitTeam | None, list[VisitRow]]:
    """The plan's households still on its list (not cancelled), in the account's town, of the
    team asked for. order "area": by town and village (a ledger); "visit": by team, then in
    visiting order (priority, village), as the chat lists give them."""
    plan = find_plan(session, options.year, options.holiday, options.plan_id)
    team = find_team(session, options.team, options.town)
    query = (select(PlannedVisit.id, PlannedVisit.household_id, PlannedVisit.team_id, PlannedVisit.member_id,
                    PlannedVisit.priority, PlannedVisit.category, PlannedVisit.status, PlannedVisit.visited_at,
                    PlannedVisit.visitors, PlannedVisit.money_cents, PlannedVisit.goods, PlannedVisit.leader,
                    Household.town, Household.village, Household.address)
             .join(Household, Household.id == PlannedVisit.household_id)
             .where(PlannedVisit.plan_id == plan.id, PlannedVisit.status != VisitStatus.CANCELLED))
    if options.town is not None:
        query = query.where(Household.town == options.town)
    if team is not None:
        query = query.where(PlannedVisit.team_id == team.id)
    raw = session.execute(query).all()
    area = area_order(session)
    if order == "visit":  # the chat lists' order: priority first, then village
        raw.sort(key=lambda r: (r.team_id or 0, r.priority, area(r.town, r.village), r.household_id))
    else:
        raw.sort(key=lambda r: (area(r.town, r.village), r.priority, r.household_id))
    found = heads(session, (r.household_id for r in raw), with_phone=with_phone)
    rows = [VisitRow(*r[:12], town=r.town, village=r.village, address=r.address, head=found.get(r.household_id))
            for r in raw]
    return plan, team, rows


def team_names(session: Session, team_ids) -> dict[int, str]:
    ids = {i for i in team_ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(VisitTeam.id, VisitTeam.name).where(VisitTeam.id.in_(sorted(ids)))).all())


def subtitle(plan: VisitPlan, team: VisitTeam | None, town: str | None) -> str:
    parts = [plan.name]
    if town:
        parts.append(town)
    if team is not None:
        parts.append(team.name)
    return "　".join(parts)
