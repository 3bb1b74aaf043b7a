"""走访慰问 records (services.visit_records): what a visit brought and who went, once per household;
corrections with history; photos checked by their bytes; "需要跟进" opens a linked help request in
the staff's queue; progress per team; overdue only after the window; 挂点领导."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from models.help_request import HelpRequest, RequestStatus
from models.roster import RosterChange
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitPhoto, VisitPlan, VisitStatus, VisitTeam, VisitTeamMember
from scheduler.runner import run_due
from services import request_queries, visit_records
from services.request_queries import RequestFilter
from services.visit_plans import VisitError
from services.visit_records import InvalidVisit, Photo, VisitDetails
from tests.scheduler_helpers import at, seeded_sessions
from tests.test_visit_plans import add_household, add_volunteer

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
NOW = at("2027-01-20T10:00")  # inside the 2027 两节 window (1/15 – 2/20)


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


@pytest.fixture
def plan(sessions):
    """A 2027 两节 plan: 东镇 with two volunteers and three households, 西镇 with one."""
    with sessions.begin() as s:
        add_volunteer(s, "东镇", "oRecEast0001")
        add_volunteer(s, "东镇", "oRecEast0002")
        add_volunteer(s, "西镇", "oRecWest0001")
        households = {
            "martyr": add_household(s, "东镇", "MARTYR_F", village="二村"),
            "disabled": add_household(s, "东镇", "DISABLED"),
            "demob": add_household(s, "东镇", "DEMOB_OLD"),
            "west": add_household(s, "西镇", "DEMOB_OLD"),
        }
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    with sessions() as s:
        by_household = {v.household_id: v.id for v in s.scalars(select(PlannedVisit))}
        plan_id = s.scalars(select(VisitPlan.id)).one()
    return plan_id, {name: by_household[h] for name, h in households.items()}


def details(**changes) -> VisitDetails:
    values = dict(visited_on=date(2027, 1, 20), visitors="王书记、李干事", money_cents=50000, goods="米一袋、油一桶",
                  note="老人身体还好")
    values.update(changes)
    return VisitDetails(**values)


def test_a_visit_is_recorded_with_what_it_brought_once(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        done = visit_records.record(s, visits["martyr"], details(), actor="staff:officer1", now=NOW,
                                    photos=[Photo(JPEG, "门口.jpg"), Photo(PNG, "合影.png")])
        assert not done.already and done.request is None
    with sessions.begin() as s:  # the same form submitted again (a double click)
        again = visit_records.record(s, visits["martyr"], details(money_cents=80000), actor="staff:officer1", now=NOW,
                                     photos=[Photo(JPEG, "门口.jpg")])
        assert again.already
    with sessions() as s:
        visit = s.get(PlannedVisit, visits["martyr"])
        assert visit.status == VisitStatus.DONE
        assert (visit.visitors, visit.money_cents, visit.goods, visit.note, visit.recorded_by) == (
            "王书记、李干事", 50000, "米一袋、油一桶", "老人身体还好", "staff:officer1")
        assert visit.visited_at == NOW
        assert [p.content_type for p in visit.photos] == ["image/jpeg", "image/png"]
        events = s.scalars(select(StatusEvent).where(StatusEvent.subject == "planned_visit",
                                                     StatusEvent.subject_id == visit.id)).all()
        assert [e.to_status for e in events] == ["done"]


def test_an_earlier_day_is_kept_as_that_day(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        visit_records.record(s, visits["disabled"], details(visited_on=date(2027, 1, 16)), actor="staff:a", now=NOW)
    with sessions() as s:
        assert s.get(PlannedVisit, visits["disabled"]).visited_at == at("2027-01-16T12:00")


@pytest.mark.parametrize("changes, field, words", [
    (dict(money_cents=None, goods=None, note=None), "money", "请填写慰问金或慰问品"),
    (dict(money_cents=None, goods="  ", note=""), "money", "在情况说明里写明原因"),
    (dict(visited_on=date(2027, 1, 21)), "visited_on", "不能晚于今天"),
    (dict(visited_on=date(2026, 11, 1)), "visited_on", "早于本次走访慰问"),
    (dict(visitors=" "), "visitors", "请填写走访人员"),
    (dict(note="很" * 1001), "note", "1000字以内"),
])
def test_a_record_missing_something_says_what_and_changes_nothing(sessions, plan, changes, field, words):
    _, visits = plan
    with sessions.begin() as s, pytest.raises(InvalidVisit) as refused:
        visit_records.record(s, visits["martyr"], details(**changes), actor="staff:a", now=NOW)
    assert words in refused.value.errors[field]
    with sessions() as s:
        assert s.get(PlannedVisit, visits["martyr"]).status == VisitStatus.PLANNED


def test_no_money_and_no_goods_is_fine_with_a_reason(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        visit_records.record(s, visits["martyr"], details(money_cents=None, goods=None, note="本次只看望，慰问金由民政发放"),
                             actor="staff:a", now=NOW)
    with sessions() as s:
        assert s.get(PlannedVisit, visits["martyr"]).money_cents is None


@pytest.mark.parametrize("photos, words", [
    ([Photo(b"%PDF-1.7 not a photo", "走访.jpg")], "“走访.jpg”不是照片"),
    ([Photo(b"GIF89a" + b"\x00" * 10, "a.gif")], "只能上传JPG或PNG"),
    ([Photo(JPEG + b"\x00" * (5 * 1024 * 1024), "big.jpg")], "超过5MB"),
    ([Photo(JPEG, f"{n}.jpg") for n in range(7)], "最多6张"),
])
def test_only_jpeg_and_png_photos_of_limited_size_and_number(sessions, plan, photos, words):
    _, visits = plan
    with sessions.begin() as s, pytest.raises(InvalidVisit) as refused:
        visit_records.record(s, visits["martyr"], details(), actor="staff:a", now=NOW, photos=photos)
    assert words in refused.value.errors["photos"]
    with sessions() as s:
        assert s.scalar(select(func.count(VisitPhoto.id))) == 0
        assert s.get(PlannedVisit, visits["martyr"]).status == VisitStatus.PLANNED


def test_a_correction_keeps_the_history(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        visit_records.record(s, visits["martyr"], details(), actor="staff:a", now=NOW, photos=[Photo(JPEG)])
    later = NOW + timedelta(hours=2)
    with sessions.begin() as s:
        fixed = visit_records.correct(s, visits["martyr"], details(money_cents=80000, visited_on=date(2027, 1, 19)),
                                      actor="staff:b", now=later, photos=[Photo(PNG)], reason="金额填错了")
        assert set(fixed.changed) == {"money_cents", "visited_at", "photos"}
    with sessions.begin() as s:  # the same correction again: nothing more to change
        assert visit_records.correct(s, visits["martyr"], details(money_cents=80000, visited_on=date(2027, 1, 19)),
                                     actor="staff:b", now=later).changed == []
    with sessions() as s:
        visit = s.get(PlannedVisit, visits["martyr"])
        assert visit.money_cents == 80000 and len(visit.photos) == 2
        rows = {r.field: r for r in visit_records.history(s, visit.id)}
        assert (rows["money_cents"].old_value, rows["money_cents"].new_value) == ("50000", "80000")
        assert (rows["money_cents"].actor, rows["money_cents"].reason) == ("staff:b", "金额填错了")
        assert (rows["photos"].old_value, rows["photos"].new_value) == ("1", "2")
        with pytest.raises(InvalidVisit):  # 2 photos + 5 more is over the limit
            visit_records.correct(s, visit.id, details(), actor="staff:b", now=later, photos=[Photo(JPEG)] * 5)


def test_a_visit_not_yet_recorded_cannot_be_corrected_and_a_cancelled_one_not_recorded(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        with pytest.raises(VisitError, match="还没有登记走访"):
            visit_records.correct(s, visits["martyr"], details(), actor="staff:a", now=NOW)
        s.get(PlannedVisit, visits["demob"]).status = VisitStatus.CANCELLED
    with sessions.begin() as s, pytest.raises(VisitError, match="不在本次走访名单"):
        visit_records.record(s, visits["demob"], details(), actor="staff:a", now=NOW)


def test_needs_follow_up_opens_a_linked_request_in_the_queue(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        done = visit_records.record(s, visits["martyr"], details(note="屋顶漏雨，需要跟进"), actor="staff:a", now=NOW)
        number = done.request.number
    with sessions.begin() as s:  # asked again in a correction: still one request
        visit_records.correct(s, visits["martyr"], details(note="屋顶漏雨，需要跟进", follow_up=True), actor="staff:a",
                              now=NOW)
    with sessions() as s:
        visit = s.get(PlannedVisit, visits["martyr"])
        request = s.get(HelpRequest, visit.follow_up_request_id)
        assert request.number == number and s.scalar(select(func.count(HelpRequest.id))) == 1
        assert (request.category, request.town, request.source, request.status, request.openid) == (
            "housing", "东镇", "visit", RequestStatus.SUBMITTED, None)
        assert "屋顶漏雨" in request.description and request.contact_name.startswith("测试")
        queue, total = request_queries.find(s, RequestFilter.from_args({}), NOW, scope=None)
        assert total == 1 and queue[0].number == number
        assert request_queries.SOURCES[request.source] == "走访发现"


def test_an_explicit_follow_up_choice_with_its_category(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        done = visit_records.record(s, visits["disabled"], details(note="想问问优待证怎么办", follow_up=True,
                                                                   follow_up_category="card"), actor="staff:a", now=NOW)
        assert done.request.category == "card"
    assert visit_records.guess_category("老人住院了，需要跟进") == "medical"
    assert visit_records.guess_category("需要跟进") == "other"


@pytest.mark.parametrize("typed, cents", [("500", 50000), ("500.5", 50050), ("１,000元", 100000), ("0", None),
                                          ("", None), ("200块", 20000), ("0.01", 1)])
def test_amounts_in_yuan(typed, cents):
    assert visit_records.parse_yuan(typed) == cents


@pytest.mark.parametrize("typed", ["五百", "-5", "1.234", "200000", "12a"])
def test_amounts_that_are_no_amount(typed):
    with pytest.raises(ValueError):
        visit_records.parse_yuan(typed)


def test_progress_per_team_and_overdue_only_after_the_window(sessions, plan):
    plan_id, visits = plan
    with sessions.begin() as s:
        visit_records.record(s, visits["martyr"], details(), actor="staff:a", now=NOW)
    run_due(sessions, at("2027-02-20T23:00"), only=("visit_plans",))  # the window's last day: nobody is late yet
    with sessions() as s:
        rows = {p.town: p for p in visit_records.progress(s, plan_id)}
        assert (rows["东镇"].done, rows["东镇"].planned, rows["东镇"].overdue, rows["东镇"].percent) == (1, 2, 0, 33)
        assert (rows["西镇"].done, rows["西镇"].planned) == (0, 1)
    run_due(sessions, at("2027-02-21T09:00"), only=("visit_plans",))
    with sessions() as s:
        rows = {p.town: p for p in visit_records.progress(s, plan_id)}
        assert (rows["东镇"].done, rows["东镇"].planned, rows["东镇"].overdue) == (1, 0, 2)
        assert [p.town for p in visit_records.progress(s, plan_id, town="西镇")] == ["西镇"]
        overall = visit_records.total(visit_records.progress(s, plan_id))
        assert (overall.done, overall.overdue, overall.total) == (1, 3, 4)
    with sessions.begin() as s:  # a late visit is still recorded (and counts as done)
        visit_records.record(s, visits["west"], details(visited_on=date(2027, 2, 22)), actor="staff:a",
                             now=at("2027-02-22T15:00"))
    with sessions() as s:
        assert s.get(PlannedVisit, visits["west"]).status == VisitStatus.DONE


def test_county_leaders_are_assigned_households_with_history(sessions, plan):
    plan_id, visits = plan
    chosen = [visits["martyr"], visits["west"]]
    with sessions.begin() as s:
        assert visit_records.assign_leader(s, plan_id, chosen, "张县长", actor="staff:admin", now=NOW) == 2
        assert visit_records.assign_leader(s, plan_id, chosen, "张县长", actor="staff:admin", now=NOW) == 0
        # a township account reaches only its own town's households
        assert visit_records.assign_leader(s, plan_id, chosen, "李副县长", actor="staff:east", now=NOW, town="东镇") == 1
    with sessions() as s:
        assert s.get(PlannedVisit, visits["martyr"]).leader == "李副县长"
        assert s.get(PlannedVisit, visits["west"]).leader == "张县长"
        changes = s.scalars(select(RosterChange).where(RosterChange.field == "leader")).all()
        assert len(changes) == 3


def test_a_member_sees_their_own_open_households_and_records_only_those(sessions, plan):
    plan_id, visits = plan
    with sessions() as s:
        who = visit_records.member(s, "oRecEast0001")
        assert who is not None and not who.staff and who.actor.startswith("volunteer:ZY2027-")
        current = visit_records.current_plan(s, date(2027, 1, 20))
        assert current.id == plan_id
        mine = [v.id for v, _ in visit_records.open_for(s, who, current)]
        other = [v.id for v, _ in visit_records.open_for(s, visit_records.member(s, "oRecEast0002"), current)]
        assert mine and other and not set(mine) & set(other)
        assert set(mine) | set(other) == {visits["martyr"], visits["disabled"], visits["demob"]}
        assert visit_records.member(s, "oNobody00000001") is None
    with sessions.begin() as s:
        with pytest.raises(VisitError, match="不在您的走访名单"):
            visit_records.record_for_member(s, other[0], "oRecEast0001", details(), NOW)
        done = visit_records.record_for_member(s, mine[0], "oRecEast0001", details(), NOW)
        assert done.visit.recorded_by.startswith("volunteer:")


def test_a_staff_member_holding_no_households_gets_the_team_list(sessions, plan):
    _, visits = plan
    with sessions.begin() as s:
        team = s.scalars(select(VisitTeam).where(VisitTeam.town == "西镇")).one()
        s.add(VisitTeamMember(team_id=team.id, staff_openid="oRecStaff00001"))
    with sessions() as s:
        who = visit_records.member(s, "oRecStaff00001")
        current = visit_records.current_plan(s, date(2027, 1, 20))
        assert who.staff and [v.id for v, _ in visit_records.open_for(s, who, current)] == [visits["west"]]
