"""志愿服务时长: hours from check-in and check-out, staff approval, corrections, totals, export.

How hours are counted (domain.md §1.5: hours actually served, confirmed by the organiser):
- from the check-in (not before the start) to the check-out; without a check-out, to the
  activity's end (the default duration is the activity's length);
- rounded per hour as 志愿山城 does: up to 15 minutes count 0, 15–45 minutes half an hour,
  45 or more a full hour;
- proposed hours count only once staff approve them; a correction (with its reason) sets
  the figure and counts as approved. Approved minutes also go into the volunteer's running
  total (`volunteer.service_minutes`, shown in the chat's 我的信息).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload

from models.activity import Activity, ActivitySignup, SignupStatus
from models.volunteer import Volunteer
from models.volunteer_team import VolunteerTeam, VolunteerTeamMember
from services import activities
from services.local_time import local_date
from services.workflow import TransitionError, required_text

STATUS_ORDER = {SignupStatus.REGISTERED: 0, SignupStatus.WAITLISTED: 1, SignupStatus.CANCELLED: 2}
MAX_MINUTES = 24 * 60  # one sign-up is one day at most
REASON_LIMIT = 200


def rounded(minutes: int) -> int:
    whole, rest = divmod(max(0, minutes), 60)
    return whole * 60 + (0 if rest <= 15 else 30 if rest < 45 else 60)


def proposed_minutes(signup: ActivitySignup, now: datetime) -> int | None:
    """Minutes the scans give, or None while there is nothing to count yet."""
    if signup.checked_in_at is None:
        return None
    activity = signup.activity
    end = signup.checked_out_at or activities.ends_at(activity)
    if signup.checked_out_at is None and now < end:
        return None  # still there: count once the activity is over or they check out
    start = max(signup.checked_in_at, activity.starts_at)
    return rounded(int((end - start).total_seconds() // 60))


def minutes(signup: ActivitySignup, now: datetime) -> int | None:
    """The hours to show: the approved or corrected figure, else the proposed one."""
    return signup.service_minutes if signup.service_minutes is not None else proposed_minutes(signup, now)


def approved(signup: ActivitySignup) -> bool:
    return signup.hours_approved_at is not None


def pending(signup: ActivitySignup, now: datetime) -> bool:
    return not approved(signup) and proposed_minutes(signup, now) is not None


def _credit(session: Session, signup: ActivitySignup, new: int) -> None:
    """Move the volunteer's running total by the change in approved minutes."""
    old = signup.service_minutes if approved(signup) else 0
    signup.service_minutes = new
    if signup.volunteer_id is not None:
        volunteer = session.get(Volunteer, signup.volunteer_id)
        if volunteer is not None:
            volunteer.service_minutes = max(0, (volunteer.service_minutes or 0) + new - (old or 0))


def approve(session: Session, signup: ActivitySignup, now: datetime, *, actor: str) -> bool:
    """Approve the proposed hours; False (nothing done) when already approved or nothing to count."""
    if approved(signup):
        return False
    proposed = proposed_minutes(signup, now)
    if proposed is None:
        return False
    _credit(session, signup, proposed)
    signup.hours_approved_at = now
    signup.hours_approved_by = actor[:64]
    signup.updated_at = now
    return True


def approve_all(session: Session, activity: Activity, now: datetime, *, actor: str) -> list[ActivitySignup]:
    """Approve every pending sign-up of an activity; returns those approved now."""
    return [s for s in signups(session, activity.id) if approve(session, s, now, actor=actor)]


def correct(session: Session, signup: ActivitySignup, hours_text: str, reason: str, now: datetime,
            *, actor: str) -> int:
    """Staff set the hours (e.g. someone forgot to scan), with a reason; returns the minutes."""
    reason = required_text(reason, "请填写修改原因，以备核查。", REASON_LIMIT, "修改原因")
    new = parse_hours(hours_text)
    if signup.status == SignupStatus.CANCELLED and new:
        raise TransitionError("这条报名已取消，不能记时长。")
    _credit(session, signup, new)
    signup.hours_approved_at = now
    signup.hours_approved_by = actor[:64]
    signup.hours_note = reason
    signup.updated_at = now
    return new


def parse_hours(text: str) -> int:
    """"2.5" or "2" hours → minutes; in half hours, as the national record keeps them."""
    try:
        value = float((text or "").strip())
    except ValueError:
        raise TransitionError("时长请填数字（小时），例如2或2.5。") from None
    if not 0 <= value * 60 <= MAX_MINUTES or value != value:
        raise TransitionError("时长应在0到24小时之间。")
    if round(value * 2) != value * 2:
        raise TransitionError("时长以半小时计，例如2或2.5。")
    return int(round(value * 60))


def staff_check_in(session: Session, signup: ActivitySignup, now: datetime) -> activities.Scan:
    """The person at the desk without a phone: the same rules as a scan."""
    return activities.check_in(session, signup.activity, signup.openid or "", now) if signup.openid else \
        _check_in_without_openid(signup, now)


