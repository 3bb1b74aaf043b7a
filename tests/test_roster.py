"""The roster services: the list's filters and search, edits with their history, the 户主 and
relations, the end of an entitlement (the household leaves the next plan), merging duplicates
(nothing lost), and visit teams by village."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
from models.care_pair import CarePair
from models.roster import RosterChange
from models.visits import PlannedVisit, VisitPhoto, VisitPlan, VisitStatus, VisitTeam
from models.volunteer import Volunteer, VolunteerStatus
from services import roster, roster_history, roster_merge
from services.roster import RosterFilter
from services.roster_forms import FormErrors
from services.visit_campaigns import PlanSpec
from services.visit_plans import generate_plan, teams_for
from tests.scheduler_helpers import seeded_sessions

ID_A = "110101194001010039"  # valid check digits, invented
ID_B = "11010119450202018X"
STAFF = "staff:officer1"
TODAY = date(2026, 12, 1)
_n = iter(range(1, 10_000))


def add_person(s, town="城关镇", village="河口村", *categories, name=None, mobile=None, id_number=None,
               household_id=None, verified=True, **flags) -> Beneficiary:
    if household_id is None:
        home = Household(town=town, village=village, address="虚构路1号")
        s.add(home)
        s.flush()
        household_id = home.id
    n = next(_n)
    person = Beneficiary(number=f"YF2026-{n:04d}", household_id=household_id, name=name or f"测试{n}",
                         relation="self", mobile=mobile, id_number=id_number,
                         status=RegistrationStatus.VERIFIED if verified else RegistrationStatus.PENDING, **flags)
    s.add(person)
    s.flush()
    for category in categories or ("VETERAN",):
        s.add(BeneficiaryStatus(beneficiary_id=person.id, category=category))
    s.flush()
    home = s.get(Household, household_id)
    if home.head_id is None:
        home.head_id = person.id
        person.relation_to_head = "户主"
    return person


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def spec(year=2027, start=date(2027, 1, 15), end=date(2027, 2, 20)) -> PlanSpec:
    return PlanSpec("chunjie", year, f"{year}年春节走访慰问", end, start, end, start, None)


def numbers(items) -> set[str]:
    return {p.number for p in items}


def test_filters_find_people_by_category_flag_area_status_and_exact_search(sessions):
    with sessions.begin() as s:
        martyr = add_person(s, "城关镇", "河口村", "MARTYR_F", name="王秀英", mobile="13800001111", key_care=True)
        disabled = add_person(s, "城关镇", "柳营村", "DISABLED", id_number=ID_A, lonely_elderly=True)
        pending = add_person(s, "青石镇", "石桥村", "VETERAN", verified=False, hardship=True)
        conscript = add_person(s, "青石镇", "上坪村", "FAMILY")
        conscript.household.conscript_family = True
        ended = add_person(s, "城关镇", "河口村", "VETERAN", ended_on=date(2026, 5, 1))
        wanted = {k: p.number for k, p in dict(martyr=martyr, disabled=disabled, pending=pending,
                                               conscript=conscript, ended=ended).items()}
    with sessions() as s:
        def found(**args):
            items, total = roster.find(s, RosterFilter.from_args(args))
            assert total == len(items)
            return numbers(items)

        assert found() == {wanted[k] for k in ("martyr", "disabled", "pending", "conscript")}
        assert found(category="MARTYR_F") == {wanted["martyr"]}
        assert found(flag="key_care") == {wanted["martyr"]}
        assert found(flag="lonely_elderly") == {wanted["disabled"]}
        assert found(flag="hardship") == {wanted["pending"]}
        assert found(flag="conscript_family") == {wanted["conscript"]}
        assert found(town="青石镇") == {wanted["pending"], wanted["conscript"]}
        assert found(town="城关镇", village="柳营村") == {wanted["disabled"]}
        assert found(status="pending") == {wanted["pending"]}
        assert found(ended="ended") == {wanted["ended"]}
        assert len(found(ended="all")) == 5
        assert found(q="王秀英") == {wanted["martyr"]}
        assert found(q="13800001111") == {wanted["martyr"]}
        assert found(q=ID_A) == {wanted["disabled"]}
        assert found(q="王秀") == set()  # exact only: names are encrypted
        assert found(category="NOPE") == found()  # an unknown filter value is ignored, not an error
        items, _ = roster.find(s, RosterFilter(), scope=[Household.town == "青石镇"])
        assert numbers(items) == {wanted["pending"], wanted["conscript"]}


def test_editing_a_person_keeps_one_history_row_per_changed_field(sessions):
    with sessions.begin() as s:
        person_id = add_person(s, name="李建国", mobile="13800002222").id
    with sessions.begin() as s:
        person = roster.person(s, person_id)
        form = {"name": "李建国", "mobile": "139 0000 3333", "id_number": ID_B.lower(), "card_number": "",
                "key_care": "1"}
        changed = roster.edit_person(s, person, form, actor=STAFF, today=TODAY, reason="电话核实")
        assert set(changed) == {"mobile", "id_number", "key_care"}
    with sessions.begin() as s:  # the same form again (a double submit): nothing more
        assert roster.edit_person(s, roster.person(s, person_id), form, actor=STAFF, today=TODAY) == []
    with sessions() as s:
        person = roster.person(s, person_id)
        assert person.mobile == "13900003333" and person.id_number == ID_B and person.key_care
        rows = roster.household_history(s, roster.household(s, person.household_id))
        assert {r.field for r in rows} == {"手机号", "身份证号", "重点优抚对象"}
        phone = next(r for r in rows if r.field == "手机号")
        assert phone.old == "138****2222" and phone.new == "139****3333"  # masked in the history too
        assert phone.who == "officer1" and phone.reason == "电话核实"
        assert roster.find(s, RosterFilter(q="13900003333"))[1] == 1  # the search index follows the edit


def test_a_bad_value_changes_nothing_and_says_which_field(sessions):
    with sessions.begin() as s:
        person_id = add_person(s, name="赵大海").id
    with sessions.begin() as s:
        person = roster.person(s, person_id)
        with pytest.raises(FormErrors) as caught:
            roster.edit_person(s, person, {"name": "", "mobile": "1380000", "id_number": "110101194001010035"},
                               actor=STAFF, today=TODAY)
        assert set(caught.value.errors) == {"name", "mobile", "id_number"}
        assert "重新输入" not in caught.value.errors["id_number"]
    with sessions() as s:
        assert roster.person(s, person_id).name == "赵大海"
        assert s.scalar(select(func.count(RosterChange.id))) == 0


def test_statuses_hold_the_per_category_facts(sessions):
    with sessions.begin() as s:
        person_id = add_person(s, "城关镇", "河口村", "VETERAN").id
    with sessions.begin() as s:
        person = roster.person(s, person_id)
        row = roster.add_status(s, person, {"category": "DISABLED", "disability_grade": "6", "disability_cause": "war",
                                            "start_date": "1985-03-01"}, actor=STAFF, today=TODAY)
        assert (row.disability_grade, row.disability_cause.label) == (6, "因战")
        with pytest.raises(FormErrors) as caught:
            roster.add_status(s, person, {"category": "DISABLED", "disability_grade": "11"}, actor=STAFF, today=TODAY)
        assert "disability_grade" in caught.value.errors
        bereaved = roster.add_status(s, person, {"category": "MARTYR_F", "deceased_name": "李长青",
                                                 "deceased_relation": "父亲", "deceased_on": "1979-02-20"},
                                     actor=STAFF, today=TODAY)
        changed = roster.edit_status(s, bereaved, {"category": "MARTYR_F", "deceased_name": "",
                                                   "deceased_relation": "父亲", "deceased_on": "1979-02-21"},
                                     actor=STAFF, today=TODAY)
        assert changed == ["deceased_on"] and bereaved.deceased_name == "李长青"  # blank keeps the stored name
    with sessions() as s:
        rows = roster.household_history(s, roster.household(s, roster.person(s, person_id).household_id))
        assert [r.new for r in rows if r.field == "新增类别"] == ["烈士遗属", "残疾军人"]
        assert any(r.field == "牺牲/病故日期" and r.new == "1979-02-21" for r in rows)


def test_the_head_and_relations_read_in_one_direction(sessions):
    with sessions.begin() as s:
        head = add_person(s, name="陈老汉")
        wife = add_person(s, household_id=head.household_id, name="刘桂芳")
        son = add_person(s, household_id=head.household_id, name="陈小军")
        ids = head.household_id, head.id, wife.id, son.id
    household_id, head_id, wife_id, son_id = ids
    with sessions.begin() as s:
        home = roster.household(s, household_id)
        with pytest.raises(FormErrors):
            roster.set_relations(s, home, 999_999, {}, actor=STAFF)
        with pytest.raises(FormErrors):
            roster.set_relations(s, home, son_id, {wife_id: "邻居"}, actor=STAFF)
        # The son becomes 户主: his father is the head's 父母, his mother too.
        roster.set_relations(s, home, son_id, {head_id: "父母", wife_id: "父母"}, actor=STAFF, reason="户主变更")
    with sessions() as s:
        home = roster.household(s, household_id)
        assert home.head_id == son_id
        assert [m.id for m in roster.members_in_order(home)][0] == son_id
        assert {m.id: m.relation_to_head for m in home.members} == {son_id: "户主", head_id: "父母", wife_id: "父母"}


def test_an_ended_entitlement_leaves_the_next_plan_but_keeps_the_record(sessions):
    with sessions.begin() as s:
        alone = add_person(s, "城关镇", "河口村", "DEMOB_OLD")
        widow = add_person(s, "城关镇", "柳营村", "MARTYR_F")
        child = add_person(s, "城关镇", "柳营村", "MARTYR_F", household_id=widow.household_id)
        ids = alone.id, alone.household_id, widow.id, widow.household_id
        generate_plan(s, spec())  # the coming 春节 plan is already made
    alone_id, alone_home, widow_id, widow_home = ids
    with sessions.begin() as s:
        with pytest.raises(FormErrors):
            roster.end_entitlement(s, roster.person(s, alone_id), None, "nope", actor=STAFF)
        cancelled = roster.end_entitlement(s, roster.person(s, alone_id), date(2026, 12, 20), "died", actor=STAFF,
                                           note="家属告知")
        assert cancelled == 1
        # The widow's child is still entitled: the household stays in the plan.
        assert roster.end_entitlement(s, roster.person(s, widow_id), date(2026, 12, 20), "moved", actor=STAFF) == 0
    with sessions.begin() as s:
        with pytest.raises(roster.RosterError):  # ended once is enough
            roster.end_entitlement(s, roster.person(s, alone_id), date(2026, 12, 21), "died", actor=STAFF)
        result = generate_plan(s, spec())  # the scheduler refreshes the plan: nothing comes back
        assert result.restored == 0
        later = generate_plan(s, spec(2028, date(2028, 1, 4), date(2028, 2, 9)))
        assert later.plan.id != result.plan.id
    with sessions() as s:
        person = roster.person(s, alone_id)
        assert person.end_reason.label == "去世" and all(st.end_date == date(2026, 12, 20) for st in person.statuses)
        visits = {(v.plan_id, v.household_id): v.status for v in s.scalars(select(PlannedVisit))}
        plan_2027 = s.scalar(select(VisitPlan.id).where(VisitPlan.year == 2027))
        plan_2028 = s.scalar(select(VisitPlan.id).where(VisitPlan.year == 2028))
        assert visits[(plan_2027, alone_home)] == VisitStatus.CANCELLED
        assert (plan_2028, alone_home) not in visits
        assert visits[(plan_2028, widow_home)] == VisitStatus.PLANNED
        assert roster.find(s, RosterFilter(ended="ended"))[1] == 2
        history = roster.household_history(s, roster.household(s, alone_home))
        assert {"终止日期", "终止原因"} <= {r.field for r in history}
        assert next(r for r in history if r.field == "终止原因").reason == "家属告知"


def test_an_end_recorded_by_mistake_is_undone_and_the_household_comes_back(sessions):
    with sessions.begin() as s:
        person = add_person(s, "城关镇", "河口村", "DISABLED", "VETERAN")
        person.statuses[1].end_date = date(2020, 1, 1)  # ended long before: stays ended
        person_id, home_id = person.id, person.household_id
        generate_plan(s, spec())
        roster.end_entitlement(s, roster.person(s, person_id), date(2026, 12, 20), "moved", actor=STAFF)
    with sessions.begin() as s:
        roster.restore_entitlement(s, roster.person(s, person_id), actor=STAFF, note="登记错了")
        with pytest.raises(roster.RosterError):  # a second click
            roster.restore_entitlement(s, roster.person(s, person_id), actor=STAFF)
        assert generate_plan(s, spec()).restored == 1
    with sessions() as s:
        person = roster.person(s, person_id)
        assert (person.ended_on, person.end_reason) == (None, None)
        assert [st.end_date for st in person.statuses] == [None, date(2020, 1, 1)]
        assert s.scalar(select(PlannedVisit.status).where(PlannedVisit.household_id == home_id)) == VisitStatus.PLANNED
        assert "登记错了" in {r.reason for r in roster.household_history(s, roster.household(s, home_id))}


def test_merging_two_records_of_one_person_keeps_everything(sessions):
    with sessions.begin() as s:
        keep = add_person(s, "城关镇", "河口村", "VETERAN", name="周永福", mobile="13800004444")
        drop = add_person(s, "城关镇", "城东社区", "VETERAN", "DISABLED", name="周永福", id_number=ID_A,
                          key_care=True)
        drop.statuses[0].evidence_ref = "退役证 No.1"
        roster_history.apply(s, drop, {"card_number": "YD-0001"}, actor=STAFF)
        plan = generate_plan(s, spec()).plan
        s.add(CarePair(volunteer_id=_volunteer(s), household_id=drop.household_id))
        ids = keep.id, drop.id, drop.number, drop.household_id, keep.household_id, plan.id
    keep_id, drop_id, drop_number, drop_home, keep_home, plan_id = ids
    with sessions.begin() as s:
        visit = s.scalars(select(PlannedVisit).where(PlannedVisit.household_id == drop_home)).one()
        visit.status, visit.note = VisitStatus.DONE, "已送慰问金"
        s.add(VisitPhoto(visit_id=visit.id, content_type="image/png", data=b"png", uploaded_by=STAFF))
    with sessions.begin() as s:
        with pytest.raises(roster.RosterError):
            roster_merge.merge_people(s, roster.person(s, keep_id), roster.person(s, keep_id), actor=STAFF)
        roster_merge.merge_people(s, roster.person(s, keep_id), roster.person(s, drop_id), actor=STAFF, reason="重复登记")
    with sessions() as s:
        assert s.get(Beneficiary, drop_id) is None and s.get(Household, drop_home) is None
        kept = roster.person(s, keep_id)
        assert (kept.mobile, kept.id_number, kept.card_number, kept.key_care) == ("13800004444", ID_A, "YD-0001", True)
        assert sorted(str(st.category) for st in kept.statuses) == ["DISABLED", "VETERAN"]
        assert next(st for st in kept.statuses if st.category == "VETERAN").evidence_ref == "退役证 No.1"
        visit = s.scalars(select(PlannedVisit).where(PlannedVisit.plan_id == plan_id,
                                                     PlannedVisit.household_id == keep_home)).one()
        assert visit.status == VisitStatus.DONE and len(visit.photos) == 1  # the visited row won
        assert s.scalar(select(CarePair.household_id)) == keep_home
        history = roster.household_history(s, roster.household(s, keep_home))
        fields = [r.field for r in history]
        assert "合并" in fields and "优待证号" in fields  # the dropped record's own history came along
        assert any(r.old == drop_number for r in history if r.field == "合并")


def test_merging_two_households_of_one_family(sessions):
    with sessions.begin() as s:
        father = add_person(s, "青石镇", "石桥村", "DEMOB_OLD", name="黄德明")
        daughter = add_person(s, "青石镇", "石桥村", "FAMILY", name="黄小红")
        daughter.household.conscript_family = True
        daughter.household.hukou_address = "青石镇石桥村5组"
        plan = generate_plan(s, spec()).plan
        ids = father.household_id, daughter.household_id, daughter.id, plan.id
    keep_home, drop_home, daughter_id, plan_id = ids
    with sessions.begin() as s:
        result = roster_merge.merge_households(s, roster.household(s, keep_home), roster.household(s, drop_home),
                                         actor=STAFF)
        assert result.moved["members"] == 1
    with sessions() as s:
        home = roster.household(s, keep_home)
        assert {m.id for m in home.members} >= {daughter_id}
        assert home.conscript_family and home.hukou_address == "青石镇石桥村5组"
        assert roster.person(s, daughter_id).relation_to_head is None  # staff now say how she is related
        assert s.scalar(select(func.count(PlannedVisit.id)).where(PlannedVisit.plan_id == plan_id)) == 1
        assert s.get(Household, drop_home) is None
        assert any(r.field == "所属户" for r in roster.household_history(s, home))


def _volunteer(s) -> int:
    n = next(_n)
    v = Volunteer(number=f"ZY2026-{n:04d}", openid=f"oVol{n:012d}", name=f"志愿者{n}", town="城关镇",
                  village="河口村", skills=[], availability="weekend", status=VolunteerStatus.APPROVED)
    s.add(v)
    s.flush()
    return v.id


def test_a_household_goes_to_the_team_of_its_village_else_the_whole_town_team(sessions):
    with sessions.begin() as s:
        river = VisitTeam(town="城关镇", name="河口组", villages="河口村，柳营村", active=True)
        town = VisitTeam(town="城关镇", name="城关镇走访组", active=True)
        s.add_all([river, town])
        s.flush()
        found = teams_for(s, {("城关镇", "河口村"), ("城关镇", "城东社区"), ("青石镇", "石桥村")})
        assert found[("城关镇", "河口村")] == river.id
        assert found[("城关镇", "城东社区")] == town.id
        made = s.get(VisitTeam, found[("青石镇", "石桥村")])  # no team yet: a whole-town one is made
        assert made.town == "青石镇" and not made.villages
        add_person(s, "城关镇", "柳营村", "VETERAN")
        add_person(s, "城关镇", "城西社区", "VETERAN")
        result = generate_plan(s, spec())
        assert result.added_by_team == {river.id: 1, town.id: 1}
