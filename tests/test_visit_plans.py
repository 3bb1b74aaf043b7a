"""走访慰问 plans from the roster: one 两节 campaign (腊八 or 1/15 to 元宵) and 八一; each
verified household of the campaign's categories once, by priority, by area to a team, whose
members get their own list; separate 元旦/春节 rounds on request (merged in early years);
idempotent regeneration; overdue only after the window, also after downtime."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from models.outbox import STAFF
from scheduler.runner import run_due
from services.visit_campaigns import change_campaign, plan_specs, use_separate_rounds
from services.visit_plans import record_visit, team_list
from tests.scheduler_helpers import at, outbox_rows, seeded_sessions

_counter = iter(range(1, 10_000))


def add_household(s, town: str, *categories: str, verified: bool = True, village: str = "一村",
                  id_number: str | None = None) -> int:
    household = Household(town=town, village=village, address="虚构路1号")
    s.add(household)
    s.flush()
    n = next(_counter)
    person = Beneficiary(number=f"YF2027-{n:04d}", household_id=household.id, name=f"测试{n}", relation="本人",
                         status=RegistrationStatus.VERIFIED if verified else RegistrationStatus.PENDING,
                         id_number=id_number)
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
            "martyr": add_household(s, "东镇", "MARTYR_F", "VETERAN", village="二村", id_number="320102194501011234"),
            "disabled": add_household(s, "东镇", "DISABLED"),
            "demob": add_household(s, "西镇", "DEMOB_OLD"),
            "pending": add_household(s, "西镇", "ILL_F", verified=False),
        }
    return ids


def _plan(sessions, season, year=None):
    with sessions() as s:
        query = select(VisitPlan).where(VisitPlan.season == season)
        if year is not None:
            query = query.where(VisitPlan.year == year)
        return s.scalars(query).one()


def _visits(sessions, plan_id):
    with sessions() as s:
        return {v.household_id: v for v in s.scalars(select(PlannedVisit).where(PlannedVisit.plan_id == plan_id))}


def _windows(s, year):
    return {p.season: (p.window_start.isoformat(), p.window_end.isoformat()) for p in plan_specs(s, year)}


def test_one_two_festivals_campaign_from_laba_or_mid_january_to_yuanxiao(sessions):
    with sessions() as s:
        assert _windows(s, 2027) == {"liangjie": ("2027-01-15", "2027-02-20"), "bayi": ("2027-07-20", "2027-08-01")}
        assert _windows(s, 2028)["liangjie"] == ("2028-01-04", "2028-02-09")  # 腊八 01-04 before 1/15
        assert _windows(s, 2029)["liangjie"] == ("2029-01-15", "2029-02-27")  # 腊八 01-22 after 1/15
        assert _windows(s, 2031)["liangjie"] == ("2031-01-01", "2031-02-06")  # 腊八 on 元旦
        spec = {p.season: p for p in plan_specs(s, 2027)}["liangjie"]
        assert (spec.name, spec.generate_on, spec.holiday_date) == ("2027年元旦春节走访慰问", date(2027, 1, 8),
                                                                   date(2027, 2, 6))


def test_separate_rounds_on_request_merge_only_in_early_years(sessions):
    with sessions.begin() as s:
        use_separate_rounds(s, True)
    with sessions() as s:
        assert _windows(s, 2027) == {"yuandan": ("2026-12-20", "2027-01-03"), "chunjie": ("2027-01-15", "2027-02-20"),
                                     "bayi": ("2027-07-20", "2027-08-01")}
        assert _windows(s, 2028)["yuandan+chunjie"] == ("2027-12-20", "2028-02-09")  # 腊八 01-04 meets 元旦
        assert _windows(s, 2031)["yuandan+chunjie"] == ("2030-12-20", "2031-02-06")
        assert {"yuandan", "chunjie"} <= set(_windows(s, 2030))  # 腊八 2030-01-11: kept apart
        assert {p.name for p in plan_specs(s, 2028)} >= {"2028年元旦春节走访慰问"}
    with sessions.begin() as s:
        use_separate_rounds(s, False)
    with sessions() as s:
        assert set(_windows(s, 2028)) == {"liangjie", "bayi"}


def test_plan_lists_each_household_once_by_priority_and_area(sessions, roster):
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))  # 7 days before 1/15
    plan = _plan(sessions, "liangjie")
    assert (plan.window_start, plan.window_end, plan.holiday_date) == (date(2027, 1, 15), date(2027, 2, 20),
                                                                        date(2027, 2, 6))
    visits = _visits(sessions, plan.id)
    # Not the unverified household, nor (by default) the plain 退役军人 one.
    assert set(visits) == {roster[k] for k in ("martyr", "disabled", "demob")}
    assert visits[roster["martyr"]].category == "MARTYR_F"  # the household's highest-priority status
    with sessions() as s:
        teams = {t.town: t for t in s.scalars(select(VisitTeam))}
        east = team_list(s, plan.id, teams["东镇"].id)
        assert [v.household_id for v in east] == [roster["martyr"], roster["disabled"]]
        assert [v.household_id for v in team_list(s, plan.id, teams["西镇"].id)] == [roster["demob"]]
    lists = outbox_rows(sessions, kind="visit_plan")
    by_recipient = {str(r.to): r.payload["text"] for r in lists}
    assert set(by_recipient) == {"oVolunteerEast01", "oVolunteerEast02", "oVolunteerWest01", "role:staff"}
    martyr, disabled = visits[roster["martyr"]].id, visits[roster["disabled"]].id
    # Each volunteer gets their own households: an even share, village by village.
    assert by_recipient["oVolunteerEast01"] == (
        "2027年元旦春节走访慰问：东镇走访组请您走访以下1户（重点对象1户），请在1月15日至2月20日完成。"
        f"每走访完一户，请在公众号回复“已走访”和编号，例如“已走访{disabled}”；要登记慰问金和情况，请回复“走访登记”。走访名单："
        f"\n1. 编号{disabled}：一村，虚构路1号（重点）")
    assert by_recipient["oVolunteerEast02"].endswith(f"走访名单：\n1. 编号{martyr}：二村，虚构路1号（重点）")
    for text in by_recipient.values():
        assert "工作台" not in text and "320102" not in text and "测试" not in text  # PI-11: no ID, no names
    assert f"编号{visits[roster['demob']].id}：一村" in by_recipient["oVolunteerWest01"]
    assert "共3户" in by_recipient["role:staff"]
    with sessions() as s:
        assert {v.member_id for v in s.scalars(select(PlannedVisit))} == {
            m.id for m in s.scalars(select(VisitTeamMember))}  # each member holds one household


def test_a_staff_member_of_a_team_gets_the_summary_or_the_list_when_alone(sessions):
    with sessions.begin() as s:
        add_volunteer(s, "东镇", "oVolunteerEast01")
        for town, members in (("东镇", ["oStaffEast00001"]), ("西镇", ["oStaffWest00001"])):
            team = VisitTeam(town=town, name=f"{town}走访组", active=True)
            s.add(team)
            s.flush()
            s.add_all(VisitTeamMember(team_id=team.id, staff_openid=o) for o in members)
        east = s.scalars(select(VisitTeam).where(VisitTeam.town == "东镇")).one()
        volunteer = s.scalars(select(Volunteer).where(Volunteer.openid == "oVolunteerEast01")).one()
        s.add(VisitTeamMember(team_id=east.id, volunteer_id=volunteer.id))
        add_household(s, "东镇", "DISABLED")
        add_household(s, "西镇", "DEMOB_OLD")
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    texts = {str(r.to): r.payload["text"] for r in outbox_rows(sessions, kind="visit_plan")}
    assert texts["oStaffEast00001"] == ("2027年元旦春节走访慰问：东镇走访组共1户待走访（重点对象1户），"
                                        "请在1月15日至2月20日完成。名单已分给本组志愿者，每人收到自己负责的几户。")
    assert "请您走访以下1户" in texts["oVolunteerEast01"]
    assert "请您走访以下1户" in texts["oStaffWest00001"]  # a team without volunteers: its staff carry the list


def test_a_member_who_leaves_hands_their_households_to_the_others(sessions, roster):
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    martyr = _visits(sessions, _plan(sessions, "liangjie").id)[roster["martyr"]].id
    with sessions.begin() as s:
        volunteer = s.scalars(select(Volunteer).where(Volunteer.openid == "oVolunteerEast02")).one()
        s.delete(s.scalars(select(VisitTeamMember).where(VisitTeamMember.volunteer_id == volunteer.id)).one())
    run_due(sessions, at("2027-01-09T08:30"), only=("visit_plans",))
    updates = {str(r.to): r.payload["text"] for r in outbox_rows(sessions)
               if r.idempotency_key.startswith("visit_plan_update")}
    assert updates == {"oVolunteerEast01": (
        "2027年元旦春节走访慰问：东镇走访组新分给您1户，请在1月15日至2月20日走访。"
        f"每走访完一户，请在公众号回复“已走访”和编号，例如“已走访{martyr}”；要登记慰问金和情况，请回复“走访登记”。新增名单："
        f"\n1. 编号{martyr}：二村，虚构路1号（重点）")}


def test_a_long_list_is_split_into_messages_that_fit(sessions):
    with sessions.begin() as s:
        add_volunteer(s, "北镇", "oVolunteerNorth1")
        for n in range(60):
            add_household(s, "北镇", "DISABLED", village=f"第{n:02d}村")
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    texts = [r.payload["text"] for r in outbox_rows(sessions, kind="visit_plan") if r.recipient == "oVolunteerNorth1"]
    assert len(texts) >= 2 and all(len(t) <= 1000 for t in texts)
    assert texts[0].startswith("2027年元旦春节走访慰问：北镇走访组请您走访以下60户")
    assert texts[0].endswith(f"（第1/{len(texts)}条）")
    assert sum(t.count("编号") for t in texts) == 60 + 1  # 60 households, and "编号" in how to record
    assert all("已走访" in t for t in texts[:1])


def test_a_campaign_can_include_veterans(sessions, roster):
    with sessions.begin() as s:
        change_campaign(s, "liangjie", categories="MARTYR_F,DISABLED,DEMOB_OLD,VETERAN")
    run_due(sessions, at("2027-01-20T08:30"), only=("visit_plans",))
    assert set(_visits(sessions, _plan(sessions, "liangjie").id)) == {
        roster[k] for k in ("veteran", "martyr", "disabled", "demob")}


def test_regeneration_adds_new_households_and_doubles_nothing(sessions, roster):
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    plan = _plan(sessions, "liangjie")
    first_ids = {v.id for v in _visits(sessions, plan.id).values()}
    with sessions.begin() as s:
        record_visit(s, _visits(sessions, plan.id)[roster["martyr"]].id, actor="staff:test")
        new_one = add_household(s, "东镇", "ILL_RETURN")
        new_town = add_household(s, "南镇", "WAR_TEST")
    run_due(sessions, at("2027-01-09T08:30"), only=("visit_plans",))
    run_due(sessions, at("2027-01-10T08:30"), only=("visit_plans",))
    visits = _visits(sessions, plan.id)
    assert len(visits) == 5 and {new_one, new_town} <= set(visits)
    assert first_ids <= {v.id for v in visits.values()}  # the first rows are kept, not rebuilt
    assert visits[roster["martyr"]].status == VisitStatus.DONE  # a recorded visit survives regeneration
    with sessions() as s:
        assert s.scalar(select(func.count(VisitPlan.id))) == 1
        assert {t.town for t in s.scalars(select(VisitTeam))} == {"东镇", "西镇", "南镇"}
    updates = [r for r in outbox_rows(sessions, kind="visit_plan") if r.idempotency_key.startswith("visit_plan_update")]
    # The new 东镇 household goes to the volunteer under an even share (East02 visited theirs).
    assert {str(r.to) for r in updates} == {"oVolunteerEast02", "role:staff"}
    east = [r.payload["text"] for r in updates if r.recipient == "oVolunteerEast02"]
    assert east[0].startswith("2027年元旦春节走访慰问：东镇走访组新分给您1户") and f"编号{visits[new_one].id}" in east[0]
    # Only one first list per person, however often the plan is refreshed.
    firsts = [str(r.to) for r in outbox_rows(sessions, kind="visit_plan") if r.idempotency_key.startswith("visit_plan:")]
    assert len(firsts) == len(set(firsts))


def test_household_no_longer_eligible_is_cancelled_with_an_event(sessions, roster):
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    with sessions.begin() as s:
        person = s.scalars(select(Beneficiary).where(Beneficiary.household_id == roster["demob"])).one()
        person.status = RegistrationStatus.ERASED
    run_due(sessions, at("2027-01-09T08:30"), only=("visit_plans",))
    visit = _visits(sessions, _plan(sessions, "liangjie").id)[roster["demob"]]
    assert visit.status == VisitStatus.CANCELLED
    with sessions() as s:
        event = s.scalars(select(StatusEvent).where(StatusEvent.subject == "planned_visit",
                                                    StatusEvent.subject_id == visit.id)).one()
        assert (event.from_status, event.to_status) == ("planned", "cancelled")


def test_households_are_overdue_only_after_the_window_has_ended(sessions, roster):
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    plan = _plan(sessions, "liangjie")
    with sessions.begin() as s:
        record_visit(s, _visits(sessions, plan.id)[roster["disabled"]].id, actor="staff:test", note="已慰问")
    for day in ("2027-02-05", "2027-02-06", "2027-02-20"):  # 除夕, 春节, 元宵: still inside the window
        run_due(sessions, at(f"{day}T08:30"), only=("visit_plans",))
        assert VisitStatus.OVERDUE not in {v.status for v in _visits(sessions, plan.id).values()}, day
    run_due(sessions, at("2027-02-21T08:30"), only=("visit_plans",))
    visits = _visits(sessions, plan.id)
    assert visits[roster["disabled"]].status == VisitStatus.DONE
    assert {visits[roster[k]].status for k in ("martyr", "demob")} == {VisitStatus.OVERDUE}
    overdue = {str(r.to): r.payload["text"] for r in outbox_rows(sessions, kind="visit_overdue")}
    assert overdue["oVolunteerEast01"] == ("2027年元旦春节走访慰问已于2月20日结束，东镇走访组还有1户没有走访。"
                                          "请尽快补访，走访后回复“已走访”和编号登记。")
    assert "共2户未走访" in overdue["role:staff"]
    run_due(sessions, at("2027-02-22T08:30"), only=("visit_plans",))
    assert len(outbox_rows(sessions, kind="visit_overdue")) == len(overdue)  # flagged once
    with sessions.begin() as s:  # a visit recorded late still counts as done
        record_visit(s, visits[roster["martyr"]].id, actor="staff:test")
    assert _visits(sessions, plan.id)[roster["martyr"]].status == VisitStatus.DONE
    with sessions() as s:
        trail = [(e.from_status, e.to_status) for e in s.scalars(
            select(StatusEvent).where(StatusEvent.subject == "planned_visit",
                                      StatusEvent.subject_id == visits[roster["martyr"]].id).order_by(StatusEvent.id))]
    assert trail == [("planned", "overdue"), ("overdue", "done")]


@pytest.mark.parametrize("down_from, back_on", [("2027-02-17", "2027-02-24"), ("2027-02-01", "2027-04-02")])
def test_downtime_across_the_window_end_still_closes_the_plan(sessions, roster, down_from, back_on):
    """7 and 60 days without a scheduler across 元宵 (the window's end): the plan is closed once
    on the first run back; nothing is regenerated after the window."""
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    run_due(sessions, at(f"{down_from}T08:30"), only=("visit_plans",))
    plan = _plan(sessions, "liangjie")
    assert plan.overdue_flagged_at is None
    with sessions.begin() as s:
        add_household(s, "东镇", "ILL_RETURN")  # registered while the scheduler was down
    run_due(sessions, at(f"{back_on}T08:30"), only=("visit_plans",))
    visits = _visits(sessions, plan.id)
    assert len(visits) == 3 and {v.status for v in visits.values()} == {VisitStatus.OVERDUE}
    assert len([r for r in outbox_rows(sessions, kind="visit_overdue") if r.to == STAFF]) == 1
    assert not [r for r in outbox_rows(sessions) if r.idempotency_key.startswith("visit_plan_update")]


def test_installed_after_the_planning_day_the_plan_is_made_at_once(sessions, roster):
    run_due(sessions, at("2027-02-06T09:00"), only=("visit_plans",))  # 初一: the window runs to 元宵
    plan = _plan(sessions, "liangjie")
    assert len(_visits(sessions, plan.id)) == 3 and plan.overdue_flagged_at is None
    assert {str(r.to) for r in outbox_rows(sessions, kind="visit_plan")} >= {"oVolunteerEast01", "role:staff"}


def test_installed_after_the_window_no_plan_is_made(sessions, roster):
    run_due(sessions, at("2027-02-21T09:00"), only=("visit_plans",))
    with sessions() as s:
        assert s.scalar(select(func.count(VisitPlan.id))) == 0
    assert outbox_rows(sessions) == []


def test_early_year_2028_plan_visits_each_household_once(sessions, roster):
    run_due(sessions, at("2027-12-28T08:30"), only=("visit_plans",))  # 7 days before 腊八 2028-01-04
    run_due(sessions, at("2028-01-10T08:30"), only=("visit_plans",))
    with sessions() as s:
        plans = list(s.scalars(select(VisitPlan)))
    assert [(p.season, p.year, p.window_start, p.window_end) for p in plans] == [
        ("liangjie", 2028, date(2028, 1, 4), date(2028, 2, 9))]
    assert len(_visits(sessions, plans[0].id)) == 3


def test_campaign_commands_switch_rounds_and_edit_a_window(sqlite_url, tmp_path, cli):
    from tests.scheduler_helpers import cli_env

    env = cli_env(sqlite_url, tmp_path)
    listed = cli(["visit-campaign", "list", "--year", "2027"], env)
    assert listed.exit_code == 0, listed.stderr
    assert "liangjie\t元旦春节\t启用\tmin(laba, 01-15) → yuanxiao\t提前 7 天生成名单" in listed.stdout
    assert "2027年元旦春节走访慰问\t2027-01-15至2027-02-20\t2027-01-08生成名单" in listed.stdout
    separate = cli(["visit-campaign", "separate"], env)
    assert separate.exit_code == 0 and "yuandan\t元旦\t启用" in separate.stdout and "liangjie\t元旦春节\t停用" in separate.stdout
    edited = cli(["visit-campaign", "set", "bayi", "--start", "bayi-14", "--lead-days", "10"], env)
    assert edited.exit_code == 0, edited.stderr
    assert "bayi\t八一\t启用\tbayi-14 → bayi\t提前 10 天生成名单" in edited.stdout
    bad = cli(["visit-campaign", "set", "bayi", "--start", "八一前两周"], env)
    assert bad.exit_code == 1 and "日期写法不对" in bad.stderr
    wrong = cli(["visit-campaign", "set", "bayi", "--categories", "NOBODY"], env)
    assert wrong.exit_code == 1 and "没有这些优抚类别：NOBODY" in wrong.stderr
    with seeded_sessions(sqlite_url) as sessions, sessions() as s:
        bayi = {p.season: p for p in plan_specs(s, 2027)}["bayi"]
        assert (bayi.window_start, bayi.generate_on) == (date(2027, 7, 18), date(2027, 7, 8))


def test_switching_rounds_mid_season_makes_no_second_plan(sessions, roster):
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    with sessions.begin() as s:
        use_separate_rounds(s, True)  # the 春节 round would overlap the 两节 plan already made
    run_due(sessions, at("2027-01-20T08:30"), only=("visit_plans",))
    with sessions() as s:
        assert [(p.season, p.year) for p in s.scalars(select(VisitPlan))] == [("liangjie", 2027)]
    run_due(sessions, at("2027-12-13T08:30"), only=("visit_plans",))  # the next season follows the switch
    with sessions() as s:
        assert [(p.season, p.year) for p in s.scalars(select(VisitPlan).order_by(VisitPlan.id))] == [
            ("liangjie", 2027), ("yuandan+chunjie", 2028)]
