"""The year's figures for 述职 and 年终总结, for the county or one 乡镇: people on the roster by
category and by village, visits per plan and team with 慰问金 and 慰问品, help requests by
category with the median time to 办结 and satisfaction, and the approved volunteer hours.

Every figure is a GROUP BY or a column-only query; only the 办结 times are medianed in Python.
"""

from __future__ import annotations

import statistics as stats
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from models.activity import Activity, ActivitySignup
from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
from models.help_request import HelpRequest, RequestStatus
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from services.exports.common import CATEGORY_LABELS, Export, Table, yuan
from services.help_requests import CATEGORIES, SUBJECT as REQUEST
from services.local_time import local_instant
from services.work_queue import HANDOVER

CLOSED = (RequestStatus.RESOLVED, RequestStatus.VISITED)
SATISFIED = 4  # 满意 or 非常满意


@dataclass(frozen=True)
class Count:
    label: str
    count: int


@dataclass(frozen=True)
class Village:
    town: str
    village: str
    people: int
    households: int


@dataclass(frozen=True)
class PlanFigures:
    name: str
    team: str | None  # None: the plan as a whole
    planned: int
    done: int
    money_cents: int
    goods: int  # households given 慰问品

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.planned) if self.planned else 0


@dataclass(frozen=True)
class RequestFigures:
    label: str
    submitted: int
    closed: int
    median_hours: float | None  # submission to 办结
    rated: int
    average_rating: float | None
    satisfied_percent: int | None


@dataclass(frozen=True)
class Hours:
    volunteers: int
    signups: int
    minutes: int

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(Decimal("0.1"))

    def __bool__(self) -> bool:  # no approved hours yet: the page and the Excel say 暂无
        return self.signups > 0


@dataclass
class YearFigures:
    year: int
    town: str | None
    people: int = 0
    households: int = 0
    by_category: list[Count] = field(default_factory=list)
    by_village: list[Village] = field(default_factory=list)
    plans: list[PlanFigures] = field(default_factory=list)
    teams: list[PlanFigures] = field(default_factory=list)
    requests: list[RequestFigures] = field(default_factory=list)
    requests_total: RequestFigures | None = None
    hours: Hours | None = None  # set by figures()


def year_figures(session: Session, year: int, town: str | None = None) -> YearFigures:
    figures = YearFigures(year, town)
    _roster(session, figures)
    figures.plans = plan_figures(session, year, town)
    figures.teams = plan_figures(session, year, town, by_team=True)
    figures.requests, figures.requests_total = request_figures(session, year, town)
    figures.hours = volunteer_hours(session, year, town)
    return figures


# --- the roster ----------------------------------------------------------------------------


def _on_roster(query, town: str | None):
    query = query.where(Beneficiary.status == RegistrationStatus.VERIFIED, Beneficiary.ended_on.is_(None))
    return query if town is None else query.where(Household.town == town)


def _roster(session: Session, figures: YearFigures) -> None:
    town = figures.town
    base = select(func.count(Beneficiary.id), func.count(distinct(Beneficiary.household_id))).join(
        Household, Household.id == Beneficiary.household_id)
    figures.people, figures.households = session.execute(_on_roster(base, town)).one()
    by_category = _on_roster(
        select(BeneficiaryStatus.category, func.count(distinct(Beneficiary.id)))
        .join(Beneficiary, Beneficiary.id == BeneficiaryStatus.beneficiary_id)
        .join(Household, Household.id == Beneficiary.household_id)
        .where(BeneficiaryStatus.end_date.is_(None))
        .group_by(BeneficiaryStatus.category), town)
    found = {str(category): count for category, count in session.execute(by_category)}
    figures.by_category = [Count(label, found[code]) for code, label in CATEGORY_LABELS.items() if found.get(code)]
    by_village = _on_roster(
        select(Household.town, Household.village, func.count(Beneficiary.id), func.count(distinct(Household.id)))
        .join(Household, Household.id == Beneficiary.household_id)
        .group_by(Household.town, Household.village).order_by(Household.town, Household.village), town)
    figures.by_village = [Village(*row) for row in session.execute(by_village)]