def _check_in_without_openid(signup: ActivitySignup, now: datetime) -> activities.Scan:
    # Someone whose data was erased (no openid): staff can still record their arrival.
    activity = signup.activity
    if now < activities.checkin_opens_at(activity):
        return activities.Scan(activities.ScanOutcome.TOO_EARLY, activity, signup,
                               opens_at=activities.checkin_opens_at(activity))
    if signup.checked_in_at is None:
        signup.checked_in_at = now
        return activities.Scan(activities.ScanOutcome.CHECKED_IN, activity, signup)
    return activities.Scan(activities.ScanOutcome.ALREADY_IN, activity, signup)


def signups(session: Session, activity_id: int) -> list[ActivitySignup]:
    return list(session.scalars(
        select(ActivitySignup)
        .where(ActivitySignup.activity_id == activity_id)
        .options(joinedload(ActivitySignup.activity))
        .order_by(case(STATUS_ORDER, value=ActivitySignup.status, else_=9), ActivitySignup.queue_no)
    ))


def volunteers_of(session: Session, items: list[ActivitySignup]) -> dict[int, Volunteer]:
    ids = {s.volunteer_id for s in items if s.volunteer_id}
    if not ids:
        return {}
    return {v.id: v for v in session.scalars(select(Volunteer).where(Volunteer.id.in_(ids)))}


# --- totals and the national record --------------------------------------------------


def person_rows(session: Session, volunteer_id: int) -> list[ActivitySignup]:
    """A volunteer's sign-ups with hours (approved or waiting), newest activity first."""
    return list(session.scalars(
        select(ActivitySignup).join(Activity)
        .where(ActivitySignup.volunteer_id == volunteer_id, ActivitySignup.status != SignupStatus.CANCELLED)
        .options(joinedload(ActivitySignup.activity))
        .order_by(Activity.starts_at.desc())
    ))


@dataclass(frozen=True)
class RecordRow:
    """One line of the national volunteer service record."""

    name: str
    id_number: str | None
    activity: str
    day: date
    minutes: int
    volunteer_id: int
    town: str


def record_rows(session: Session, *, year: int | None = None, activity_id: int | None = None,
                team_id: int | None = None, town_scope=None) -> list[RecordRow]:
    """Approved hours as the national record wants them (姓名 证件号码 活动名称 服务日期 服务时长)."""
    query = (
        select(ActivitySignup, Volunteer, Activity)
        .join(Activity, ActivitySignup.activity_id == Activity.id)
        .join(Volunteer, ActivitySignup.volunteer_id == Volunteer.id)
        .where(ActivitySignup.hours_approved_at.is_not(None), ActivitySignup.service_minutes > 0)
        .order_by(Activity.starts_at, Activity.id, Volunteer.number)
    )
    if activity_id is not None:
        query = query.where(Activity.id == activity_id)
    if team_id is not None:
        query = query.where(Volunteer.id.in_(
            select(VolunteerTeamMember.volunteer_id).where(VolunteerTeamMember.team_id == team_id)))
    if town_scope is not None:
        query = query.where(town_scope)
    rows = []
    for signup, volunteer, activity in session.execute(query):
        day = local_date(activity.starts_at)
        if year is not None and day.year != year:
            continue
        rows.append(RecordRow(volunteer.name, volunteer.id_number, activity.title, day, signup.service_minutes,
                              volunteer.id, volunteer.town))
    return rows


def totals_by_person(rows: list[RecordRow]) -> dict[int, int]:
    found: dict[int, int] = {}
    for row in rows:
        found[row.volunteer_id] = found.get(row.volunteer_id, 0) + row.minutes
    return found


def team_totals(session: Session, teams: list[VolunteerTeam], year: int | None) -> dict[int, tuple[int, int]]:
    """Per team: (members, approved minutes of its members in the year)."""
    rows = record_rows(session, year=year)
    by_person = totals_by_person(rows)
    found = {}
    for team in teams:
        member_ids = [m.volunteer_id for m in team.members]
        found[team.id] = (len(member_ids), sum(by_person.get(i, 0) for i in member_ids))
    return found


def hours_text(minutes_value: int | None) -> str:
    """2.5 → "2.5", 2.0 → "2": how the national record writes 服务时长(小时)."""
    if minutes_value is None:
        return ""
    return f"{minutes_value / 60:g}"


def pending_counts(session: Session, activity_ids: list[int], now: datetime) -> dict[int, int]:
    """Sign-ups whose hours wait for staff, per activity (for the list: what needs doing)."""
    found = dict.fromkeys(activity_ids, 0)
    if not activity_ids:
        return found
    waiting = session.scalars(
        select(ActivitySignup)
        .where(ActivitySignup.activity_id.in_(activity_ids), ActivitySignup.checked_in_at.is_not(None),
               ActivitySignup.hours_approved_at.is_(None))
        .options(joinedload(ActivitySignup.activity))
    )
    for signup in waiting:
        found[signup.activity_id] += pending(signup, now)
    return found


def approved_minutes(session: Session, activity_id: int) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(ActivitySignup.service_minutes), 0))
        .where(ActivitySignup.activity_id == activity_id, ActivitySignup.hours_approved_at.is_not(None))
    ) or 0
