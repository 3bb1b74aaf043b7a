"""走访慰问 plans from the roster: each verified household once, by priority, by area to a
team; merged 元旦+春节 windows in early years; idempotent regeneration; overdue; visits done."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from models.volunteer import Volunteer, VolunteerStatus
from scheduler.runner import run_due
from services.visit_plans import plan_specs, record_visit, team_list
from tests.scheduler_helpers import at, outbox_rows, seeded_sessions

_counter = iter(range(1, 10_000))


def add_household(s, town: str, *categories: str, verified: bool = True, village: str = "一村") -> int:
    household = Household(town=town, village=village, address="虚构路1号")
    s.add(household)
    s.flush()
    n = next(_counter)
    person = Beneficiary(number=f"YF2027-{n:04d}", household_id=household.id, name=f"测试{n}", relation="本人",
                         status=RegistrationStatus.VERIFIED if verified else RegistrationStatus.PENDING)
    s.add(person)
    s.flush()
    for category in categories:
        s.add(BeneficiaryStatus(beneficiary_id=person.id, category=category))
    return household.id


def add_volunteer(s, town: str, openid: str, approved: bool = True) -> None:
    n = next(_counter)
    s.add(Volunteer(number=f"ZY2027-{n:04d}", openid=openid, name=f"志愿者{n}", town=town, village="一村",
                    skills=[], availability="weekend",
                    status=VolunteerStatus.APPROVED if approved else VolunteerStatus.PENDING))


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


@pytest.fixture
def roster(sessions):
    with sessions.begin() as s:
        add_volunteer(s, "东镇", "oVolunteerEast01")
        add_volunteer(s, "东镇", "oVolunteerEast02")
        add_volunteer(s, "东镇", "oVolunteerEastPending", approved=False)
        add_volunteer(s, "西镇", "oVolunteerWest01")
        ids = {
            "veteran": add_household(s, "东镇", "VETERAN"),
            "martyr": add_household(s, "东镇", "MARTYR_F", "VETERAN", village="二村"),
            "disabled": add_household(s, "东镇", "DISABLED"),
            "demob": add_household(s, "西镇", "DEMOB_OLD"),
            "pending": add_household(s, "西镇", "ILL_F", verified=False),
        }
    return ids


def _plan(sessions, season):
    with sessions() as s:
        return s.scalars(select(VisitPlan).where(VisitPlan.season == season)).one()


def _visits(sessions, plan_id):
    with sessions() as s:
        return {v.household_id: v for v in s.scalars(select(PlannedVisit).where(PlannedVisit.plan_id == plan_id))}


def test_windows_merge_yuandan_and_chunjie_only_in_early_years(sessions):
    with sessions() as s:
        def windows(year):
            return {p.season: (p.window_start.isoformat(), p.window_end.isoformat()) for p in plan_specs(s, year)}
        assert windows(2027) == {"yuandan": ("2026-12-20", "2026-12-31"), "chunjie": ("2027-01-30", "2027-02-05"),
                                 "bayi": ("2027-07-20", "2027-07-31")}
        assert windows(2028)["yuandan+chunjie"] == ("2027-12-20", "2028-01-25")  # 小年 01-19 nearly meets 元旦
        assert windows(2031)["yuandan+chunjie"] == ("2030-12-20", "2031-01-22")
        assert "yuandan" in windows(2030) and "chunjie" in windows(2030)  # 小年 2030-01-26: kept apart
        assert {p.name for p in plan_specs(s, 2028)} >= {"2028年元旦春节走访慰问"}


def test_plan_lists_each_verified_household_once_by_priority_and_area(sessions, roster):
    run_due(sessions, at("2027-01-23T08:30"), only=("visit_plans",))  # 7 days before 小年 2027-01-30
    plan = _plan(sessions, "chunjie")
    assert (plan.window_start, plan.window_end, plan.holiday_date) == (date(2027, 1, 30), date(2027, 2, 5),
                                                                        date(2027, 2, 6))
    visits = _visits(sessions, plan.id)
    assert set(visits) == {roster[k] for k in ("veteran", "martyr", "disabled", "demob")}  # not the unverified
    assert visits[roster["martyr"]].category == "MARTYR_F"  # the household's highest-priority status
    with sessions() as s:
        teams = {t.town: t for t in s.scalars(select(VisitTeam))}
        east = team_list(s, plan.id, teams["东镇"].id)
        assert [v.household_id for v in east] == [roster["martyr"], roster["disabled"], roster["veteran"]]
        assert [v.household_id for v in team_list(s, plan.id, teams["西镇"].id)] == [roster["demob"]]
    lists = outbox_rows(sessions, kind="visit_plan")
    by_recipient = {r.recipient: r.payload["text"] for r in lists}
    assert set(by_recipient) == {"oVolunteerEast01", "oVolunteerEast02", "oVolunteerWest01", "role:staff"}
    assert "东镇走访组共 3 户待走访（重点对象 2 户）" in by_recipient["oVolunteerEast01"]
    assert "1月30日至2月5日" in by_recipient["oVolunteerWest01"]
    assert "共 4 户" in by_recipient["role:staff"]


def test_regeneration_adds_new_households_and_doubles_nothing(sessions, roster):
    run_due(sessions, at("2027-01-23T08:30"), only=("visit_plans",))
    plan = _plan(sessions, "chunjie")
    first_ids = {v.id for v in _visits(sessions, plan.id).values()}
    with sessions.begin() as s:
        record_visit(s, _visits(sessions, plan.id)[roster["martyr"]].id, actor="staff:test")
        new_one = add_household(s, "东镇", "ILL_RETURN")
        new_town = add_household(s, "南镇", "WAR_TEST")
    run_due(sessions, at("2027-01-24T08:30"), only=("visit_plans",))
    run_due(sessions, at("2027-01-25T08:30"), only=("visit_plans",))
    visits = _visits(sessions, plan.id)
    assert len(visits) == 6 and {new_one, new_town} <= set(visits)
    assert first_ids <= {v.id for v in visits.values()}  # the first rows are kept, not rebuilt
    assert visits[roster["martyr"]].status == VisitStatus.DONE  # a recorded visit survives regeneration
    with sessions() as s:
        assert s.scalar(select(func.count(VisitPlan.id))) == 1
        assert {t.town for t in s.scalars(select(VisitTeam))} == {"东镇", "西镇", "南镇"}
    updates = [r for r in outbox_rows(sessions, kind="visit_plan") if r.idempotency_key.startswith("visit_plan_update")]
    assert {r.recipient for r in updates} == {"oVolunteerEast01", "oVolunteerEast02", "role:staff"}
    assert all("新增 1 户" in r.payload["text"] for r in updates if r.recipient != "role:staff")
    # Only one first list per person, however often the plan is refreshed.
    firsts = [r.recipient for r in outbox_rows(sessions, kind="visit_plan") if r.idempotency_key.startswith("visit_plan:")]
    assert len(firsts) == len(set(firsts))


def test_household_no_longer_eligible_is_cancelled_with_an_event(sessions, roster):
    run_due(sessions, at("2027-01-23T08:30"), only=("visit_plans",))
    with sessions.begin() as s:
        person = s.scalars(select(Beneficiary).where(Beneficiary.household_id == roster["demob"])).one()
        person.status = RegistrationStatus.ERASED
    run_due(sessions, at("2027-01-24T08:30"), only=("visit_plans",))
    visit = _visits(sessions, _plan(sessions, "chunjie").id)[roster["demob"]]
    assert visit.status == VisitStatus.CANCELLED
    with sessions() as s:
        event = s.scalars(select(StatusEvent).where(StatusEvent.subject == "planned_visit",
                                                    StatusEvent.subject_id == visit.id)).one()
        assert (event.from_status, event.to_status) == ("planned", "cancelled")


def test_unvisited_households_are_flagged_overdue_before_the_holiday(sessions, roster):
    run_due(sessions, at("2027-01-23T08:30"), only=("visit_plans",))
    plan = _plan(sessions, "chunjie")
    with sessions.begin() as s:
        record_visit(s, _visits(sessions, plan.id)[roster["veteran"]].id, actor="staff:test", note="已慰问")
    run_due(sessions, at("2027-02-04T08:30"), only=("visit_plans",))
    assert VisitStatus.OVERDUE not in {v.status for v in _visits(sessions, plan.id).values()}
    run_due(sessions, at("2027-02-05T08:30"), only=("visit_plans",))  # 除夕: the window's last day
    visits = _visits(sessions, plan.id)
    assert visits[roster["veteran"]].status == VisitStatus.DONE
    assert {visits[roster[k]].status for k in ("martyr", "disabled", "demob")} == {VisitStatus.OVERDUE}
    overdue = {r.recipient: r.payload["text"] for r in outbox_rows(sessions, kind="visit_overdue")}
    assert "还有 2 户未走访" in overdue["oVolunteerEast01"]
    assert "共 3 户未走访" in overdue["role:staff"]
    run_due(sessions, at("2027-02-06T08:30"), only=("visit_plans",))
    assert len(outbox_rows(sessions, kind="visit_overdue")) == len(overdue)  # flagged once
    with sessions.begin() as s:  # a visit recorded late still counts as done
        record_visit(s, visits[roster["martyr"]].id, actor="staff:test")
    assert _visits(sessions, plan.id)[roster["martyr"]].status == VisitStatus.DONE
    with sessions() as s:
        trail = [(e.from_status, e.to_status) for e in s.scalars(
            select(StatusEvent).where(StatusEvent.subject == "planned_visit",
                                      StatusEvent.subject_id == visits[roster["martyr"]].id).order_by(StatusEvent.id))]
    assert trail == [("planned", "overdue"), ("overdue", "done")]


def test_merged_plan_2028_visits_each_household_once(sessions, roster):
    run_due(sessions, at("2027-12-13T08:30"), only=("visit_plans",))  # 7 days before 12-20
    run_due(sessions, at("2028-01-10T08:30"), only=("visit_plans",))
    with sessions() as s:
        plans = list(s.scalars(select(VisitPlan)))
    assert [(p.season, p.year, p.window_start, p.window_end) for p in plans] == [
        ("yuandan+chunjie", 2028, date(2027, 12, 20), date(2028, 1, 25))]
    assert len(_visits(sessions, plans[0].id)) == 4
