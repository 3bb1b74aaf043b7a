"""The console against hostile data and for the person's rights (issue 12): stored XSS in every
user-supplied field renders escaped on every page and export; a missing CSRF token is refused;
cookies are HttpOnly, SameSite and Secure over HTTPS; staff carry out an export or a deletion,
audited."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from models.staff_account import AuditEntry
from models.volunteer import Volunteer, VolunteerStatus
from services import beneficiaries, handover, help_requests, volunteers
from services.beneficiaries import BeneficiaryDetails
from services.help_requests import RequestDetails
from services.volunteers import VolunteerDetails
from tests.console_kit import NOW, PASSWORD, add_staff, csrf_token, post

PAYLOADS = {
    "volunteer name": '<script>alert("v")</script>',
    "beneficiary name": "<img src=x onerror=alert(1)>",
    "address": '"><svg onload=alert(2)>',
    "description": "<iframe src=javascript:alert(3)>",
    "contact name": "</td><script>c()</script>",
    "note": "<b onmouseover=alert(4)>备注</b>",
    "handover text": "<script>h()</script>",
}
FORMULA = '=HYPERLINK("http://evil.example","点我")'


def _hostile_world(sessions):
    with sessions.begin() as s:
        v = volunteers.register(s, "oXss0000000001", VolunteerDetails(
            PAYLOADS["volunteer name"], "13912345678", "城关镇", "河口村", ["repair"], "weekend"), NOW)
        b = beneficiaries.register(s, "oXss0000000002", BeneficiaryDetails(
            "self", PAYLOADS["beneficiary name"], ["MARTYR_F"], "13800001111", "城关镇", "河口村",
            PAYLOADS["address"], "32010219450101123X"), NOW)
        r = help_requests.submit(s, "oXss0000000003", RequestDetails(
            "housing", PAYLOADS["description"], "normal", "family", PAYLOADS["contact name"], "13811110000",
            town="城关镇"), NOW)
        help_requests.add_note(s, r, PAYLOADS["note"], NOW, actor="test")
        f = help_requests.submit(s, "oXss0000000005", RequestDetails(
            "life", "formula", "normal", "self", FORMULA, "13811112222", town="城关镇"), NOW)
        thread, _ = handover.open_thread(s, "oXss0000000004", NOW, during=None, contact={}, town="城关镇")
        handover.record_incoming(s, thread, NOW, msg_type="text", text=PAYLOADS["handover text"])
        return {"volunteer": v.id, "beneficiary": b.id, "request": r.id, "thread": thread.id, "formula": f.id}


def test_stored_xss_renders_escaped_everywhere(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    ids = _hostile_world(sessions)
    add_staff(sessions, "boss", "admin")
    admin = client_for("boss")
    pages = [
        "/console/", "/console/requests", f"/console/requests/{ids['request']}",
        "/console/registrations?kind=volunteer&status=all", f"/console/registrations/volunteer/{ids['volunteer']}",
        "/console/registrations?kind=beneficiary&status=all", f"/console/registrations/beneficiary/{ids['beneficiary']}",
        "/console/handover", f"/console/handover/{ids['thread']}", "/console/audit",
    ]
    tried = 0
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        for field, payload in PAYLOADS.items():
            tried += 1
            assert payload not in html, f"{field} unescaped on {path}"
    # Where the full value is shown, it is shown escaped (not dropped).
    detail = admin.get(f"/console/registrations/volunteer/{ids['volunteer']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;v&#34;)&lt;/script&gt;" in detail
    thread = admin.get(f"/console/handover/{ids['thread']}").get_data(as_text=True)
    assert "&lt;script&gt;h()&lt;/script&gt;" in thread
    # The spreadsheet export: no cell is a formula.
    book = load_workbook(BytesIO(admin.get("/console/requests/export.xlsx").data))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    # The personal-data copy is plain text, never sniffed as HTML.
    copy = post(admin, f"/console/registrations/volunteer/{ids['volunteer']}/personal-data/export")
    assert copy.mimetype == "text/plain" and copy.headers["X-Content-Type-Options"] == "nosniff"
    assert tried == len(pages) * len(PAYLOADS)


def test_a_missing_or_wrong_csrf_token_is_refused(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    ids = _hostile_world(sessions)
    add_staff(sessions, "boss", "admin")
    admin = client_for("boss")
    for path in (f"/console/requests/{ids['request']}/note", f"/console/registrations/volunteer/{ids['volunteer']}/personal-data/erase"):
        for data in ({"note": "x", "confirm": "确认删除"}, {"note": "x", "confirm": "确认删除", "csrf_token": "forged"}):
            assert admin.post(path, data=data).status_code == 400
    with sessions() as s:
        assert s.get(Volunteer, ids["volunteer"]).name == PAYLOADS["volunteer name"]


def test_cookies_are_httponly_samesite_and_secure_over_https(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/console/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token},
                           base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_staff_carry_out_an_export_and_a_deletion_audited(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    with sessions.begin() as s:
        v = volunteers.register(s, "oRights0000001", VolunteerDetails(
            "周秀兰", "13912340000", "城关镇", "河口村", ["care"], "any"), NOW)
        help_requests.submit(s, "oRights0000001", RequestDetails(
            "life", "想请人帮忙买药", "normal", "self", "周秀兰", "13912340000", town="城关镇"), NOW)
        volunteer_id = v.id
    add_staff(sessions, "clerk", "officer")
    add_staff(sessions, "boss", "admin")
    officer, admin = client_for("clerk"), client_for("boss")
    detail = f"/console/registrations/volunteer/{volunteer_id}"

    copy = post(officer, f"{detail}/personal-data/export", token_from=detail)
    text = copy.get_data(as_text=True)
    assert copy.status_code == 200 and copy.headers["Cache-Control"] == "no-store"
    assert "attachment" in copy.headers["Content-Disposition"]
    for expected in ("姓名：周秀兰；手机：13912340000", "【求助】共1件", "想请人帮忙买药", "【同意】志愿者报名告知书2026-1版"):
        assert expected in text
    assert post(officer, f"{detail}/personal-data/erase", {"confirm": "确认删除"}, token_from=detail).status_code == 403

    refused = post(admin, f"{detail}/personal-data/erase", {"confirm": "确认"}, token_from=detail)
    assert refused.status_code == 400 and "请输入“确认删除”四个字后再删除。" in refused.get_data(as_text=True)
    done = post(admin, f"{detail}/personal-data/erase", {"confirm": "确认删除"}, token_from=detail)
    assert done.status_code == 302
    with sessions() as s:
        v = s.get(Volunteer, volunteer_id)
        assert (v.name, v.mobile, v.openid, v.status) == ("（已删除）", None, None, VolunteerStatus.WITHDRAWN)
        trail = [(e.staff_username, e.action, e.subject, e.subject_id)
                 for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("personal.%")).order_by(AuditEntry.id))]
        assert trail == [("clerk", "personal.export", "volunteer", volunteer_id),
                         ("boss", "personal.erase", "volunteer", volunteer_id)]
        assert "周秀兰" not in repr([e.detail for e in s.scalars(select(AuditEntry))])


def test_an_admin_erases_a_registration_and_the_registrants_other_records(console, sqlite_url):
    from models.beneficiary import Beneficiary, RegistrationStatus
    from models.help_request import HelpRequest

    app, sessions, client_for = console(sqlite_url)
    with sessions.begin() as s:
        b = beneficiaries.register(s, "oRights0000002", BeneficiaryDetails(
            "child", "郑玉兰", ["DISABLED"], "13800002222", "城关镇", "河口村", "河口村1组2号", None), NOW)
        help_requests.submit(s, "oRights0000002", RequestDetails(
            "life", "需要轮椅", "normal", "family", "郑玉兰", "13800002222", town="城关镇"), NOW)
        person_id = b.id
    add_staff(sessions, "boss", "admin")
    admin = client_for("boss")
    detail = f"/console/registrations/beneficiary/{person_id}"
    done = post(admin, f"{detail}/personal-data/erase", {"confirm": "确认删除"}, token_from=detail)
    assert done.status_code == 302
    assert "同一微信用户的其他登记和求助也已一并删除。" in admin.get(done.headers["Location"]).get_data(as_text=True)
    with sessions() as s:
        person = s.get(Beneficiary, person_id)
        assert (person.name, person.mobile, person.status) == ("（已删除）", None, RegistrationStatus.ERASED)
        assert person.household.address is None
        assert [(r.openid, r.description) for r in s.scalars(select(HelpRequest))] == [(None, None)]
        assert [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "personal.erase"))] == ["personal.erase"]
    assert post(admin, f"{detail}/personal-data/erase", {"confirm": "确认删除"}, token_from="/console/").status_code == 409
