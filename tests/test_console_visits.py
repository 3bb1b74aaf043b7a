"""走访慰问 in the console: plans and progress per team, a team's list in visiting order (masked for
the 只读 role), recording and correcting a visit with photos and a follow-up request, photos only
through the signed-in view, 挂点领导, and the permission matrix with the township scope."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.help_request import HelpRequest
from models.staff_account import AuditEntry
from models.visits import PlannedVisit, VisitPhoto, VisitPlan, VisitStatus
from scheduler.runner import run_due
from tests.console_kit import add_staff, csrf_token, runtime_of
from tests.scheduler_helpers import at
from tests.test_visit_plans import add_household, add_volunteer

HOME, ELSEWHERE = "城关镇", "青石镇"
TODAY = at("2027-01-20T10:00")  # inside the 2027 两节 window
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 300
ARTIFACTS = Path(__file__).parent / "artifacts" / "console"


def real_png(width: int = 64, height: int = 48) -> bytes:
    """A small, valid PNG (a plain colour) the browser can show."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((200, 120, 40)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def make_world(console, url):
    """A 2027 两节 plan: two households in 城关镇 (a 烈属 first), one in 青石镇; staff accounts of
    each role county-wide, in 城关镇 and in 青石镇."""
    app, sessions, client_for = console(url)
    with sessions.begin() as s:
        add_volunteer(s, HOME, "oConsoleVisit01")
        home_martyr = add_household(s, HOME, "MARTYR_F", village="河口村")
        home_veteran = add_household(s, HOME, "DEMOB_OLD", village="城东社区")
        away = add_household(s, ELSEWHERE, "DISABLED", village="石桥村")
    run_due(sessions, at("2027-01-08T08:30"), only=("visit_plans",))
    runtime_of(app).clock = lambda: TODAY
    for role in ("admin", "officer", "viewer"):
        for area, town in (("county", None), ("home", HOME), ("away", ELSEWHERE)):
            add_staff(sessions, f"{role}_{area}", role, town, display_name=f"{role}{area}")
    with sessions() as s:
        by_household = {v.household_id: v for v in s.scalars(select(PlannedVisit))}
        ids = {"plan": s.scalars(select(VisitPlan.id)).one(), "martyr": by_household[home_martyr].id,
               "veteran": by_household[home_veteran].id, "away": by_household[away].id,
               "team": by_household[home_martyr].team_id, "away_team": by_household[away].team_id}
    return app, sessions, client_for, ids


@pytest.fixture
def world(console, sqlite_url):
    return make_world(console, sqlite_url)


@pytest.fixture
def world_both(console, db_url):
    """The same on SQLite and PostgreSQL, for recording itself."""
    return make_world(console, db_url)


def form(**changes):
    values = {"visited_on": "2027-01-20", "visitors": "王书记、李干事", "money": "500", "goods": "米一袋",
              "note": "老人身体还好"}
    values.update(changes)
    return values


def post_record(client, visit_id, data, photos=()):
    token = csrf_token(client, f"/console/visits/{visit_id}/record")
    payload = {**data, "csrf_token": token}
    if photos:
        payload["photos"] = [(BytesIO(content), name) for name, content in photos]
    return client.post(f"/console/visits/{visit_id}/record", data=payload, content_type="multipart/form-data")


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def visit(sessions, visit_id) -> PlannedVisit:
    with sessions() as s:
        found = s.get(PlannedVisit, visit_id)
        found.photos  # noqa: B018  (loaded before the session closes)
        s.expunge_all()
        return found


# --- plans, progress, lists ----------------------------------------------------------------


def test_plans_and_progress_per_team_for_the_county_and_a_township(world):
    app, sessions, client_for, ids = world
    county = client_for("officer_county")
    post_record(county, ids["martyr"], form())
    page = text(county.get("/console/visits"))
    assert "2027年元旦春节走访慰问" in page and "进行中" in page
    assert re.search(r"应走访 已走访 待走访 逾期未走访 进度 .*?走访慰问 .*? 3 1 2 0 33%", page)
    plan = text(county.get(f"/console/visits/plans/{ids['plan']}"))
    assert re.search(rf"{HOME}走访组 {HOME} 2 1 1 0 50%", plan)
    assert re.search(rf"{ELSEWHERE}走访组 {ELSEWHERE} 1 0 1 0 0%", plan)
    township = text(client_for("officer_away").get(f"/console/visits/plans/{ids['plan']}"))
    assert ELSEWHERE in township and f"{HOME}走访组" not in township
    assert "走访慰问" in text(client_for("viewer_home").get("/console/"))  # the menu entry


