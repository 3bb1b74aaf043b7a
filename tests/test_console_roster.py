"""The roster and area pages in the console: the list and a household's page, edits with their
history, the end of an entitlement, merging (admin), the area tree and visit teams (admin),
each role and township; and one edit in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.beneficiary import Beneficiary, Household
from models.roster import Area
from models.staff_account import AuditEntry
from models.visits import VisitTeam
from services import areas
from tests.console_kit import add_staff, post
from tests.test_roster import ID_A, ID_B, add_person

HOME, ELSEWHERE = "城关镇", "青石镇"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"


@pytest.fixture
def world(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    with sessions.begin() as s:
        head = add_person(s, HOME, "河口村", "MARTYR_F", name="王秀英", mobile="13800001111", key_care=True)
        son = add_person(s, HOME, "河口村", "VETERAN", name="李明", household_id=head.household_id, verified=False)
        away = add_person(s, ELSEWHERE, "石桥村", "DISABLED", name="赵铁柱", mobile="13800003333", id_number=ID_A)
        twin = add_person(s, HOME, "柳营村", "VETERAN", name="王秀英", id_number=ID_B)
        ids = {"home": head.household_id, "head": head.id, "son": son.id, "away_home": away.household_id,
               "away": away.id, "twin": twin.id, "twin_number": twin.number, "away_number": away.number,
               "twin_home": twin.household_id}
    for role in ("admin", "officer", "viewer"):
        for area, town in (("county", None), ("home", HOME), ("away", ELSEWHERE)):
            add_staff(sessions, f"{role}_{area}", role, town)
    return sessions, client_for, ids


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_filters_and_keeps_to_the_township(world):
    sessions, client_for, ids = world
    county = client_for("viewer_county")
    page = text(county.get("/console/roster"))
    assert "共4条" in page and "王*英" in page and "赵*柱" in page
    assert "13800001111" not in page and "138****1111" in page  # masked in the list
    assert "共1条" in text(county.get("/console/roster?category=DISABLED"))
    assert "共1条" in text(county.get("/console/roster?flag=key_care"))
    assert "共1条" in text(county.get("/console/roster?status=pending"))
    assert "共2条" in text(county.get("/console/roster?q=王秀英"))
    village = text(county.get(f"/console/roster?town={HOME}&village=柳营村"))
    assert "共1条" in village and '<option value="柳营村" selected' in village
    township = text(client_for("officer_away").get("/console/roster"))
    assert "共1条" in township and "赵*柱" in township and "王*英" not in township
    assert "共0条" in text(client_for("officer_away").get(f"/console/roster?town={HOME}"))


def test_a_household_page_shows_members_statuses_and_a_link_to_review(world):
    sessions, client_for, ids = world
    viewer = client_for("viewer_home")
    page = text(viewer.get(f"/console/roster/households/{ids['home']}"))
    assert "户主王秀英" in page and "烈士遗属" in page and "重点优抚对象" in page
    assert "138****1111" in page and "显示完整" not in page  # the viewer may not reveal
    assert f"/console/registrations/beneficiary/{ids['son']}" in page  # pending: reviewed where it always was
    assert "修改个人信息" not in page and "合并重复记录" not in page
    for who in ("officer_away", "viewer_away"):
        assert client_for(who).get(f"/console/roster/households/{ids['home']}").status_code == 404
    assert client_for("officer_home").get(f"/console/roster/people/{ids['son']}").status_code == 302


def test_an_officer_edits_a_person_and_the_history_shows_it(world):
    sessions, client_for, ids = world
    officer = client_for("officer_home")
    form_page = f"/console/roster/people/{ids['head']}/edit"
    assert "13800001111" in text(officer.get(form_page))  # the full number, in the form …
    response = post(officer, form_page, {"name": "王秀英", "mobile": "13900002222", "id_number": "",
                                         "key_care": "1", "hardship": "1", "reason": "本人来电"},
                    token_from=form_page)
    assert response.status_code == 302
    page = text(officer.get(f"/console/roster/households/{ids['home']}"))
    assert "生活困难" in page and "本人来电" in page and "139****2222" in page
    with sessions() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == ids["head"])).all()
        assert actions.count("reveal") == 2 and "roster.edit" in actions  # … so opening it is audited


def test_a_bad_form_comes_back_filled_in_and_changes_nothing(world):
    sessions, client_for, ids = world
    officer = client_for("officer_county")
    path = f"/console/roster/people/{ids['away']}/edit"
    response = post(officer, path, {"name": "赵铁柱", "mobile": "13800003333", "id_number": ID_A[:-1] + "0",
                                    "card_number": "YD-2026-77"}, token_from=path)
    assert response.status_code == 400
    page = text(response)
    assert "校验位" in page and 'value="YD-2026-77"' in page
    with sessions() as s:
        assert s.get(Beneficiary, ids["away"]).card_number is None
    again = post(officer, path, {"name": "赵铁柱", "mobile": "13800003333", "id_number": ID_A}, token_from=path)
    assert again.status_code == 302
    assert "没有修改任何内容" in text(officer.get(f"/console/roster/households/{ids['away_home']}"))


def test_roles_and_townships_for_the_edit_actions(world):
    sessions, client_for, ids = world
    edit = f"/console/roster/people/{ids['away']}/edit"
    assert client_for("viewer_county").get(edit).status_code == 403
    assert client_for("officer_home").get(edit).status_code == 404
    merge = f"/console/roster/households/{ids['home']}/merge-person"
    officer = client_for("officer_county")
    assert post(officer, merge, {"keep": str(ids["head"]), "other": ids["twin_number"], "confirm": "1"}).status_code == 403
    assert post(officer, "/console/areas/1/rename", {"name": "x"}).status_code == 403


def test_ending_an_entitlement_in_the_console(world):
    sessions, client_for, ids = world
    officer = client_for("officer_away")
    path = f"/console/roster/people/{ids['away']}/end"
    refused = post(officer, path, {"on": "2026-12-01", "end_reason": ""}, token_from=path)
    assert refused.status_code == 400 and "请选择终止原因" in text(refused)
    assert post(officer, path, {"on": "2026-12-01", "end_reason": "moved", "note": "迁往外省"},
                token_from=path).status_code == 302
    page = text(officer.get(f"/console/roster/households/{ids['away_home']}"))
    assert "已终止" in page and "迁出" in page and "迁往外省" in page
    assert post(officer, path, {"on": "2026-12-02", "end_reason": "died"}, token_from=path).status_code == 302
    assert "已于2026-12-01终止" in text(officer.get(f"/console/roster/households/{ids['away_home']}"))
    listing = text(officer.get("/console/roster"))
    assert "共0条" in listing and "共1条" in text(officer.get("/console/roster?ended=ended"))
    home_page = f"/console/roster/households/{ids['away_home']}"
    restore = f"/console/roster/people/{ids['away']}/restore"
    assert post(client_for("viewer_away"), restore, {}, token_from="/console/me").status_code == 403
    assert post(officer, restore, {"note": "终止登记有误，恢复在册"}, token_from=home_page).status_code == 302
    assert "已恢复在册" in text(officer.get(home_page)) and "共1条" in text(officer.get("/console/roster"))


def test_an_admin_merges_a_duplicate_and_a_township_admin_cannot_reach_elsewhere(world):
    sessions, client_for, ids = world
    path = f"/console/roster/households/{ids['home']}/merge-person"
    away_admin = client_for("admin_away")
    assert post(away_admin, path, {"keep": str(ids["head"]), "other": ids["twin_number"], "confirm": "1"}).status_code == 404
    admin = client_for("admin_home")
    unconfirmed = post(admin, path, {"keep": str(ids["head"]), "other": ids["twin_number"]})
    assert unconfirmed.status_code == 400 and "我已核对" in text(unconfirmed)
    hidden = post(admin, path, {"keep": str(ids["head"]), "other": ids["away_number"], "confirm": "1"})
    assert hidden.status_code == 400 and "没有找到这个编号" in text(hidden)  # another township's record
    assert post(admin, path, {"keep": str(ids["head"]), "other": ids["twin_number"], "confirm": "1"}).status_code == 302
    with sessions() as s:
        assert s.get(Beneficiary, ids["twin"]) is None and s.get(Household, ids["twin_home"]) is None
        assert s.get(Beneficiary, ids["head"]).id_number == ID_B
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "roster.merge")) == 1
    assert "合并" in text(admin.get(f"/console/roster/households/{ids['home']}"))


def test_an_admin_renames_a_town_and_everything_follows(world):
    sessions, client_for, ids = world
    admin = client_for("admin_county")
    assert "城关镇" in text(admin.get("/console/areas"))  # the first visit seeds the table
    with sessions() as s:
        town_id = areas.town_area(s, HOME).id
    response = post(admin, f"/console/areas/{town_id}/rename", {"name": "城关街道", "code": ""})
    assert response.status_code == 302
    flash = text(admin.get("/console/areas"))
    assert "已把“城关镇”改名为“城关街道”" in flash and "优抚户2户" in flash and "账号3个" in flash
    with sessions() as s:
        assert s.scalar(select(func.count(Household.id)).where(Household.town == "城关街道")) == 2
    # The township accounts of the renamed town keep their households.
    assert "共3条" in text(client_for("viewer_home").get("/console/roster"))
    bad = post(admin, f"/console/areas/{town_id}/rename", {"name": "青石镇"})
    assert bad.status_code == 400 and 'value="青石镇"' in text(bad)


def test_an_admin_sets_up_two_teams_in_one_town(world):
    sessions, client_for, ids = world
    admin = client_for("admin_county")
    admin.get("/console/areas")
    wrong = post(admin, "/console/areas/teams/new", {"town": HOME, "name": "河口组", "villages": "河口村、月亮村"})
    assert wrong.status_code == 400 and "没有这些村/社区：月亮村" in text(wrong) and 'value="河口组"' in text(wrong)
    assert post(admin, "/console/areas/teams/new", {"town": HOME, "name": "河口组", "villages": "河口村"}).status_code == 302
    page = text(admin.get("/console/areas"))
    assert "城东社区、城西社区、柳营村没有走访组负责" in page
    assert post(admin, "/console/areas/teams/new", {"town": HOME, "name": "城关镇走访组", "villages": ""}).status_code == 302
    assert "没有走访组负责" not in text(admin.get("/console/areas"))
    with sessions() as s:
        team = s.scalars(select(VisitTeam).where(VisitTeam.name == "河口组")).one()
        assert team.villages == "河口村"
    no_one = post(admin, f"/console/areas/teams/{team.id}/members", {"who": "ZY2099-9999"})
    assert no_one.status_code == 400 and "没有找到" in text(no_one)
    assert client_for("officer_county").get("/console/areas").status_code == 200  # everyone may look
    assert post(client_for("admin_away"), f"/console/areas/teams/{team.id}/members", {"who": "x"}).status_code == 404


# --- in a real browser ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_editing_a_person_in_the_browser_shows_the_change_in_the_history(browser, tmp_path):
    from models.database import make_engine, make_session_factory
    from models.staff_account import StaffRole
    from models import utcnow
    from services import staff_accounts
    from tests.browser_kit import stop_soon
    from tests.test_console_browser import PASSWORD
    from tests.test_serve import Server, bot_env

    instance = tmp_path / "roster-browser"
    instance.mkdir()
    server = Server(bot_env(instance, WECHAT_SANDBOX="1"), workers=1)  # one is enough for a clerk
    engine = make_engine(f"sqlite:///{instance / 'shuangyong.db'}")
    try:
        sessions = make_session_factory(engine)
        with sessions.begin() as s:
            assert s.scalar(select(func.count(Area.id))) > 0  # `serve` seeded the area table
            staff_accounts.create(s, "zhangke", PASSWORD, utcnow(), role=StaffRole.OFFICER, display_name="张科员")
            staff_accounts.create(s, "wangke", PASSWORD, utcnow(), role=StaffRole.ADMIN, display_name="王科长")
            s.add(VisitTeam(town=HOME, name="河口片走访组", villages="河口村，柳营村", active=True))
            person = add_person(s, HOME, "河口村", "DEMOB_OLD", name="孙德胜", mobile="13700001234")
            person_id, household_id = person.id, person.household_id
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(server.url + "/console/login")
        page.fill("input[name=username]", "zhangke")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('登录')")
        page.click("nav.mainnav a:has-text('优抚对象')")
        page.fill("input[name=q]", "孙德胜")
        page.click("button:has-text('查询')")
        page.click("table.list a:has-text('YF')")
        page.click("a:has-text('修改个人信息')")
        page.fill("input[name=mobile]", "13700005678")
        page.check("input[name=lonely_elderly]")
        page.fill("input[name=reason]", "入户核实")
        page.click("button:has-text('保存')")
        page.wait_for_url(f"**/console/roster/households/{household_id}")
        assert "已保存" in page.inner_text(".flash")
        history = page.inner_text("#history")
        assert "手机号" in history and "137****5678" in history and "入户核实" in history and "孤老" in history
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "roster-household.png"), full_page=True)
        page.goto(server.url + "/console/roster")
        page.screenshot(path=str(ARTIFACTS / "roster-list.png"), full_page=True)
        context.close()
        _admin_screens(browser, server, household_id)
        with sessions() as s:
            assert s.get(Beneficiary, person_id).lonely_elderly
    finally:
        stop_soon(server)
        engine.dispose()


def _admin_screens(browser, server, household_id: int) -> None:
    """What an admin sees: the merge forms on a household, the area tree and the teams."""
    from tests.test_console_browser import PASSWORD

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(server.url + "/console/login")
    page.fill("input[name=username]", "wangke")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.goto(server.url + f"/console/roster/households/{household_id}")
    assert page.locator("text=合并重复记录").count() == 1
    page.screenshot(path=str(ARTIFACTS / "roster-household-admin.png"), full_page=True)
    page.click("nav.mainnav a:has-text('区域与走访组')")
    page.click("#t1 summary")
    page.fill("#t1 input[name=villages]", "河口村、月亮村")
    page.click("#t1 button:has-text('保存')")
    assert "没有这些村/社区：月亮村" in page.inner_text("main")
    assert page.input_value("#t1 input[name=villages]") == "河口村、月亮村"  # the typed text is kept
    page.screenshot(path=str(ARTIFACTS / "areas.png"), full_page=True)
    context.close()
