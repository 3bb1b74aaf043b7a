"""登记审核 in the console: pending lists, area scope, duplicates, evidence, 通过/核实 and 不通过."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from models import OutboxMessage
from models.beneficiary import Beneficiary, RegistrationStatus
from models.staff_account import AuditEntry
from models.status_event import StatusEvent
from models.volunteer import Volunteer, VolunteerStatus
from services import beneficiaries, registration_queries, volunteers
from services.beneficiaries import BeneficiaryDetails
from services.volunteers import VolunteerDetails
from tests.conftest import make_settings
from tests.console_kit import NOW, add_staff, post, runtime_of, sign_in

LIST = "/console/registrations"


@pytest.fixture
def app(apps, sqlite_url, tmp_path):
    built = apps(make_settings(sqlite_url, tmp_path))
    runtime_of(built).clock = lambda: NOW
    return built


@pytest.fixture
def app_on_both(apps, settings):
    built = apps(settings)
    runtime_of(built).clock = lambda: NOW
    return built


def sessions_of(app):
    return runtime_of(app).sessions


def add_volunteer(app, openid, name, mobile, *, town="城关镇", village="河口村", days_ago=2, skills=("repair", "care")):
    with sessions_of(app).begin() as session:
        details = VolunteerDetails(name, mobile, town, village, list(skills), "weekend")
        return volunteers.register(session, openid, details, NOW - timedelta(days=days_ago)).id


def add_beneficiary(app, openid, name, mobile, *, id_number=None, town="城关镇", village="河口村",
                    address="河口村3组12号", categories=("MARTYR_F",), relation="child", days_ago=2):
    with sessions_of(app).begin() as session:
        details = BeneficiaryDetails(relation, name, list(categories), mobile, town, village, address, id_number)
        return beneficiaries.register(session, openid, details, NOW - timedelta(days=days_ago)).id


def officer(app, username="clerk", town=None, role="officer"):
    add_staff(sessions_of(app), username, role=role, town=town)
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def rows(app, model, *where):
    with sessions_of(app)() as session:
        return list(session.scalars(select(model).where(*where)))


def audit_rows(app, action):
    return rows(app, AuditEntry, AuditEntry.action == action)


def outbox_rows(app):
    return rows(app, OutboxMessage)


# --- lists ---------------------------------------------------------------------


def test_pending_volunteers_are_listed_oldest_first_masked_with_labels(app_on_both):
    older = add_volunteer(app_on_both, "oVolOld0001", "张伟民", "13912345678", days_ago=5)
    newer = add_volunteer(app_on_both, "oVolNew0001", "李秀英", "13800001111", days_ago=1, skills=("medical",))
    approved = add_volunteer(app_on_both, "oVolDone001", "王建国", "13700002222", days_ago=9)
    with sessions_of(app_on_both).begin() as session:
        volunteers.approve(session, session.get(Volunteer, approved), NOW, actor="staff:x")
    client = officer(app_on_both)

    html = client.get(LIST).get_data(as_text=True)
    assert "ZY2026-0001" in html and "ZY2026-0002" in html
    assert html.index("张*民") < html.index("李*英")  # oldest first
    assert "王*国" not in html  # 待审核 by default
    html = client.get(LIST + "?kind=volunteer&order=newest").get_data(as_text=True)
    assert html.index("李*英") < html.index("张*民")
    assert "张伟民" not in html and "13912345678" not in html  # masked in the list
    assert "维修、陪护" in html and "医疗" in html and "周末" in html and "城关镇 河口村" in html
    assert f"/console/registrations/volunteer/{older}" in html and f"/console/registrations/volunteer/{newer}" in html

    html = client.get(LIST + "?kind=volunteer&status=approved").get_data(as_text=True)
    assert "王*国" in html and "张*民" not in html
    html = client.get(LIST + "?kind=volunteer&status=all").get_data(as_text=True)
    assert all(name in html for name in ("王*国", "张*民", "李*英"))


def test_beneficiary_tab_shows_relation_categories_and_area(app):
    add_beneficiary(app, "oFamily0001", "李秀英", "13600003333", id_number="320102195001011234",
                    categories=("MARTYR_F", "VETERAN"), relation="child", village="柳营村")
    client = officer(app)
    html = client.get(LIST + "?kind=beneficiary").get_data(as_text=True)
    assert "YF2026-0001" in html and "李*英" in html
    assert "子女" in html and "烈士遗属、退役军人" in html and "城关镇 柳营村" in html
    assert "MARTYR_F" not in html and "320102195001011234" not in html
    assert 'aria-current="page">优抚对象' in html


def test_filters_by_town_and_pages_keep_the_filter(app):
    for n in range(3):
        add_volunteer(app, f"oVolC{n:06d}", "张伟民", f"1391234{n:04d}", days_ago=10 - n)
    add_volunteer(app, "oVolQ0000001", "赵青石", "13511112222", town="青石镇", village="石桥村")
    client = officer(app)
    html = client.get(LIST + "?kind=volunteer&town=青石镇").get_data(as_text=True)
    assert "赵*石" in html and "张*民" not in html and "共1条" in html
    assert "town=%E9%9D%92%E7%9F%B3%E9%95%87" in html  # detail links keep the list's filter (for 下一条)


def test_township_officer_sees_own_area_only_and_gets_404_elsewhere(app):
    here = add_volunteer(app, "oVolHere001", "赵青石", "13511112222", town="青石镇", village="石桥村")
    there = add_volunteer(app, "oVolThere01", "张伟民", "13912345678", town="城关镇")
    person_there = add_beneficiary(app, "oFamThere01", "李秀英", "13600003333", town="城关镇")
    client = officer(app, "qingshi", town="青石镇")

    html = client.get(LIST).get_data(as_text=True)
    assert "赵*石" in html and "张*民" not in html
    assert "李*英" not in client.get(LIST + "?kind=beneficiary").get_data(as_text=True)
    assert client.get(f"/console/registrations/volunteer/{here}").status_code == 200
    assert client.get(f"/console/registrations/volunteer/{there}").status_code == 404
    assert client.get(f"/console/registrations/beneficiary/{person_there}").status_code == 404
    token_page = f"/console/registrations/volunteer/{here}"
    assert post(client, f"/console/registrations/volunteer/{there}/approve", token_from=token_page).status_code == 404
    assert rows(app, Volunteer, Volunteer.id == there)[0].status == VolunteerStatus.PENDING


# --- duplicates ------------------------------------------------------------------


def test_same_phone_across_a_volunteer_and_a_beneficiary_is_flagged_on_both_sides(app):
    volunteer = add_volunteer(app, "oVolDup0001", "张伟民", "13912345678")
    person = add_beneficiary(app, "oFamDup0001", "张伟民", "13912345678", relation="self")
    add_volunteer(app, "oVolOther01", "李秀英", "13800001111")
    client = officer(app)

    html = client.get(LIST + "?kind=volunteer").get_data(as_text=True)
    assert html.count("同一手机号") == 1
    assert f"/console/registrations/beneficiary/{person}" in html and "YF2026-0001" in html
    html = client.get(LIST + "?kind=beneficiary").get_data(as_text=True)
    assert "同一手机号" in html and "ZY2026-0001" in html
    detail = client.get(f"/console/registrations/volunteer/{volunteer}").get_data(as_text=True)
    assert "同一手机号" in detail and "YF2026-0001" in detail and "待核实" in detail


def test_same_id_number_and_same_household_are_flagged(app):
    first = add_beneficiary(app, "oFamA000001", "李秀英", "13600003333", id_number="320102195001011234",
                            address="河口村3组12号")
    add_beneficiary(app, "oFamB000001", "李秀英", "13600004444", id_number="320102195001011234",
                    address="河口村5组1号")
    add_beneficiary(app, "oFamC000001", "王建国", "13600005555", address="河口村3组12号")
    # The same address in another village is another household.
    add_beneficiary(app, "oFamD000001", "陈小红", "13600006666", address="河口村3组12号", village="柳营村")
    client = officer(app)

    html = client.get(f"/console/registrations/beneficiary/{first}").get_data(as_text=True)
    assert "同一身份证号" in html and "YF2026-0002" in html
    assert "同一户" in html and "YF2026-0003" in html
    assert "YF2026-0004" not in html
    listing = client.get(LIST + "?kind=beneficiary").get_data(as_text=True)
    assert listing.count("同一身份证号") == 2 and listing.count("同一户") == 2


def test_duplicates_of_a_page_take_a_few_queries_not_one_per_row(app):
    for n in range(20):
        add_volunteer(app, f"oVolN{n:06d}", "张伟民", f"1391234{n % 5:04d}")
        add_beneficiary(app, f"oFamN{n:06d}", "李秀英", f"1391234{n % 5:04d}", id_number=f"3201021950010{n % 3:05d}")
    engine = runtime_of(app).engine
    statements = []

    def count(*_args):
        statements.append(1)

    with sessions_of(app)() as session:
        people, _ = registration_queries.listing(session, "beneficiary", status=RegistrationStatus.PENDING)
        vols, _ = registration_queries.listing(session, "volunteer", status=VolunteerStatus.PENDING)
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = registration_queries.duplicates(session, volunteers=vols, beneficiaries=people)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 4
    assert len(found[("beneficiary", people[0].id)]) > 5


# --- evidence and reveal -------------------------------------------------------------


def test_beneficiary_detail_shows_the_evidence_masked_and_reveal_is_audited(app):
    person = add_beneficiary(app, "oFamily0001", "李秀英", "13600003333", id_number="320102195001011234",
                             categories=("MARTYR_F", "VETERAN"), relation="child", address="河口村3组12号")
    with sessions_of(app).begin() as session:
        session.get(Beneficiary, person).statuses[0].evidence_ref = "烈士证 No.2026-018"
    client = officer(app)
    page = f"/console/registrations/beneficiary/{person}"
    html = client.get(page).get_data(as_text=True)
    assert "李秀英" in html and "子女" in html and "烈士遗属" in html and "退役军人" in html
    assert "河口村3组12号" in html and "烈士证 No.2026-018" in html
    assert "136****3333" in html and "3201**********1234" in html
    assert "13600003333" not in html and "320102195001011234" not in html
    assert "提交登记" in html  # the status timeline

    shown = post(client, page + "/reveal", {"what": "id_number"}, token_from=page)
    assert shown.status_code == 200 and "320102195001011234" in shown.get_data(as_text=True)
    shown = post(client, page + "/reveal", {"what": "mobile"}, token_from=page)
    assert "13600003333" in shown.get_data(as_text=True)
    entries = audit_rows(app, "reveal")
    assert [(e.subject, e.subject_id, e.detail) for e in entries] == [
        ("beneficiary", person, "id_number"), ("beneficiary", person, "mobile")]
    assert "13600003333" not in client.get(page).get_data(as_text=True)  # masked again afterwards


def test_volunteer_phone_reveal_is_audited(app):
    volunteer = add_volunteer(app, "oVolRev0001", "张伟民", "13912345678")
    client = officer(app)
    page = f"/console/registrations/volunteer/{volunteer}"
    assert "139****5678" in client.get(page).get_data(as_text=True)
    shown = post(client, page + "/reveal", {"what": "mobile"}, token_from=page)
    assert "13912345678" in shown.get_data(as_text=True)
    [entry] = audit_rows(app, "reveal")
    assert (entry.subject, entry.subject_id, entry.detail, entry.staff_username) == (
        "volunteer", volunteer, "mobile", "clerk")


# --- decisions -----------------------------------------------------------------------


def test_approve_tells_the_volunteer_audits_and_moves_to_the_next_pending(app_on_both):
    first = add_volunteer(app_on_both, "oVolFirst01", "张伟民", "13912345678", days_ago=3)
    second = add_volunteer(app_on_both, "oVolSecond1", "李秀英", "13800001111", days_ago=1)
    client = officer(app_on_both)
    page = f"/console/registrations/volunteer/{first}"
    with sessions_of(app_on_both)() as session:
        expected = volunteers.approve_notice(session.get(Volunteer, first))
    assert expected in client.get(page).get_data(as_text=True)  # the exact message, before sending

    response = post(client, page + "/approve", token_from=page)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/console/registrations/volunteer/{second}")
    [volunteer] = rows(app_on_both, Volunteer, Volunteer.id == first)
    assert volunteer.status == VolunteerStatus.APPROVED
    [message] = outbox_rows(app_on_both)
    assert (message.kind, message.recipient, message.payload["text"]) == ("registration_result", "oVolFirst01", expected)
    [entry] = audit_rows(app_on_both, "registration.approve")
    assert (entry.subject, entry.subject_id, entry.staff_username) == ("volunteer", first, "clerk")
    assert "已通过ZY2026-0001" in client.get(response.headers["Location"]).get_data(as_text=True)

    # A second click (another tab) is refused with the workflow's words, nothing sent twice.
    again = post(client, page + "/approve", token_from=page, follow_redirects=True)
    assert again.status_code == 200 and "当前状态为“已通过”，不能改为“已通过”。" in again.get_data(as_text=True)
    assert len(outbox_rows(app_on_both)) == 1 and len(audit_rows(app_on_both, "registration.approve")) == 1

    # The last pending one: back to the list, which says so.
    done = post(client, f"/console/registrations/volunteer/{second}/approve", token_from=page, follow_redirects=True)
    assert "这一类登记都已审核完" in done.get_data(as_text=True)


def test_reject_needs_a_reason_and_keeps_what_was_typed(app):
    volunteer = add_volunteer(app, "oVolRej0001", "张伟民", "13912345678")
    client = officer(app)
    page = f"/console/registrations/volunteer/{volunteer}"

    empty = post(client, page + "/reject", {"reason": "  "}, token_from=page)
    assert empty.status_code == 400
    assert "请填写未通过的原因" in empty.get_data(as_text=True)
    long_reason = "不" * 301
    too_long = post(client, page + "/reject", {"reason": long_reason}, token_from=page)
    html = too_long.get_data(as_text=True)
    assert too_long.status_code == 400 and "原因太长了" in html and long_reason in html  # typed text kept
    assert rows(app, Volunteer)[0].status == VolunteerStatus.PENDING
    assert outbox_rows(app) == [] and audit_rows(app, "registration.reject") == []
    assert [e.to_status for e in rows(app, StatusEvent)] == ["pending"]

    done = post(client, page + "/reject", {"reason": "手机号无法接通，请核对后重新报名"}, token_from=page)
    assert done.status_code == 302
    [row] = rows(app, Volunteer)
    assert row.status == VolunteerStatus.REJECTED
    [message] = outbox_rows(app)
    assert message.payload["text"] == volunteers.reject_notice(row, "手机号无法接通，请核对后重新报名")
    [entry] = audit_rows(app, "registration.reject")
    assert (entry.subject, entry.subject_id, entry.detail) == ("volunteer", volunteer, None)  # no reason in the log
    assert "手机号无法接通" in client.get(page).get_data(as_text=True)  # the reason on the timeline


def test_verify_and_reject_a_beneficiary_tell_the_registrant(app):
    first = add_beneficiary(app, "oFamily0001", "李秀英", "13600003333", days_ago=3)
    second = add_beneficiary(app, "oFamily0002", "王建国", "13600004444", days_ago=1)
    client = officer(app)
    page = f"/console/registrations/beneficiary/{first}"
    response = post(client, page + "/verify", token_from=page)
    assert response.headers["Location"].startswith(f"/console/registrations/beneficiary/{second}")
    assert rows(app, Beneficiary, Beneficiary.id == first)[0].status == RegistrationStatus.VERIFIED

    reason = "未查到烈士证明材料，请带原件到服务站"
    page = f"/console/registrations/beneficiary/{second}"
    assert post(client, page + "/reject", {"reason": ""}, token_from=page).status_code == 400
    post(client, page + "/reject", {"reason": reason}, token_from=page)
    [person] = rows(app, Beneficiary, Beneficiary.id == second)
    assert person.status == RegistrationStatus.REJECTED
    sent = {m.recipient: m for m in outbox_rows(app)}
    assert sent["oFamily0001"].payload["text"] == beneficiaries.verify_notice(rows(app, Beneficiary)[0])
    assert sent["oFamily0002"].payload["text"] == beneficiaries.reject_notice(person, reason)
    assert {m.kind for m in sent.values()} == {"registration_result"}
    assert [(e.action, e.subject, e.subject_id) for e in rows(app, AuditEntry, AuditEntry.action.like("registration.%"))] \
        == [("registration.approve", "beneficiary", first), ("registration.reject", "beneficiary", second)]


def test_viewer_sees_but_cannot_act_or_reveal(app):
    volunteer = add_volunteer(app, "oVolView001", "张伟民", "13912345678")
    person = add_beneficiary(app, "oFamView001", "李秀英", "13600003333", id_number="320102195001011234")
    client = officer(app, "reader", role="viewer")
    page = f"/console/registrations/volunteer/{volunteer}"
    html = client.get(page).get_data(as_text=True)
    assert "只能查看" in html and "显示完整号码" not in html and "/approve" not in html
    for path, data in ((page + "/approve", {}), (page + "/reject", {"reason": "x"}),
                       (page + "/reveal", {"what": "mobile"}),
                       (f"/console/registrations/beneficiary/{person}/verify", {}),
                       (f"/console/registrations/beneficiary/{person}/reveal", {"what": "id_number"})):
        assert post(client, path, data, token_from=page).status_code == 403, path
    assert rows(app, Volunteer)[0].status == VolunteerStatus.PENDING
    assert outbox_rows(app) == [] and audit_rows(app, "reveal") == []


def test_signed_out_is_sent_to_login(app):
    response = app.test_client().get(LIST)
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