def test_a_team_list_in_visiting_order_with_addresses_masked_for_viewers(world):
    app, sessions, client_for, ids = world
    path = f"/console/visits/plans/{ids['plan']}/teams/{ids['team']}"
    officer = text(client_for("officer_home").get(path))
    assert officer.index("河口村") < officer.index("城东社区")  # the 烈属 first
    assert "虚构路1号" in officer and "重点" in officer and "登记走访" in officer
    viewer = text(client_for("viewer_home").get(path))
    assert "虚构路1号" not in viewer and "虚****" in viewer and "测*" in viewer
    assert "登记走访" not in viewer


def test_the_overdue_flag_shows_after_the_window(world):
    app, sessions, client_for, ids = world
    run_due(sessions, at("2027-02-21T09:00"), only=("visit_plans",))
    runtime_of(app).clock = lambda: at("2027-02-22T10:00")
    page = text(client_for("officer_county").get(f"/console/visits/plans/{ids['plan']}"))
    assert "走访期已结束" in page and re.search(rf"{HOME}走访组 {HOME} 2 0 0 2 0%", page)
    listed = text(client_for("officer_county").get(f"/console/visits/plans/{ids['plan']}/teams/{ids['team']}"))
    assert listed.count("逾期未走访") >= 2


def test_households_without_a_team_are_listed_as_unassigned_within_the_area(world):
    app, sessions, client_for, ids = world
    with sessions.begin() as s:  # its team was switched off
        s.get(PlannedVisit, ids["veteran"]).team_id = None
    plan = text(client_for("officer_county").get(f"/console/visits/plans/{ids['plan']}"))
    assert re.search(rf"未分组 {HOME} 1 0 1 0 0%", plan)
    path = f"/console/visits/plans/{ids['plan']}/teams/0"
    assert "城东社区" in text(client_for("officer_home").get(path))
    assert "城东社区" not in text(client_for("officer_away").get(path))


# --- recording -----------------------------------------------------------------------------


def test_an_officer_records_a_visit_with_a_photo_and_a_follow_up(world_both):
    app, sessions, client_for, ids = world_both
    client = client_for("officer_home")
    blank = client.get(f"/console/visits/{ids['martyr']}/record").get_data(as_text=True)
    assert 'value="2027-01-20"' in blank and 'value="officerhome"' in blank  # today (Shanghai) and who records
    response = post_record(client, ids["martyr"], form(note="屋顶漏雨", follow_up="1"), photos=[("门口.jpg", JPEG)])
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "已登记走访：河口村，慰问金500元" in page and "已转为求助SY2027-" in page
    assert "500元" in page and "米一袋" in page and "照片（1张）" in page
    saved = visit(sessions, ids["martyr"])
    assert (saved.status, saved.money_cents, saved.visitors, saved.recorded_by) == (
        VisitStatus.DONE, 50000, "王书记、李干事", "staff:officer_home")
    with sessions() as s:
        request = s.get(HelpRequest, saved.follow_up_request_id)
        assert (request.category, request.town, request.source) == ("housing", HOME, "visit")
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == saved.id)).all() == ["visit.record"]
    queue = text(client.get("/console/requests"))
    assert request.number in queue
    # the photo comes only through the signed-in view
    photo_id = saved.photos[0].id
    image = client.get(f"/console/visits/photos/{photo_id}")
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data == JPEG
    assert image.headers["Cache-Control"] == "no-store"
    assert app.test_client().get(f"/console/visits/photos/{photo_id}").status_code == 302  # signed out: to login
    assert client_for("viewer_home").get(f"/console/visits/photos/{photo_id}").status_code == 403
    assert client_for("officer_away").get(f"/console/visits/photos/{photo_id}").status_code == 404