# --- visits --------------------------------------------------------------------------------


def plan_figures(session: Session, year: int, town: str | None = None, *, by_team: bool = False) -> list[PlanFigures]:
    """Each plan of the year (per team with by_team): households listed, visited, 慰问金, 慰问品.
    A plan with no household (yet) is shown with zeros."""
    plans = session.execute(select(VisitPlan.id, VisitPlan.name).where(VisitPlan.year == year)
                            .order_by(VisitPlan.window_start, VisitPlan.id)).all()
    if not plans:
        return []
    team = VisitTeam.name if by_team else None
    done = PlannedVisit.status == VisitStatus.DONE  # distributed: what a recorded visit brought
    query = (select(PlannedVisit.plan_id, func.count(PlannedVisit.id),
                    func.sum(case((done, 1), else_=0)),
                    func.sum(case((done, func.coalesce(PlannedVisit.money_cents, 0)), else_=0)),
                    func.sum(case((done & PlannedVisit.goods.is_not(None) & (PlannedVisit.goods != ""), 1), else_=0)),
                    *([team] if by_team else []))
             .join(Household, Household.id == PlannedVisit.household_id)
             .where(PlannedVisit.plan_id.in_([p.id for p in plans]), PlannedVisit.status != VisitStatus.CANCELLED)
             .group_by(PlannedVisit.plan_id, *([team] if by_team else [])))
    if by_team:
        query = query.outerjoin(VisitTeam, VisitTeam.id == PlannedVisit.team_id).order_by(team)
    if town is not None:
        query = query.where(Household.town == town)
    found: dict[int, list] = {}
    for row in session.execute(query):
        found.setdefault(row[0], []).append(row)
    result = []
    for plan_id, name in plans:
        rows = found.get(plan_id) or ([] if by_team else [(plan_id, 0, 0, 0, 0)])
        result += [PlanFigures(name, (row[5] or "未分组") if by_team else None, row[1], int(row[2] or 0),
                               int(row[3] or 0), int(row[4] or 0)) for row in rows]
    return result


# --- help requests -------------------------------------------------------------------------


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return local_instant(date(year, 1, 1), "00:00"), local_instant(date(year + 1, 1, 1), "00:00")


def request_figures(session: Session, year: int, town: str | None = None) -> tuple[list[RequestFigures], RequestFigures]:
    """Requests submitted in the year, per category: how many, how many 办结, the median time
    from submission to (the last) 办结, and the ratings given at 回访."""
    start, end = _year_bounds(year)
    resolved_at = (select(StatusEvent.subject_id, func.max(StatusEvent.at).label("at"))
                   .where(StatusEvent.subject == REQUEST, StatusEvent.to_status == RequestStatus.RESOLVED.value)
                   .group_by(StatusEvent.subject_id).subquery())
    query = (select(HelpRequest.category, HelpRequest.status, HelpRequest.created_at, HelpRequest.rating,
                    resolved_at.c.at)
             .outerjoin(resolved_at, resolved_at.c.subject_id == HelpRequest.id)
             .where(HelpRequest.created_at >= start, HelpRequest.created_at < end, HelpRequest.category != HANDOVER))
    if town is not None:
        query = query.where(HelpRequest.town == town)
    groups: dict[str, list] = {}
    for row in session.execute(query):
        code = row[0] if row[0] in CATEGORIES else "other"
        groups.setdefault(code, []).append(row)
    rows = [_request_row(label, groups.get(code, [])) for code, label in CATEGORIES.items()
            if code != HANDOVER and groups.get(code)]
    return rows, _request_row("合计", [r for group in groups.values() for r in group])


