"""操作日志: admins only; what staff did appears with labels, links to the record and the IP;
filters; paging; the Excel export carries the filtered rows and is itself logged."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from models import Recipient
from models import OutboxStatus
from models.staff_account import AuditEntry, StaffAccount
from services import audit, outbox
from tests.console_kit import NOW, add_staff, post



def failed_push(sessions, key="audit:1") -> int:
    with sessions.begin() as s:
        row = outbox.enqueue(s, kind="request_update", recipient=Recipient.person("oSomebody0001"), payload={"text": "进度"},
                             idempotency_key=key)
        outbox.transition(s, row, OutboxStatus.FAILED, NOW, errcode=45015)
        return row.id


def entries_on(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in html else ""
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_only_admins_see_the_audit_log(settings, console):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    add_staff(sessions, "clerk", "officer")
    add_staff(sessions, "look", "viewer")
    assert client_for("boss").get("/console/audit").status_code == 200
    for username in ("clerk", "look"):
        client = client_for(username)
        assert client.get("/console/audit").status_code == 403
        assert client.get("/console/audit/export.xlsx").status_code == 403
        assert "操作日志" not in client.get("/console/").get_data(as_text=True)


def test_actions_appear_with_labels_links_and_ip(settings, console):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    target = failed_push(sessions)
    client = client_for("boss")
    post(client, f"/console/deliveries/{target}/retry", token_from=f"/console/deliveries/{target}",
         environ_base={"REMOTE_ADDR": "10.1.2.3"})
    rows = entries_on(client.get("/console/audit").get_data(as_text=True))
    newest = rows[0]
    assert "重发消息" in newest and "boss" in newest and "10.1.2.3" in newest
    assert f'推送消息 <a href="/console/deliveries/{target}">{target}</a>' in newest
    assert any("登录" in row for row in rows[1:])  # the sign-in is logged too, older


def test_record_links_for_requests_and_registrations(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    boss = add_staff(sessions, "boss", "admin")
    with sessions.begin() as s:
        account = s.get(StaffAccount, boss)
        for subject, subject_id, action in (("help_request", 11, "request.accept"), ("volunteer", 12, "registration.approve"),
                                            ("beneficiary", 13, "reveal")):
            audit.record(s, account, action, subject=subject, subject_id=subject_id, detail="mobile", ip="10.0.0.9",
                         at=NOW - timedelta(minutes=subject_id))
    html = client_for("boss").get("/console/audit").get_data(as_text=True)
    assert '求助 <a href="/console/requests/11">11</a>' in html
    assert '志愿者 <a href="/console/registrations/volunteer/12">12</a>' in html
    assert '优抚对象 <a href="/console/registrations/beneficiary/13">13</a>' in html
    assert "受理求助" in html and "通过审核" in html and "查看完整信息" in html
    assert "2026-12-01 09:49" in html  # Shanghai time, one style


def test_filters_by_account_action_subject_and_date(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    ids = {name: add_staff(sessions, name, role) for name, role in (("boss", "admin"), ("clerk", "officer"))}
    with sessions.begin() as s:
        boss, clerk = s.get(StaffAccount, ids["boss"]), s.get(StaffAccount, ids["clerk"])
        audit.record(s, clerk, "request.accept", subject="help_request", subject_id=1, at=NOW - timedelta(days=3))
        audit.record(s, clerk, "request.resolve", subject="help_request", subject_id=1, at=NOW - timedelta(days=1))
        audit.record(s, boss, "outbox.cancel", subject="outbox", subject_id=5, at=NOW - timedelta(hours=1))
        audit.record(s, clerk, "registration.approve", subject="volunteer", subject_id=1, at=NOW - timedelta(days=10))
    client = client_for("boss")

    def rows(query):
        html = client.get(f"/console/audit{query}").get_data(as_text=True)
        return entries_on(html), html

    found, html = rows("?account=clerk")
    assert len(found) == 3 and all("clerk" in r for r in found)
    assert '<option value="clerk" selected>' in html  # the filter is kept
    found, _ = rows("?action=request.resolve")
    assert len(found) == 1 and "办结求助" in found[0]
    found, _ = rows("?subject=help_request&subject_id=1")
    assert len(found) == 2
    found, _ = rows("?since=2026-11-28&until=2026-11-30")  # Shanghai days, both included
    assert len(found) == 2 and "受理求助" in found[1] and "办结求助" in found[0]
    found, _ = rows("?account=clerk&since=2026-11-25")
    assert [("办结求助" in r, "受理求助" in r) for r in found] == [(True, False), (False, True)]  # newest first
    found, _ = rows("?action=bogus&subject_id=abc&since=not-a-day")  # bad values are ignored
    assert len(found) >= 4


def test_paging(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    boss = add_staff(sessions, "boss", "admin")
    with sessions.begin() as s:
        account = s.get(StaffAccount, boss)
        for n in range(60):
            audit.record(s, account, "export", subject="help_request", detail=f"求助列表：{n} 行", at=NOW - timedelta(minutes=n))
    html = client_for("boss").get("/console/audit?action=export&page=2").get_data(as_text=True)
    assert "共60条，第51–60条" in html and len(entries_on(html)) == 10
    assert "/console/audit?action=export&amp;page=1" in html


def test_export_carries_the_filtered_rows_and_is_logged(settings, console):
    app, sessions, client_for = console(settings.database_url)
    boss = add_staff(sessions, "boss", "admin")
    with sessions.begin() as s:
        account = s.get(StaffAccount, boss)
        audit.record(s, account, "request.accept", subject="help_request", subject_id=7, ip="10.0.0.1", at=NOW)
        audit.record(s, account, "outbox.retry", subject="outbox", subject_id=3, ip="10.0.0.1", at=NOW)
    client = client_for("boss")
    assert "/console/audit/export.xlsx?action=request.accept" in client.get(
        "/console/audit?action=request.accept").get_data(as_text=True)
    response = client.get("/console/audit/export.xlsx?action=request.accept")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["时间", "账号", "操作", "对象", "对象编号", "说明", "IP"]
    assert values[1:] == [["2026-12-01 10:00", "boss", "受理求助", "求助", 7, None, "10.0.0.1"]]
    with sessions() as s:
        logged = s.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
        assert logged.subject == "audit_log" and "1行" in logged.detail and "action=request.accept" in logged.detail
    assert "导出" in entries_on(client.get("/console/audit").get_data(as_text=True))[0]