def test_a_photo_of_several_megabytes_is_taken_and_a_body_too_large_is_refused_plainly(world, monkeypatch):
    app, sessions, client_for, ids = world
    client = client_for("officer_home")
    big = JPEG + b"\x00" * (3 * 1024 * 1024)  # a phone photo: over the webhook's 1 MB limit, under 5 MB
    assert post_record(client, ids["martyr"], form(), photos=[("手机照片.jpg", big)]).status_code == 302
    assert len(visit(sessions, ids["martyr"]).photos[0].data) == len(big)
    from bot.console import visits as views

    monkeypatch.setattr(views, "UPLOAD_LIMIT", 10_000)
    response = post_record(client, ids["veteran"], form(), photos=[("大.jpg", JPEG + b"\x00" * 20_000)])
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/visits/{ids['veteran']}/record")
    assert "照片太大了" in text(client.get(response.headers["Location"]))
    assert visit(sessions, ids["veteran"]).status == VisitStatus.PLANNED


def test_a_photo_is_deleted_with_a_trace_in_the_history(world):
    app, sessions, client_for, ids = world
    client = client_for("officer_home")
    post_record(client, ids["martyr"], form(), photos=[("a.jpg", JPEG), ("b.jpg", JPEG)])
    first = visit(sessions, ids["martyr"]).photos[0].id
    viewer = client_for("viewer_home")
    assert viewer.post(f"/console/visits/photos/{first}/delete",
                       data={"csrf_token": csrf_token(viewer, "/console/visits")}).status_code == 403
    token = csrf_token(client, f"/console/visits/{ids['martyr']}")
    response = client.post(f"/console/visits/photos/{first}/delete", data={"csrf_token": token})
    page = text(client.get(response.headers["Location"]))
    assert "照片已删除" in page and "照片（1张）" in page and "照片数：2 → 1" in page


def test_a_double_submit_records_once(world_both):
    app, sessions, client_for, ids = world_both
    client = client_for("officer_home")
    assert post_record(client, ids["martyr"], form()).status_code == 302
    second = post_record(client, ids["martyr"], form(money="800"))
    assert "已经登记过走访，这次没有重复登记" in text(client.get(second.headers["Location"]))
    assert visit(sessions, ids["martyr"]).money_cents == 50000
    with sessions() as s:
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "visit.record")) == 1