def _request_row(label: str, rows: list) -> RequestFigures:
    closed = [r for r in rows if r[1] in CLOSED]
    hours = [(r[4] - r[2]).total_seconds() / 3600 for r in closed if r[4] is not None and r[2] is not None]
    ratings = [r[3] for r in rows if r[3]]
    return RequestFigures(
        label, len(rows), len(closed),
        round(stats.median(hours), 1) if hours else None, len(ratings),
        round(sum(ratings) / len(ratings), 1) if ratings else None,
        round(100 * sum(1 for x in ratings if x >= SATISFIED) / len(ratings)) if ratings else None,
    )


def duration_words(hours: float | None) -> str:
    """2.5天 / 6小时 / 不到1小时; 暂无 without any."""
    if hours is None:
        return "暂无"
    if hours >= 24:
        return f"{hours / 24:.1f}天".replace(".0天", "天")
    if hours >= 1:
        return f"{round(hours)}小时"
    return "不到1小时"


# --- volunteer hours (issue 14) ------------------------------------------------------------


def volunteer_hours(session: Session, year: int, town: str | None = None) -> Hours:
    """Approved service hours of the activities held in the year (services.service_hours)."""
    start, end = _year_bounds(year)
    query = (select(func.count(distinct(ActivitySignup.volunteer_id)), func.count(),
                    func.sum(ActivitySignup.service_minutes))
             .join(Activity, Activity.id == ActivitySignup.activity_id)
             .where(ActivitySignup.hours_approved_at.is_not(None), ActivitySignup.service_minutes.is_not(None),
                    Activity.starts_at >= start, Activity.starts_at < end))
    if town is not None:
        query = query.where(Activity.town == town)
    volunteers, signups, minutes = session.execute(query).one()
    return Hours(volunteers or 0, signups or 0, int(minutes or 0))


# --- as an export (the Excel of the page) ----------------------------------------------------


def as_export(figures: YearFigures) -> Export:
    scope = figures.town or "全县"
    people = Table("优抚对象", ["类别", "人数"], [24, 10],
                   [[c.label, c.count] for c in figures.by_category],
                   totals=[f"在册共{figures.people}人、{figures.households}户", ""])
    villages = Table("按村（社区）", ["乡镇（街道）", "村（社区）", "人数", "户数"], [14, 14, 10, 10],
                     [[v.town, v.village, v.people, v.households] for v in figures.by_village],
                     totals=["合计", "", figures.people, figures.households])
    visit_header = ["走访计划", "走访组", "应走访（户）", "已走访（户）", "完成率", "慰问金（元）", "送慰问品（户）"]
    visits = Table("走访慰问", visit_header, [28, 16, 12, 12, 10, 14, 14],
                   [_plan_row(p) for p in figures.plans + figures.teams], money_columns=frozenset({5}))
    request_header = ["类别", "受理求助（件）", "已办结（件）", "办结用时中位数", "已评价（件）", "平均评分", "满意率"]
    requests = Table("求助办理", request_header, [16, 14, 12, 16, 12, 10, 10],
                     [_request_cells(r) for r in figures.requests],
                     totals=_request_cells(figures.requests_total) if figures.requests_total else None)
    hours = figures.hours
    volunteer = Table("志愿服务", ["项目", "数值"], [24, 14],
                      [["参与志愿者（人）", hours.volunteers], ["服务人次", hours.signups], ["服务时长（小时）", hours.hours]]
                      if hours else [["志愿服务时长", "暂无"]])
    return Export("statistics", "双拥工作统计", f"{figures.year}年　{scope}",
                  [people, villages, visits, requests, volunteer], landscape=False)


def _plan_row(p: PlanFigures) -> list:
    return [p.name, p.team or "全部", p.planned, p.done, f"{p.percent}%", yuan(p.money_cents), p.goods]


def _request_cells(r: RequestFigures) -> list:
    return [r.label, r.submitted, r.closed, duration_words(r.median_hours), r.rated,
            r.average_rating if r.average_rating is not None else "暂无",
            f"{r.satisfied_percent}%" if r.satisfied_percent is not None else "暂无"]


def recent_years(today: date, back: int = 4) -> list[int]:
    """Next year first (its 元旦春节 plan is made in December), then this year and the last few."""
    return [today.year + 1 - n for n in range(back + 2)]

