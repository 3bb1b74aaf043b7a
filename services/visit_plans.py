"""走访慰问 plans: each verified household of the campaign's categories once per plan, by
priority, assigned by area (乡镇) to a visit team, for the campaign's window
(services.visit_campaigns). Overdue only after the window has ended.

Regenerating a plan is idempotent: a household already in it keeps its row (and its
status); new households are added; households no longer eligible are cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from models import utcnow
from models.beneficiary import Beneficiary, BeneficiaryCategory as C, BeneficiaryStatus, Household, RegistrationStatus
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from services.scheduled_pushes import team_member_openids
from services.visit_assignment import share_out
from services.visit_campaigns import PlanSpec

# Lower is visited first: 三属 first, then 残疾军人, 老复员军人, 带病回乡, 两参 … (domain.md §1.2).
PRIORITY: dict[str, int] = {
    C.MARTYR_F: 1, C.DUTY_F: 1, C.ILL_F: 1, C.RED: 2, C.DISABLED: 3, C.DEMOB_OLD: 4, C.ILL_RETURN: 5,
    C.WAR_TEST: 6, C.MARTYR_CHILD: 7, C.RURAL_OLD: 8, C.MILITIA: 9, C.SOLDIER: 10, C.FAMILY: 10, C.VETERAN: 11,
}
SUBJECT = "planned_visit"
INSERT_CHUNK = 10_000  # rows per statement: bounds the memory of one batch


@dataclass
class PlanResult:
    plan: VisitPlan
    added: int = 0
    cancelled: int = 0
    restored: int = 0
    added_by_team: dict[int, int] = field(default_factory=dict)
    given: dict[int, list[int]] = field(default_factory=dict)  # member id → household ids given this run


# --- generating --------------------------------------------------------------------


def eligible_households(session: Session, spec: PlanSpec) -> dict[int, tuple[int, str, str, str]]:
    """household id → (priority, category, town, village) for households with a verified member
    holding a status valid during the window."""
    query = (
        select(Beneficiary.household_id, BeneficiaryStatus.category, Household.town, Household.village)
        .join(Beneficiary, Beneficiary.id == BeneficiaryStatus.beneficiary_id)
        .join(Household, Household.id == Beneficiary.household_id)
        .where(
            Beneficiary.status == RegistrationStatus.VERIFIED,
            # An entitlement ended before the window is over leaves the plan (a planned visit
            # is cancelled when the plan is refreshed; a visit already made stays).
            (Beneficiary.ended_on.is_(None)) | (Beneficiary.ended_on > spec.window_end),
            (BeneficiaryStatus.end_date.is_(None)) | (BeneficiaryStatus.end_date >= spec.window_start),
            (BeneficiaryStatus.start_date.is_(None)) | (BeneficiaryStatus.start_date <= spec.window_end),
        )
    )
    if spec.categories is not None:
        query = query.where(BeneficiaryStatus.category.in_(sorted(spec.categories)))
    found: dict[int, tuple[int, str, str, str]] = {}
    for household_id, category, town, village in session.execute(query):
        rank = PRIORITY.get(category, 99)
        if household_id not in found or rank < found[household_id][0]:
            found[household_id] = (rank, str(category), town, village)
    return found


def teams_for(session: Session, areas: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(town, village) → its visit team: the active team serving that village, else the town's
    whole-town team (no villages listed); a town without any team gets a whole-town team of its
    approved volunteers."""
    active = list(session.scalars(select(VisitTeam).where(VisitTeam.active.is_(True)).order_by(VisitTeam.id)))
    by_village: dict[tuple[str, str], int] = {}
    whole_town: dict[str, int] = {}
    for team in active:
        listed = team_villages(team)
        for village in listed:
            by_village.setdefault((team.town, village), team.id)
        if not listed:
            whole_town.setdefault(team.town, team.id)
    towns = {town for town, _ in areas}
    for town in sorted(towns - set(whole_town) - {t.town for t in active}):
        if session.scalar(select(VisitTeam.id).where(VisitTeam.town == town)) is not None:
            continue  # a team staff switched off: its households stay unassigned
        team = VisitTeam(town=town, name=f"{town}走访组", active=True)
        session.add(team)
        session.flush()
        # In sign-up order: the members' order decides who is given households first, and without
        # ORDER BY PostgreSQL may return the rows in any order (a test saw it swap two volunteers).
        volunteer_ids = session.scalars(
            select(Volunteer.id).where(Volunteer.town == town, Volunteer.status == VolunteerStatus.APPROVED)
            .order_by(Volunteer.id)
        )
        session.add_all(VisitTeamMember(team_id=team.id, volunteer_id=vid) for vid in volunteer_ids)
        whole_town[town] = team.id
    found = {}
    for town, village in areas:
        team_id = by_village.get((town, village), whole_town.get(town))
        if team_id is not None:
            found[(town, village)] = team_id
    return found