def test_bad_input_comes_back_filled_in_and_saves_nothing(world):
    app, sessions, client_for, ids = world
    client = client_for("officer_home")
    response = post_record(client, ids["martyr"], form(money="五百", visitors="张三"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "金额请填数字" in page and 'value="张三"' in page and "老人身体还好" in page
    response = post_record(client, ids["martyr"], form(money="", goods="", note=""))
    assert "请填写慰问金或慰问品" in response.get_data(as_text=True)
    response = post_record(client, ids["martyr"], form(), photos=[("走访.jpg", b"MZ\x90\x00 not an image")])
    assert response.status_code == 400
    page = text(response)
    assert "“走访.jpg”不是照片，只能上传JPG或PNG格式的照片" in page and "照片需要重新选择" in page
    response = post_record(client, ids["martyr"], form(visited_on="2027-01-21"))
    assert "走访日期不能晚于今天" in response.get_data(as_text=True)
    saved = visit(sessions, ids["martyr"])
    assert saved.status == VisitStatus.PLANNED and saved.photos == []
    with sessions() as s:
        assert s.scalar(select(func.count(VisitPhoto.id))) == 0


def test_a_correction_is_kept_in_the_visits_history(world):
    app, sessions, client_for, ids = world
    client = client_for("officer_home")
    post_record(client, ids["martyr"], form())
    edit = client.get(f"/console/visits/{ids['martyr']}/record").get_data(as_text=True)
    assert "修改走访记录" in edit and 'value="500"' in edit
    response = post_record(client, ids["martyr"], form(money="800", correct="1", reason="金额填错了"))
    page = text(client.get(response.headers["Location"]))
    assert "走访记录已更正" in page and "慰问金：500元 → 800元" in page and "金额填错了" in page
    assert visit(sessions, ids["martyr"]).money_cents == 80000


def test_county_leaders_are_assigned_from_the_team_list(world):
    app, sessions, client_for, ids = world
    client = client_for("officer_county")
    path = f"/console/visits/plans/{ids['plan']}/teams/{ids['team']}"
    token = csrf_token(client, path)
    response = client.post(f"{path}/leader", data={"csrf_token": token, "leader": "张县长",
                                                   "ids": [ids["martyr"], ids["veteran"]]})
    assert "已为2户安排挂点领导：张县长" in text(client.get(response.headers["Location"]))
    assert visit(sessions, ids["martyr"]).leader == "张县长"
    # a township account of another town cannot reach this team
    away = client_for("officer_away")
    token = csrf_token(away, "/console/visits")
    assert away.post(f"{path}/leader", data={"csrf_token": token, "leader": "李",
                                             "ids": [ids["martyr"]]}).status_code == 404


def test_a_post_without_the_form_token_is_refused(world):
    app, sessions, client_for, ids = world
    client = client_for("officer_home")
    response = client.post(f"/console/visits/{ids['martyr']}/record", data=form())
    assert response.status_code == 400 and "没有做任何修改" in response.get_data(as_text=True)
    assert visit(sessions, ids["martyr"]).status == VisitStatus.PLANNED


# --- the permission matrix -------------------------------------------------------------------

ALL, ACTORS = {"admin", "officer", "viewer"}, {"admin", "officer"}
MATRIX = {  # what, method, path, roles allowed, limited by the household's town
    "plans": ("GET", "/console/visits", ALL, False),
    "plan": ("GET", "/console/visits/plans/{plan}", ALL, False),
    "team list": ("GET", "/console/visits/plans/{plan}/teams/{team}", ALL, True),
    "visit page": ("GET", "/console/visits/{martyr}", ALL, True),
    "record form": ("GET", "/console/visits/{martyr}/record", ACTORS, True),
    "record": ("POST", "/console/visits/{veteran}/record", ACTORS, True),
    "leader": ("POST", "/console/visits/plans/{plan}/teams/{team}/leader", ACTORS, True),
}


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize("area", ["county", "home", "away"])
def test_each_role_and_area_gets_what_the_matrix_says(world, role, area):
    app, sessions, client_for, ids = world
    client = client_for(f"{role}_{area}")
    wrong = []
    for what, (method, template, roles, scoped) in MATRIX.items():
        path = template.format(**ids)
        if method == "GET":
            got = client.get(path).status_code
        else:
            token = csrf_token(client, "/console/visits")
            got = client.post(path, data={**form(), "csrf_token": token, "ids": [ids["martyr"]], "leader": "张"},
                              content_type="multipart/form-data").status_code
        expected = 403 if role not in roles else 404 if scoped and area == "away" else "ok"
        if (expected == "ok" and got >= 400) or (expected != "ok" and got != expected):
            wrong.append(f"{what}: expected {expected}, got {got}")
    assert not wrong, f"{role}/{area}: " + "; ".join(wrong)


# --- in the browser ----------------------------------------------------------------------------


@pytest.fixture
def live(world, tmp_path):
    """The console app served on a local port for the browser."""
    from werkzeug.serving import make_server
    import threading

    app, sessions, client_for, ids = world
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)  # quick shutdown
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", sessions, ids, tmp_path
    server.shutdown()


def test_recording_a_visit_in_the_browser(browser, live):
    base, sessions, ids, tmp_path = live
    photo = tmp_path / "走访.png"
    photo.write_bytes(real_png())
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "officer_home")
    page.fill("input[name=password]", "correct-horse-42")
    page.click("button[type=submit]")
    page.click("nav.mainnav >> text=走访慰问")
    page.click("text=2027年元旦春节走访慰问")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "visit-plan-progress.png"), full_page=True)
    page.click(f"text={HOME}走访组")
    page.click(f"#visit-{ids['martyr']} >> text=登记走访")
    assert page.input_value("input[name=visited_on]") == "2027-01-20"
    page.fill("input[name=money]", "500")
    page.fill("input[name=goods]", "米一袋、油一桶")
    page.fill("textarea[name=note]", "老人身体还好，屋顶有点漏雨")
    page.check("input[name=follow_up]")
    page.set_input_files("input[name=photos]", str(photo))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "visit-record-form.png"), full_page=True)
    page.click("button:has-text('登记走访')")
    page.wait_for_selector("text=已登记走访")
    page.screenshot(path=str(ARTIFACTS / "visit-recorded.png"), full_page=True)
    body = page.inner_text("main")
    assert "500元" in body and "照片（1张）" in body and "跟进求助" in body
    assert page.evaluate("document.querySelector('.visit-photos img').naturalWidth") == 64  # shown, signed in
    page.click(f"text={HOME}走访组的走访名单")
    page.screenshot(path=str(ARTIFACTS / "visit-team-list.png"), full_page=True)
    assert "已走访" in page.inner_text("main")
    page.close()
    saved = visit(sessions, ids["martyr"])
    assert saved.status == VisitStatus.DONE and len(saved.photos) == 1
