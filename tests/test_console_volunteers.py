"""志愿者 in the console: the list with hours, a profile (ID number entered, masked, revealed with an
audit row), 志愿服务队 with members and totals, the hours export per area; and the permission
matrix of every activity and volunteer page (roles × county / own 乡镇 / another 乡镇)."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models.activity import Activity, ActivitySignup
from models.staff_account import AuditEntry
from models.volunteer import Volunteer
from models.volunteer_team import VolunteerTeam
from services import activities, activity_admin, service_hours, volunteer_teams, volunteers
from services.activity_admin import ActivityDetails
from services.volunteer_teams import TeamDetails
from services.volunteers import VolunteerDetails
from tests.console_kit import NOW, add_staff, csrf_token, post

HOME, ELSEWHERE = "城关镇", "青石镇"
ID_NUMBER = "11010519491231002X"
PAST = NOW - timedelta(days=3)


def _volunteer(s, openid, name, town=HOME, approve=True) -> Volunteer:
    v = volunteers.register(s, openid, VolunteerDetails(name, f"139{sum(map(ord, openid)) % 10**8:08d}", town,
                                                        "河口村", ["care"], "any"), PAST - timedelta(days=30))
    if approve:
        volunteers.approve(s, v, PAST - timedelta(days=30), actor="staff:seed")
    return v


def _served(s, v: Volunteer, town: str | None, hours: str, title: str) -> Activity:
    a = activity_admin.create(s, ActivityDetails(title, PAST, PAST + timedelta(hours=3), 10, town=town), PAST)
    signup = activities.sign_up(s, a.id, v.openid, v.id, PAST - timedelta(days=1)).signup
    service_hours.correct(s, signup, hours, "补录纸质签到表", NOW, actor="staff:seed")
    return a


@pytest.fixture
def world(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    with sessions.begin() as s:
        lin = _volunteer(s, "oVolLin00001", "林晓雨")
        zhao = _volunteer(s, "oVolZhao0001", "赵国强", town=ELSEWHERE)
        _volunteer(s, "oVolNew00001", "孙红梅", approve=False)
        lin.id_number = ID_NUMBER
        home_activity = _served(s, lin, HOME, "3", "为军属家庭上门维修")
        _served(s, zhao, ELSEWHERE, "2", "送书进军营")
        team = volunteer_teams.create(s, TeamDetails("城关镇老兵志愿服务队", HOME, None), NOW)
        volunteer_teams.add_member(s, team, lin, NOW.date())
        signup = s.scalars(select(ActivitySignup).where(ActivitySignup.activity_id == home_activity.id)).one()
        ids = {"lin": lin.id, "zhao": zhao.id, "team": team.id, "activity": home_activity.id, "signup": signup.id}
    for role in ("admin", "officer", "viewer"):
        for area, town in (("county", None), ("home", HOME), ("away", ELSEWHERE)):
            add_staff(sessions, f"{role}_{area}", role, town)
    return app, sessions, client_for, ids


def test_the_list_shows_approved_volunteers_with_their_hours_of_the_year(world):
    _app, _s, client_for, _ids = world
    html = client_for("officer_county").get("/console/volunteers?year=2026").get_data(as_text=True)
    assert "林*雨" in html and "赵*强" in html and "孙*梅" not in html  # not yet approved: in 登记审核
    assert ">3</td>" in html and ">2</td>" in html
    township = client_for("officer_home").get("/console/volunteers").get_data(as_text=True)
    assert "林*雨" in township and "赵*强" not in township
    found = client_for("officer_county").get("/console/volunteers?q=林晓雨").get_data(as_text=True)
    assert "林*雨" in found and "赵*强" not in found


def test_the_profile_masks_the_id_number_and_revealing_it_is_audited(world):
    _app, sessions, client_for, ids = world
    page = f"/console/volunteers/{ids['lin']}"
    viewer = client_for("viewer_county").get(page).get_data(as_text=True)
    assert "1101**********002X" in viewer and ID_NUMBER not in viewer and "显示完整号码" not in viewer
    officer = client_for("officer_county")
    html = officer.get(page).get_data(as_text=True)
    assert "为军属家庭上门维修" in html and "城关镇老兵志愿服务队" in html and "查看报名信息和审核记录" in html
    shown = post(officer, page + "/reveal", token_from=page).get_data(as_text=True)
    assert ID_NUMBER in shown
    with sessions() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "reveal"))
        assert (entry.subject, entry.subject_id, entry.detail) == ("volunteer", ids["lin"], "id_number")


def test_an_id_number_typed_wrong_is_refused_and_kept_on_the_form(world):
    _app, sessions, client_for, ids = world
    page = f"/console/volunteers/{ids['zhao']}"
    officer = client_for("officer_county")
    bad = post(officer, page + "/id-number", {"id_number": "110105194912310021"}, token_from=page)
    assert bad.status_code == 400
    assert "校验位" in bad.get_data(as_text=True) and 'value="110105194912310021"' in bad.get_data(as_text=True)
    assert post(officer, page + "/id-number", {"id_number": ID_NUMBER.lower()}, token_from=page).status_code == 302
    with sessions() as s:
        assert s.get(Volunteer, ids["zhao"]).id_number == ID_NUMBER
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "volunteer.id_number")).one()


def test_teams_are_created_filled_and_totalled(world):
    _app, sessions, client_for, ids = world
    officer = client_for("officer_county")
    clash = post(officer, "/console/teams/new", {"name": "城关镇老兵志愿服务队", "flag_date": "2027-05-20",
                                                "note": "五月授旗"}, token_from="/console/teams")
    assert clash.status_code == 400 and "已有同名的队伍" in clash.get_data(as_text=True)
    assert "五月授旗" in clash.get_data(as_text=True)  # what was typed comes back
    created = post(officer, "/console/teams/new", {"name": "全县拥军志愿服务队", "flag_date": "2027-05-20", "town": ""},
                   token_from="/console/teams")
    assert created.status_code == 302
    with sessions() as s:
        team = s.scalars(select(VolunteerTeam).where(VolunteerTeam.name == "全县拥军志愿服务队")).one()
        numbers = {v.id: v.number for v in s.scalars(select(Volunteer))}
    page = f"/console/teams/{team.id}"
    unknown = post(officer, page + "/members", {"number": "ZY2099-9999"}, token_from=page)
    assert unknown.status_code == 400 and "没有找到这个志愿者编号" in unknown.get_data(as_text=True)
    for vid in (ids["lin"], ids["zhao"]):
        assert post(officer, page + "/members", {"number": numbers[vid]}, token_from=page).status_code == 302
    html = officer.get("/console/teams?year=2026").get_data(as_text=True)
    assert "全县拥军志愿服务队" in html and "2027-05-20" in html and ">5</td>" in html  # 3 h + 2 h
    post(officer, f"{page}/members/{ids['zhao']}/remove", token_from=page)
    assert "赵*强" not in officer.get(page).get_data(as_text=True)
    actions = {"team.create", "team.member_add", "team.member_remove"}
    with sessions() as s:
        assert actions <= {e.action for e in s.scalars(select(AuditEntry))}


def test_a_township_export_holds_its_own_volunteers_only(world):
    _app, _s, client_for, _ids = world
    sheet = load_workbook(BytesIO(client_for("officer_home").get("/console/hours/export.xlsx?year=2026").data)).active
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
        ["林晓雨", ID_NUMBER, "为军属家庭上门维修", PAST.date().isoformat(), 3]]
    county = load_workbook(BytesIO(client_for("admin_county").get("/console/hours/export.xlsx?year=2026").data)).active
    assert sorted(row[0].value for row in county.iter_rows(min_row=2)) == ["林晓雨", "赵国强"]
    assert county["B3"].value in ("", None)  # no ID number entered yet: left blank for the clerk to fill in


# --- the permission matrix ----------------------------------------------------------------------------

ALL = {"admin", "officer", "viewer"}
ACTORS = {"admin", "officer"}
# (method, path, roles allowed, whether the record's 乡镇 limits it)
MATRIX = {
    "看活动列表": ("GET", "/console/activities", ALL, False),
    "看活动": ("GET", "/console/activities/{activity}", ALL, True),
    "新建活动页": ("GET", "/console/activities/new", ACTORS, False),
    "新建活动": ("POST", "/console/activities/new", ACTORS, False),
    "修改活动": ("POST", "/console/activities/{activity}/edit", ACTORS, True),
    "修改名额": ("POST", "/console/activities/{activity}/capacity", ACTORS, True),
    "取消活动": ("POST", "/console/activities/{activity}/cancel", ACTORS, True),
    "打印签到表": ("GET", "/console/activities/{activity}/sheet", ACTORS, True),
    "签到二维码": ("GET", "/console/activities/{activity}/qr.svg", ACTORS, True),
    "代为签到": ("POST", "/console/activities/{activity}/signups/{signup}/scan", ACTORS, True),
    "确认时长": ("POST", "/console/activities/{activity}/hours/approve", ACTORS, True),
    "修改时长": ("POST", "/console/activities/{activity}/signups/{signup}/hours", ACTORS, True),
    "看志愿者列表": ("GET", "/console/volunteers", ALL, False),
    "看志愿者": ("GET", "/console/volunteers/{lin}", ALL, True),
    "录入证件号码": ("POST", "/console/volunteers/{lin}/id-number", ACTORS, True),
    "显示证件号码": ("POST", "/console/volunteers/{lin}/reveal", ACTORS, True),
    "看队伍列表": ("GET", "/console/teams", ALL, False),
    "看队伍": ("GET", "/console/teams/{team}", ALL, True),
    "新建队伍": ("POST", "/console/teams/new", ACTORS, False),
    "修改队伍": ("POST", "/console/teams/{team}/edit", ACTORS, True),
    "添加队员": ("POST", "/console/teams/{team}/members", ACTORS, True),
    "移出队员": ("POST", "/console/teams/{team}/members/{zhao}/remove", ACTORS, True),
    "导出服务时长": ("GET", "/console/hours/export.xlsx", ACTORS, False),  # like every export: not 只读
}
# Forms that are refused for their content (400) or change little: the role and area are what is tested.
FORM = {"reason": "", "hours": "x", "capacity": "x", "id_number": "", "title": "", "name": "", "number": ""}


def _outcome(roles, scoped, role, area):
    if role not in roles:
        return 403
    if scoped and area == "away":
        return 404
    return "allowed"


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize("area", ["county", "home", "away"])
def test_each_role_and_area_gets_what_the_matrix_says(world, role, area):
    _app, _s, client_for, ids = world
    client = client_for(f"{role}_{area}")
    token = csrf_token(client, "/console/me")
    wrong = []
    for what, (method, template, roles, scoped) in MATRIX.items():
        path = template.format(**ids)
        response = client.get(path) if method == "GET" else client.post(path, data={**FORM, "csrf_token": token})
        expected, got = _outcome(roles, scoped, role, area), response.status_code
        ok = (got < 400 or (got == 400 and method == "POST")) if expected == "allowed" else got == expected
        if not ok:
            wrong.append(f"{what}: expected {expected}, got {got}")
    assert not wrong, f"{role}/{area}:\n" + "\n".join(wrong)


def test_the_navigation_shows_activities_and_volunteers_to_every_role(world):
    _app, _s, client_for, _ids = world
    html = client_for("viewer_home").get("/console/").get_data(as_text=True)
    assert 'href="/console/activities"' in html and 'href="/console/volunteers"' in html
    assert "新建活动" not in client_for("viewer_home").get("/console/activities").get_data(as_text=True)