def team_villages(team: VisitTeam) -> list[str]:
    """The villages a team serves; empty: the whole town."""
    from services.areas import split_villages

    return split_villages(team.villages)


def generate_plan(session: Session, spec: PlanSpec, actor: str = "system") -> PlanResult:
    plan = session.scalars(select(VisitPlan).where(VisitPlan.season == spec.season, VisitPlan.year == spec.year)).first()
    if plan is None:
        plan = VisitPlan(season=spec.season, year=spec.year, name=spec.name, holiday_date=spec.holiday_date,
                         window_start=spec.window_start, window_end=spec.window_end, generated_at=utcnow())
        session.add(plan)
        session.flush()
    else:  # staff may have changed the season's rules since: follow them
        plan.name, plan.holiday_date = spec.name, spec.holiday_date
        plan.window_start, plan.window_end = spec.window_start, spec.window_end
    result = PlanResult(plan)
    eligible = eligible_households(session, spec)
    teams = teams_for(session, {(town, village) for _, _, town, village in eligible.values()})
    existing = {
        row.household_id: row
        for row in session.execute(
            select(PlannedVisit.id, PlannedVisit.household_id, PlannedVisit.status, PlannedVisit.team_id,
                   PlannedVisit.priority, PlannedVisit.category)
            .where(PlannedVisit.plan_id == plan.id)
        )
    }
    new = _new_rows(plan, eligible, existing, teams, result)
    _follow_roster_changes(session, eligible, existing, teams, result, actor)
    villages = {household_id: village for household_id, (_, _, _, village) in eligible.items()}
    result.given = share_out(session, plan.id, new, villages)
    _insert(session, new, result)
    return result


def _new_rows(plan, eligible, existing, teams, result) -> list[dict]:
    rows, now = [], utcnow()
    for household_id, (rank, category, town, village) in eligible.items():
        if household_id in existing:
            continue
        team_id = teams.get((town, village))
        rows.append({"plan_id": plan.id, "household_id": household_id, "team_id": team_id, "member_id": None,
                     "priority": rank, "category": category, "status": VisitStatus.PLANNED.value, "created_at": now})
        if team_id is not None:
            result.added_by_team[team_id] = result.added_by_team.get(team_id, 0) + 1
    return rows


def _insert(session, rows, result) -> None:
    # A Core executemany on the table: 4x faster than the ORM bulk path and than big
    # multi-row VALUES statements (whose compilation dominates) on both databases.
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(PlannedVisit.__table__), rows[start:start + INSERT_CHUNK])
    result.added = len(rows)


def _follow_roster_changes(session, eligible, existing, teams, result, actor) -> None:
    for household_id, row in existing.items():
        if household_id not in eligible and row.status == VisitStatus.PLANNED:
            _change_status(session, row.id, row.status, VisitStatus.CANCELLED, actor, "不再符合走访条件")
            result.cancelled += 1
        elif household_id in eligible:
            rank, category, town, village = eligible[household_id]
            if row.status == VisitStatus.CANCELLED:
                _change_status(session, row.id, row.status, VisitStatus.PLANNED, actor, "重新列入走访")
                result.restored += 1
            team_id = teams.get((town, village), row.team_id)
            changed = (rank, category, team_id) != (row.priority, row.category, row.team_id)
            if changed and row.status in (VisitStatus.PLANNED, VisitStatus.CANCELLED):
                values = {"priority": rank, "category": category, "team_id": team_id}
                if team_id != row.team_id:
                    values["member_id"] = None  # moved to another team: given again there
                session.execute(update(PlannedVisit).where(PlannedVisit.id == row.id).values(**values))


def _change_status(session: Session, visit_id: int, before: str, after: VisitStatus, actor: str,
                   note: str | None = None, at: datetime | None = None) -> None:
    values = {"status": after}
    if after is VisitStatus.DONE:
        values["visited_at"] = at or utcnow()
    session.execute(update(PlannedVisit).where(PlannedVisit.id == visit_id).values(**values))
    session.add(StatusEvent(subject=SUBJECT, subject_id=visit_id, from_status=str(before), to_status=after.value,
                            actor=actor, note=note, at=at or utcnow()))


# --- visits, overdue ------------------------------------------------------------------


class VisitError(ValueError):
    """A visit that cannot be recorded; the message is for staff (Chinese)."""


