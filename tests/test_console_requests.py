"""求助 pages of the console: list (filters, search, scope, paging, bulk, export) and a request's page
(actions, notices, timeline, reveal), as staff would use them in the browser."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import OutboxMessage
from models.help_request import HelpRequest, RequestStatus, Urgency
from models.staff_account import AuditEntry, StaffAccount
from models.status_event import StatusEvent
from services import handover, help_requests, request_queries, volunteers
from services.help_requests import RequestDetails
from services.request_queries import RequestFilter
from services.volunteers import VolunteerDetails
from tests.conftest import make_settings
from tests.console_kit import NOW, add_staff, csrf_token, post, runtime_of, sign_in

PHONE = "13912345678"


# --- set-up ------------------------------------------------------------------------------


@pytest.fixture
def console(apps, sqlite_url, tmp_path):
    return _app(apps, sqlite_url, tmp_path)


@pytest.fixture
def console_both(apps, settings):
    """The same on SQLite and PostgreSQL, for the core tests."""
    app = apps(settings)
    runtime_of(app).clock = lambda: NOW
    return app


def _app(apps, url, tmp_path):
    app = apps(make_settings(url, tmp_path))
    runtime_of(app).clock = lambda: NOW
    return app


def submit(app, *, town="城关镇", openid="oUser1", phone=PHONE, name="张三民", category="living",
           urgency=Urgency.NORMAL, at=NOW, description="老人住房漏雨，需要维修", source="chat",
           attachments=()) -> tuple[int, str]:
    details = RequestDetails(category, description, urgency, "self", name, phone, list(attachments), town=town)
    with runtime_of(app).sessions.begin() as session:
        request = help_requests.submit(session, openid, details, at, source=source)
        return request.id, request.number


def approved_volunteer(app, *, openid="oVolunteer1", name="李志愿", town="城关镇", village="河口村") -> int:
    details = VolunteerDetails(name, "13700001111", town, village, ["visit"], "weekend")
    with runtime_of(app).sessions.begin() as session:
        volunteer = volunteers.register(session, openid, details, NOW)
        volunteers.approve(session, volunteer, NOW, actor="staff:admin")
        return volunteer.id


def client_as(app, username, role="officer", town=None):
    add_staff(runtime_of(app).sessions, username, role, town, display_name=f"{username}同志")
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def get_request(app, request_id) -> HelpRequest:
    with runtime_of(app).sessions() as session:
        request = session.get(HelpRequest, request_id)
        session.expunge(request)
        return request


def rows(app, model, *where):
    with runtime_of(app).sessions() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))


def notices_to(app, openid, kind=help_requests.NOTICE_KIND) -> list[str]:
    return [m.payload["text"] for m in rows(app, OutboxMessage, OutboxMessage.recipient == openid,
                                            OutboxMessage.kind == kind)]


def events_of(app, request_id) -> list[StatusEvent]:
    return rows(app, StatusEvent, StatusEvent.subject == "help_request", StatusEvent.subject_id == request_id)


def audit(app, action) -> list[AuditEntry]:
    return rows(app, AuditEntry, AuditEntry.action == action)


def act(client, request_id, action, data=None, **kwargs):
    return post(client, f"/console/requests/{request_id}/{action}", data,
                token_from=f"/console/requests/{request_id}", **kwargs)


def listed(html: str) -> list[str]:
    return re.findall(r">(SY\d{4}-\d{6})</a>", html)


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# --- the list ------------------------------------------------------------------------------


def test_list_filters_and_search_by_number_and_phone(console_both):
    app = console_both
    first = submit(app, at=NOW - timedelta(days=3))
    second = submit(app, town="青石镇", openid="oUser2", phone="13800002222", name="王五",
                    category="medical", urgency=Urgency.URGENT, at=NOW - timedelta(days=2))
    third = submit(app, town="东湖街道", openid="oUser3", phone="13600003333", category="handover",
                   source="handover", at=NOW - timedelta(hours=1))
    client = client_as(app, "clerk")
    with runtime_of(app).sessions.begin() as session:
        help_requests.accept(session, session.get(HelpRequest, first[0]), NOW, actor="staff:clerk")

    html = page(client, "/console/requests")
    assert listed(html) == [second[1], third[1], first[1]]  # overdue 待受理 first, then the rest
    assert "<td>生活困难</td>" in html and ">living<" not in html  # labels, never codes
    assert "张*民" in html and "张三民" not in html and PHONE not in html
    assert "待受理 <b>2</b>" in html and "已受理 <b>1</b>" in html and "全部 <b>3</b>" in html

    assert listed(page(client, "/console/requests?status=submitted")) == [second[1], third[1]]
    assert listed(page(client, "/console/requests?category=medical")) == [second[1]]
    assert listed(page(client, "/console/requests?urgency=urgent")) == [second[1]]
    assert listed(page(client, "/console/requests?town=东湖街道")) == [third[1]]
    assert listed(page(client, "/console/requests?source=handover")) == [third[1]]
    assert listed(page(client, "/console/requests?overdue=1")) == [second[1]]
    assert listed(page(client, "/console/requests?assignee=none&status=accepted")) == [first[1]]
    html = page(client, "/console/requests?category=medical&status=submitted")
    assert "待受理 <b>1</b>" in html and "已受理 <b>0</b>" in html  # counts keep the other filters
    assert "category=medical" in re.search(r'href="([^"]*status=accepted[^"]*)"', html).group(1)

    assert listed(page(client, f"/console/requests?q={second[1].lower()}")) == [second[1]]
    assert listed(page(client, f"/console/requests?q={second[1][-6:]}")) == [second[1]]
    assert listed(page(client, f"/console/requests?q={second[1][2:]}")) == [second[1]]
    assert listed(page(client, "/console/requests?q=138 0000 2222")) == [second[1]]
    assert listed(page(client, "/console/requests?q=13800002223")) == []
    assert "请输入求助编号" in page(client, "/console/requests?q=王五")


def test_paging_shows_totals_and_keeps_filters(console):
    for i in range(53):
        submit(console, openid=f"oMany{i}", at=NOW - timedelta(minutes=i))
    submit(console, town="青石镇", openid="oOther")
    client = client_as(console, "clerk")
    html = page(client, "/console/requests?town=城关镇")
    assert len(listed(html)) == 50
    assert "共53条，第1–50条" in html and "第1/2页" in html
    assert "town=%E5%9F%8E%E5%85%B3%E9%95%87&amp;page=2" in html  # the filter stays in the next page's link
    html = page(client, "/console/requests?town=城关镇&page=2")
    assert len(listed(html)) == 3 and "共53条，第51–53条" in html


def test_sort_by_newest_and_by_due_time(console):
    old = submit(console, at=NOW - timedelta(days=3))
    new = submit(console, openid="oUser2", at=NOW - timedelta(hours=1))
    urgent = submit(console, openid="oUser3", urgency=Urgency.URGENT, at=NOW - timedelta(minutes=30))
    client = client_as(console, "clerk")
    assert listed(page(client, "/console/requests?sort=created")) == [urgent[1], new[1], old[1]]
    assert listed(page(client, "/console/requests?sort=due")) == [old[1], urgent[1], new[1]]


def test_the_default_order_runs_from_overdue_to_closed_across_pages(console):
    closed_old = submit(console, openid="oClosed1", at=NOW - timedelta(days=9))
    closed_new = submit(console, openid="oClosed2", at=NOW - timedelta(days=8))
    in_progress = submit(console, openid="oWorking", at=NOW - timedelta(days=7))
    fresh = submit(console, openid="oFresh1", at=NOW - timedelta(hours=2))
    overdue = submit(console, openid="oLate01", at=NOW - timedelta(days=3))
    with runtime_of(console).sessions.begin() as session:
        for request_id, _ in (closed_old, closed_new):
            help_requests.resolve(session, session.get(HelpRequest, request_id), "已办", NOW, actor="system")
        help_requests.accept(session, session.get(HelpRequest, in_progress[0]), NOW, actor="system")
    expected = [overdue[1], fresh[1], in_progress[1], closed_new[1], closed_old[1]]
    with runtime_of(console).sessions() as session:
        for per_page in (1, 2, 3, 5):
            pages = [request_queries.find(session, RequestFilter(), NOW, page=n, per_page=per_page)
                     for n in range(1, 6 // per_page + 2)]
            assert [r.number for rows, _ in pages for r in rows] == expected, per_page
            assert {total for _, total in pages} == {5}
        assert [r.number for r in request_queries.export_rows(session, RequestFilter(), NOW, cap=4)] == expected[:4]


def test_a_township_officer_sees_only_the_township(console):
    ours = submit(console, town="城关镇")
    theirs = submit(console, town="青石镇", openid="oUser2")
    client = client_as(console, "town_clerk", town="城关镇")
    html = page(client, "/console/requests")
    assert listed(html) == [ours[1]]
    assert listed(page(client, f"/console/requests?q={theirs[1]}")) == []
    assert client.get(f"/console/requests/{theirs[0]}").status_code == 404
    assert act(client, theirs[0], "accept").status_code == 404
    assert client.get(f"/console/requests/{ours[0]}").status_code == 200
    export = client.get("/console/requests/export.xlsx")
    numbers = [row[0] for row in load_workbook(BytesIO(export.data)).active.iter_rows(min_row=2, values_only=True)]
    assert numbers == [ours[1]]
    assert get_request(console, theirs[0]).status == RequestStatus.SUBMITTED


def test_a_viewer_reads_the_request_but_may_do_nothing(console):
    request_id, number = submit(console)
    client = client_as(console, "reader", role="viewer")
    html = page(client, f"/console/requests/{request_id}")
    assert number in html and "老人住房漏雨" in html and "您的账号只能查看" in html
    assert "显示完整号码" not in html and 'name="ids"' not in html
    for action in help_requests_actions():
        assert act(client, request_id, action, {"unit": "x", "resolution": "x", "reason": "x", "note": "x"}).status_code == 403
    assert post(client, f"/console/requests/{request_id}/reveal").status_code == 403
    assert post(client, "/console/requests/bulk", {"op": "accept", "ids": [str(request_id)]}).status_code == 403
    assert client.get("/console/requests/export.xlsx").status_code == 403
    assert len(events_of(console, request_id)) == 1


def help_requests_actions():
    return ["accept", "transfer", "assign", "note", "resolve", "reject", "reopen"]


# --- a request's page and its actions ---------------------------------------------------------


def test_the_full_workflow_tells_the_requester_each_step(console_both):
    app = console_both
    request_id, number = submit(app, attachments=[{"type": "voice", "media_id": "m1"},
                                                  {"type": "image", "media_id": "m2"}])
    volunteer_id = approved_volunteer(app)
    approved_volunteer(app, openid="oVolunteer2", name="赵远方", town="青石镇", village="石桥村")
    client = client_as(app, "clerk")

    html = page(client, f"/console/requests/{request_id}")
    assert "老人住房漏雨，需要维修" in html and "张三民" in html and "139****5678" in html
    assert "[语音] [图片]" in html
    assert help_requests.accept_notice(get_request(app, request_id)) in html  # told before it is sent
    assert "【办理结果】" in html
    assert html.index("李志愿（ZY2026-0001）") < html.index("赵远方")  # volunteers of the township first
    assert "重新办理</summary>" not in html

    assert act(client, request_id, "accept").status_code == 302
    response = act(client, request_id, "transfer", {"unit": "县住建局", "note": "需要现场查看"}, follow_redirects=True)
    assert "已转办至县住建局" in response.get_data(as_text=True)
    act(client, request_id, "assign", {"assignee": f"volunteer:{volunteer_id}"})
    act(client, request_id, "note", {"note": "已电话联系"})
    response = act(client, request_id, "resolve", {"resolution": "已修好屋顶"}, follow_redirects=True)
    html = response.get_data(as_text=True)

    request = get_request(app, request_id)
    assert request.status == RequestStatus.RESOLVED and request.assignee_volunteer_id == volunteer_id
    assert notices_to(app, "oUser1") == [
        help_requests.accept_notice(request),
        help_requests.transfer_notice(request, "县住建局"),
        help_requests.assign_notice(request),
        help_requests.resolve_notice(request, "已修好屋顶"),
    ]
    [task] = notices_to(app, "oVolunteer1", kind="volunteer_task")
    assert number in task
    assert "已办结。" in html and "办理结果：已修好屋顶" in html  # the final text in the flash
    assert [e.action for e in events_of(app, request_id)] == [None, "accept", "transfer", "assign", "note", "resolve"]
    assert [a.subject_id for a in audit(app, "request.resolve")] == [request_id]
    for label in ("提交", "受理", "转办", "指派", "备注", "办结", "通知求助人：等待发送（客服消息）", "clerk同志", "求助人",
                  "转办至县住建局：需要现场查看", "已电话联系"):
        assert label in html, label
    assert "重新办理</summary>" in html and "办结</summary>" not in html


def test_a_follow_up_call_closes_the_loop_in_the_browser(console):
    """回访: after 办结 staff call the person back and record how satisfied they are (已回访)."""
    request_id, _ = submit(console)
    client = client_as(console, "clerk")
    act(client, request_id, "accept")
    assert "回访</summary>" not in page(client, f"/console/requests/{request_id}")  # only after 办结
    act(client, request_id, "resolve", {"resolution": "已修好屋顶"})
    told_before = notices_to(console, "oUser1")
    response = act(client, request_id, "follow_up", {"score": "", "note": "很好"})
    assert response.status_code == 400 and "请选择对方的满意程度。" in response.get_data(as_text=True)
    assert get_request(console, request_id).status == RequestStatus.RESOLVED
    response = act(client, request_id, "follow_up", {"score": "5", "note": "老人说修得很好"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    request = get_request(console, request_id)
    assert (request.status, request.rating, request.rating_comment) == (RequestStatus.VISITED, 5, "老人说修得很好")
    assert "回访已记录：非常满意。" in html and "回访：非常满意。老人说修得很好" in html
    assert notices_to(console, "oUser1") == told_before  # they were just called: no message
    assert [a.subject_id for a in audit(console, "request.follow_up")] == [request_id]


def test_a_second_accept_shows_the_workflow_message_and_changes_nothing(console_both):
    request_id, _ = submit(console_both)
    client = client_as(console_both, "clerk")
    act(client, request_id, "accept")
    response = act(client, request_id, "accept", follow_redirects=True)
    assert response.status_code == 200
    assert "当前状态为“已受理”，不能改为“已受理”。" in response.get_data(as_text=True)
    assert [e.action for e in events_of(console_both, request_id)] == [None, "accept"]
    assert len(notices_to(console_both, "oUser1")) == 1
    assert len(audit(console_both, "request.accept")) == 1


def test_resolving_without_a_result_keeps_the_form_and_changes_nothing(console):
    request_id, _ = submit(console)
    client = client_as(console, "clerk")
    response = act(client, request_id, "resolve", {"resolution": "   "})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请填写办理结果，求助人会看到这段话。" in html
    assert re.search(r"<details class=\"action\" open>\s*<summary>办结</summary>", html)
    response = act(client, request_id, "reject", {"reason": "x" * 301})
    assert "内容太长了" in response.get_data(as_text=True) and "x" * 301 in response.get_data(as_text=True)
    assert get_request(console, request_id).status == RequestStatus.SUBMITTED
    assert len(events_of(console, request_id)) == 1 and notices_to(console, "oUser1") == []
    assert audit(console, "request.resolve") == []


def test_assigning_to_staff_and_reopening(console):
    request_id, _ = submit(console)
    client = client_as(console, "clerk")
    other = add_staff(runtime_of(console).sessions, "helper", "officer", "城关镇", display_name="王经办")
    elsewhere = add_staff(runtime_of(console).sessions, "far", "officer", "青石镇")
    html = page(client, f"/console/requests/{request_id}")
    assert "王经办（城关镇）" in html and f"staff:{elsewhere}" not in html
    response = act(client, request_id, "assign", {"assignee": f"staff:{elsewhere}"})
    assert response.status_code == 400 and "请选择一位工作人员或一名志愿者。" in response.get_data(as_text=True)
    act(client, request_id, "assign", {"assignee": f"staff:{other}"})
    assert get_request(console, request_id).assignee_staff_id == other
    assert "王经办" in page(client, "/console/requests")
    act(client, request_id, "reject", {"reason": "不属于双拥办职责"})
    act(client, request_id, "reopen")
    request = get_request(console, request_id)
    assert request.status == RequestStatus.ACCEPTED
    assert notices_to(console, "oUser1")[-1] == help_requests.reopen_notice(request)


def test_revealing_the_phone_is_audited_and_not_kept(console):
    request_id, number = submit(console)
    client = client_as(console, "clerk")
    response = post(client, f"/console/requests/{request_id}/reveal", token_from=f"/console/requests/{request_id}")
    assert response.status_code == 200 and PHONE in response.get_data(as_text=True)
    [entry] = audit(console, "reveal")
    assert (entry.subject, entry.subject_id, entry.detail, entry.staff_username) == \
        ("help_request", request_id, "contact_phone", "clerk")
    assert PHONE not in page(client, f"/console/requests/{request_id}")
    html = page(client, "/console/requests")
    assert number in html and PHONE not in html and "张*民" in html


# --- bulk and export ------------------------------------------------------------------------------


def test_bulk_accept_skips_what_cannot_move(console):
    first = submit(console)
    second = submit(console, openid="oUser2")
    done = submit(console, openid="oUser3")
    client = client_as(console, "clerk")
    act(client, done[0], "accept")
    response = post(client, "/console/requests/bulk",
                    {"op": "accept", "ids": [str(first[0]), str(second[0]), str(done[0])], "back": "status=submitted"},
                    token_from="/console/requests")
    assert response.status_code == 302 and response.location.endswith("/console/requests?status=submitted")
    html = page(client, "/console/requests?status=submitted")
    assert f"已受理2件，1件未处理（{done[1]}：当前状态为“已受理”，不能改为“已受理”。）" in html
    assert {get_request(console, i).status for i, _ in (first, second, done)} == {RequestStatus.ACCEPTED}
    assert len(audit(console, "request.accept")) == 3
    assert len(notices_to(console, "oUser3")) == 1


def test_bulk_assign_to_a_staff_member(console):
    ours = submit(console)
    closed = submit(console, openid="oUser2")
    client = client_as(console, "clerk")
    helper = add_staff(runtime_of(console).sessions, "helper", "officer", "城关镇")
    act(client, closed[0], "resolve", {"resolution": "已处理"})
    post(client, "/console/requests/bulk", {"op": "assign", "staff": str(helper), "ids": [str(ours[0]), str(closed[0])]},
         token_from="/console/requests")
    assert get_request(console, ours[0]).assignee_staff_id == helper
    assert get_request(console, ours[0]).status == RequestStatus.IN_PROGRESS
    assert get_request(console, closed[0]).assignee_staff_id is None  # skipped, and nothing half-done
    assert "已指派1件，1件未处理" in page(client, "/console/requests")


def test_export_holds_exactly_the_filtered_rows(console):
    wanted = [submit(console, openid=f"oA{i}", category="medical", at=NOW - timedelta(hours=i)) for i in range(3)]
    submit(console, openid="oOtherUser", category="living")
    client = client_as(console, "clerk")
    response = client.get("/console/requests/export.xlsx?category=medical")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(BytesIO(response.data)).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:4] == ("编号", "类别", "紧急程度", "状态")
    assert [row[0] for row in table[1:]] == [n for _, n in reversed(wanted)]  # the list's order: oldest open first
    assert {row[1] for row in table[1:]} == {"医疗"}
    assert table[1][7] == "139****5678" and table[1][6] == "张*民" and PHONE not in str(table)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", table[1][9])
    [entry] = audit(console, "export")
    assert entry.detail == "求助列表：类别=医疗；3行" and entry.staff_username == "clerk"

    by_phone = client.get(f"/console/requests/export.xlsx?q={PHONE}&town=城关镇")
    assert len(list(load_workbook(BytesIO(by_phone.data)).active.iter_rows(min_row=2))) == 4
    assert audit(console, "export")[-1].detail == "求助列表：乡镇=城关镇；按手机号搜索；4行"  # never the number itself


# --- CSRF and the handover link ---------------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused(console_both):
    request_id, _ = submit(console_both)
    client = client_as(console_both, "clerk")
    assert client.post(f"/console/requests/{request_id}/accept").status_code == 400
    assert client.post(f"/console/requests/{request_id}/resolve", data={"resolution": "x", "csrf_token": "forged"}).status_code == 400
    assert client.post("/console/requests/bulk", data={"op": "accept", "ids": [str(request_id)]}).status_code == 400
    assert get_request(console_both, request_id).status == RequestStatus.SUBMITTED
    assert len(events_of(console_both, request_id)) == 1
    with runtime_of(console_both).sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("request.%"))) == 0


def test_a_handover_request_links_to_its_chat_and_shows_the_replies(console):
    request_id, _ = submit(console, category="handover", source="handover", description="用户请求人工服务")
    other_id, _ = submit(console, category="medical", description="另一件求助")
    client = client_as(console, "clerk")
    with runtime_of(console).sessions.begin() as session:
        clerk = session.scalars(select(StaffAccount).where(StaffAccount.username == "clerk")).one()
        handover.reply(session, session.get(HelpRequest, request_id), clerk, "您好，请讲。", NOW)
        help_requests.accept(session, session.get(HelpRequest, other_id), NOW, actor="staff:clerk")
    html = page(client, f"/console/requests/{request_id}")
    assert f"/console/handover/{request_id}" in html and "人工服务" in html and "来源</dt><dd>人工" in html
    assert "工作人员回复：\n您好，请讲。" in html and "开始人工回复" in html
    assert "另一件求助" not in html and help_requests.accept_notice(get_request(console, other_id)) not in html


def test_pages_ask_for_a_sign_in(console):
    request_id, _ = submit(console)
    client = console.test_client()
    assert client.get("/console/requests").status_code == 302
    assert client.get(f"/console/requests/{request_id}").status_code == 302
    assert csrf_token(client)  # the login page itself still works