def record_visit(session: Session, visit_id: int, *, actor: str, at: datetime | None = None,
                 note: str | None = None) -> PlannedVisit:
    """A recorded visit is done (also after it was flagged overdue)."""
    visit = session.get(PlannedVisit, visit_id, with_for_update=True)
    if visit is None:
        raise VisitError("没有这条走访记录")
    if visit.status == VisitStatus.DONE:
        return visit  # recorded twice (a double tap): once is enough
    if visit.status == VisitStatus.CANCELLED:
        raise VisitError("这户已不在本次走访名单中")
    _change_status(session, visit.id, visit.status, VisitStatus.DONE, actor, note, at)
    session.refresh(visit)
    visit.recorded_by = visit.recorded_by or actor  # the 走访台账 names who recorded each visit
    return visit


def record_by_member(session: Session, visit_id: int, openid: str, at: datetime) -> tuple[PlannedVisit, int]:
    """A team member reports a visit from the chat ("已走访 编号"): only a household on their
    own team's list. Returns the visit and how many of the team's households are still to visit."""
    visit = session.get(PlannedVisit, visit_id)
    if visit is None or visit.team_id is None or openid not in team_member_openids(session, visit.team_id):
        raise VisitError(f"编号{visit_id}不在您所在走访组的名单里，请核对编号。")
    if visit.status == VisitStatus.DONE:
        raise VisitError(f"编号{visit_id}已经登记过了，谢谢您！")
    number = session.scalar(select(Volunteer.number).where(Volunteer.openid == openid))
    visit = record_visit(session, visit_id, actor=f"volunteer:{number}" if number else "team_member", at=at,
                         note="走访组成员在公众号登记")
    left = session.scalar(select(func.count(PlannedVisit.id)).where(
        PlannedVisit.plan_id == visit.plan_id, PlannedVisit.team_id == visit.team_id,
        PlannedVisit.status.in_([VisitStatus.PLANNED, VisitStatus.OVERDUE])))
    return visit, left or 0


def overlapping_plan(session: Session, spec: PlanSpec) -> VisitPlan | None:
    """Another campaign's plan whose window overlaps this one (staff switched between one
    两节 round and separate 元旦/春节 rounds mid-season): one 慰问金 per household and season,
    so no second plan is made."""
    return session.scalars(
        select(VisitPlan).where(VisitPlan.window_start <= spec.window_end, VisitPlan.window_end >= spec.window_start,
                                ~((VisitPlan.season == spec.season) & (VisitPlan.year == spec.year)))
        .order_by(VisitPlan.id)
    ).first()


def plans_to_close(session: Session, today: date) -> list[VisitPlan]:
    """Plans whose window ended before today and whose overdue households are not flagged yet
    (also when the scheduler was down on the window's last day)."""
    return list(session.scalars(
        select(VisitPlan).where(VisitPlan.window_end < today, VisitPlan.overdue_flagged_at.is_(None))
        .order_by(VisitPlan.window_end, VisitPlan.id)
    ))


def flag_overdue(session: Session, plan: VisitPlan, actor: str = "system") -> dict[int | None, int]:
    """Mark the plan's unvisited households overdue; team id → how many."""
    rows = session.execute(
        select(PlannedVisit.id, PlannedVisit.team_id)
        .where(PlannedVisit.plan_id == plan.id, PlannedVisit.status == VisitStatus.PLANNED)
    ).all()
    counts: dict[int | None, int] = {}
    for visit_id, team_id in rows:
        _change_status(session, visit_id, VisitStatus.PLANNED, VisitStatus.OVERDUE, actor, "走访期结束仍未走访")
        counts[team_id] = counts.get(team_id, 0) + 1
    plan.overdue_flagged_at = utcnow()
    return counts


def team_counts(session: Session, plan_id: int) -> dict[int | None, tuple[int, int]]:
    """team id → (households to visit, of which priority 1–3: 三属, 三红, 残疾军人)."""
    counts: dict[int | None, tuple[int, int]] = {}
    rows = session.execute(
        select(PlannedVisit.team_id, PlannedVisit.priority)
        .where(PlannedVisit.plan_id == plan_id, PlannedVisit.status.in_([VisitStatus.PLANNED, VisitStatus.OVERDUE]))
    )
    for team_id, rank in rows:
        total, key = counts.get(team_id, (0, 0))
        counts[team_id] = (total + 1, key + (1 if rank <= 3 else 0))
    return counts


def team_list(session: Session, plan_id: int, team_id: int) -> list[PlannedVisit]:
    """A team's visits, in visiting order (priority, then village)."""
    return list(
        session.scalars(
            select(PlannedVisit)
            .join(Household, Household.id == PlannedVisit.household_id)
            .where(PlannedVisit.plan_id == plan_id, PlannedVisit.team_id == team_id,
                   PlannedVisit.status != VisitStatus.CANCELLED)
            .order_by(PlannedVisit.priority, Household.village, PlannedVisit.household_id)
        )
    )
