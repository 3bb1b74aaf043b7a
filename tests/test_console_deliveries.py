"""推送记录: recipients by masked name (never an openid), errcodes in words, filters, a short text
in the list and the whole text with its history on the row's page, retry and cancel (audited), roles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Recipient
from models import Channel, OutboxEvent, OutboxMessage, OutboxStatus
from models.staff_account import AuditEntry, StaffAccount
from services import beneficiaries, delivery_log, outbox, volunteers
from services.beneficiaries import BeneficiaryDetails
from services.delivery_policy import POLICIES
from services.volunteers import VolunteerDetails
from tests.console_kit import NOW, add_staff, post

VOLUNTEER, RELATIVE, STAFF_WX, STRANGER = "oVolunteerZhang01", "oRelativeLi00001", "oStaffWang000001", "oStranger0000001"
OPENIDS = (VOLUNTEER, RELATIVE, STAFF_WX, STRANGER)
LONG_TEXT = "您的求助SY2026-000001 已受理，工作人员王明将于明天上午联系您，电话13912345678，请保持电话畅通。谢谢！"



def add(s, to, kind="request_update", text="进度通知", status=OutboxStatus.PENDING, errcode=None,
        errmsg=None, channel=None, key=None):
    recipient = to if isinstance(to, Recipient) else Recipient.person(to)
    row = outbox.enqueue(s, kind=kind, recipient=recipient, payload={"text": text}, channel=channel,
                         idempotency_key=key or f"test:{kind}:{recipient}:{status}:{errcode}:{text[:8]}")
    if status != OutboxStatus.PENDING:
        outbox.transition(s, row, status, NOW, errcode=errcode, note=f"errcode {errcode}: test" if errcode else errmsg)
    row.last_errcode, row.last_errmsg = errcode, errmsg
    row.created_at = NOW - timedelta(minutes=1)
    return row


@pytest.fixture
def people():
    """A volunteer, a relative who registered a 优抚对象, a staff member linked to WeChat, a stranger."""
    def fill(sessions):
        with sessions.begin() as s:
            volunteers.register(s, VOLUNTEER, VolunteerDetails(name="张三丰", mobile="13900001111", town="东镇",
                                                               village="一村", skills=[], availability="weekend"), NOW)
            beneficiaries.register(s, RELATIVE, BeneficiaryDetails(
                relation="child", name="李四光", categories=["VETERAN"], mobile="13800002222", town="东镇",
                village="一村", address="虚构路1号", id_number=None), NOW)
        add_staff(sessions, "wang", "officer", display_name="王建国")
        with sessions.begin() as s:
            s.scalars(select(StaffAccount).where(StaffAccount.username == "wang")).one().wechat_openid = STAFF_WX
    return fill


@pytest.fixture
def rows():
    def fill(sessions):
        with sessions.begin() as s:
            made = {
                "volunteer": add(s, VOLUNTEER, "volunteer_task", LONG_TEXT, OutboxStatus.FAILED, errcode=45015),
                "relative": add(s, RELATIVE, "registration_result", "审核通过", OutboxStatus.FAILED, errcode=43004),
                "staff": add(s, STAFF_WX, "staff_digest", "今日待办", OutboxStatus.SENT),
                "stranger": add(s, STRANGER, "request_update", "已办结", OutboxStatus.FAILED, errcode=99999),
                "all": add(s, Recipient.everyone(), "publicity", "八一建军节宣传", OutboxStatus.HELD),
                "tag": add(s, Recipient.tag(7), "publicity", "退役军人政策宣传"),
                "role": add(s, Recipient.role("staff"), "staff_alert", "紧急求助", OutboxStatus.FAILED,
                            errmsg="no openids for role:staff: link a console account to WeChat"),
            }
            return {name: row.id for name, row in made.items()}
    return fill


def _row_of(html: str, outbox_id: int) -> str:
    match = re.search(rf'<tr>((?:(?!</tr>).)*?/console/deliveries/{outbox_id}[?"](?:(?!</tr>).)*)</tr>', html, re.S)
    assert match, f"row {outbox_id} not on the page"
    return match.group(1)


def test_recipients_are_masked_names_and_never_openids(settings, console, people, rows):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    client = client_for("boss")
    html = client.get("/console/deliveries").get_data(as_text=True)
    assert "张*丰（志愿者）" in _row_of(html, ids["volunteer"]).replace('<span class="muted">', "").replace("</span>", "")
    assert "李*光" in _row_of(html, ids["relative"]) and "代登记人" in _row_of(html, ids["relative"])
    assert "王*国" in _row_of(html, ids["staff"])
    assert "未登记用户" in _row_of(html, ids["stranger"])
    assert "全体关注者" in _row_of(html, ids["all"])
    assert "标签7" in _row_of(html, ids["tag"])
    assert "工作人员" in _row_of(html, ids["role"])
    for name in ("张三丰", "李四光", "王建国"):
        assert name not in html
    for outbox_id in ids.values():
        page = client.get(f"/console/deliveries/{outbox_id}").get_data(as_text=True)
        assert not any(openid in page for openid in OPENIDS)
    assert not any(openid in html for openid in OPENIDS)


def test_labels_and_errcodes_in_words(sqlite_url, console, people, rows):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    html = client_for("boss").get("/console/deliveries").get_data(as_text=True)
    volunteer = _row_of(html, ids["volunteer"])
    assert "志愿者任务" in volunteer and "客服消息" in volunteer and "失败" in volunteer
    assert "超过48小时未互动，无法发客服消息" in volunteer
    assert "对方已取消关注" in _row_of(html, ids["relative"])
    assert "错误码99999" in _row_of(html, ids["stranger"])
    assert "没有绑定微信的工作人员" in _row_of(html, ids["role"])
    assert "暂缓" in _row_of(html, ids["all"]) and "群发" in _row_of(html, ids["all"])
    assert "每日待办" in _row_of(html, ids["staff"]) and "已发送" in _row_of(html, ids["staff"])
    for code in ("volunteer_task", "registration_result", "staff_digest", "publicity", "customer_service"):
        assert f">{code}<" not in html  # labels, never codes


def test_every_message_kind_and_errcode_has_words():
    assert set(POLICIES) <= set(delivery_log.KIND_LABELS)
    assert delivery_log.errcode_words(40001) == "接口调用凭证无效"
    assert delivery_log.errcode_words(45015) == "超过48小时未互动，无法发客服消息"
    assert delivery_log.errcode_words(43004) == "对方已取消关注"
    assert delivery_log.errcode_words(12345) == "错误码12345"
    for code in (-1, 40014, 42001, 41001, 40013, 40125, 40164, 45009, 45011, 40003, 43019, 48002, 45047,
                 43101, 40037, 47003, 45028, 45065, 48001, 45103):  # wechat-platform.md §11
        assert not delivery_log.errcode_words(code).startswith("错误码")
    assert all(s in delivery_log.STATUS_LABELS for s in OutboxStatus)
    assert all(c in delivery_log.CHANNEL_LABELS for c in Channel)


def test_list_shows_only_the_start_of_the_text_and_the_row_page_all_of_it(sqlite_url, console, people, rows):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    client = client_for("boss")
    row = _row_of(client.get("/console/deliveries").get_data(as_text=True), ids["volunteer"])
    assert LONG_TEXT[:30] + "…" in row and LONG_TEXT[30:40] not in row
    page = client.get(f"/console/deliveries/{ids['volunteer']}").get_data(as_text=True)
    assert LONG_TEXT in page
    assert "加入发送队列" in page and "超过48小时未互动" in page  # the history, in words


def test_filters_and_newest_first(sqlite_url, console, people, rows):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    with sessions.begin() as s:
        old = add(s, STRANGER, "request_update", "去年的消息", key="test:old")
        old.created_at = NOW - timedelta(days=40)
    client = client_for("boss")

    def listed(query=""):
        html = client.get(f"/console/deliveries{query}").get_data(as_text=True)
        return [int(i) for i in re.findall(r'href="/console/deliveries/(\d+)\?[^"]*">详情', html)], html

    everything, html = listed()
    assert everything == sorted(everything, reverse=True) and len(everything) == 8
    assert "共8条" in html
    failed, _ = listed("?status=failed")
    assert set(failed) == {ids["volunteer"], ids["relative"], ids["stranger"], ids["role"]}
    assert listed("?kind=publicity")[0] == [ids["tag"], ids["all"]]
    held_mass, _ = listed("?status=held&channel=mass")
    assert held_mass == [ids["all"]]
    assert old.id not in listed("?since=2026-11-20")[0]
    assert listed("?until=2026-11-20")[0] == [old.id]
    both, html = listed("?status=failed&kind=volunteer_task")
    assert both == [ids["volunteer"]]
    assert '<option value="failed" selected>失败</option>' in html  # the filter is kept
    assert listed("?status=nonsense&since=yesterday")[0] == everything  # bad values are ignored


def test_paging_keeps_the_filters(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    with sessions.begin() as s:
        for n in range(55):
            add(s, STRANGER, "request_update", f"消息{n}", OutboxStatus.FAILED, errcode=45015, key=f"test:page:{n}")
    html = client_for("boss").get("/console/deliveries?status=failed&page=2").get_data(as_text=True)
    assert "共55条，第51–55条" in html
    assert "/console/deliveries?status=failed&amp;page=1" in html


def test_retry_moves_a_failed_row_to_pending_with_an_event_and_an_audit_row(settings, console, people, rows):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    client = client_for("boss")
    target = ids["volunteer"]
    response = post(client, f"/console/deliveries/{target}/retry", token_from=f"/console/deliveries/{target}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/console/deliveries/{target}")
    with sessions() as s:
        row = s.get(OutboxMessage, target)
        assert (row.status, row.attempts, row.last_errcode) == (OutboxStatus.PENDING, 0, None)
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id == target).order_by(OutboxEvent.id.desc())).first()
        assert (event.from_status, event.to_status, event.note) == ("failed", "pending", "requeued by an operator")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry")).one()
        assert (entry.staff_username, entry.subject, entry.subject_id) == ("boss", "outbox", target)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已重新排队" in page and "工作人员重发" in page

    # A second click (double submission) changes nothing and says why.
    again = post(client, f"/console/deliveries/{target}/retry", token_from=f"/console/deliveries/{target}")
    assert "只有失败、已取消或暂缓的消息可以重发" in client.get(again.headers["Location"]).get_data(as_text=True)
    with sessions() as s:
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry")).all()) == 1
        assert len(s.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id == target,
                                                       OutboxEvent.note == "requeued by an operator")).all()) == 1


def test_retry_from_the_list_returns_to_the_filtered_list(sqlite_url, console, people, rows):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    client = client_for("boss")
    html = client.get("/console/deliveries?status=failed").get_data(as_text=True)
    assert f'action="/console/deliveries/{ids["relative"]}/retry"' in html
    assert 'data-confirm="确定重新发送这条消息吗？"' in html
    response = post(client, f"/console/deliveries/{ids['relative']}/retry",
                    {"back": "/console/deliveries?status=failed"}, token_from="/console/deliveries?status=failed")
    assert response.headers["Location"].endswith("/console/deliveries?status=failed")
    detail = client.get(f"/console/deliveries/{ids['relative']}?back=/console/deliveries?status%3Dfailed").get_data(as_text=True)
    assert 'href="/console/deliveries?status=failed">← 返回推送记录' in detail
    elsewhere = client.get(f"/console/deliveries/{ids['relative']}?back=//example.com/").get_data(as_text=True)
    assert 'href="/console/deliveries">← 返回推送记录' in elsewhere and "example.com" not in elsewhere
    evil = post(client, f"/console/deliveries/{ids['stranger']}/retry", {"back": "https://example.com/"},
                token_from="/console/deliveries")
    assert evil.headers["Location"].endswith(f"/console/deliveries/{ids['stranger']}")


def test_cancel_stops_a_waiting_message_and_only_that(sqlite_url, console, people, rows):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    client = client_for("boss")
    page = client.get(f"/console/deliveries/{ids['tag']}").get_data(as_text=True)
    assert f'/console/deliveries/{ids["tag"]}/cancel"' in page and f'/console/deliveries/{ids["tag"]}/retry"' not in page
    response = post(client, f"/console/deliveries/{ids['tag']}/cancel", token_from=f"/console/deliveries/{ids['tag']}")
    assert response.status_code == 302
    with sessions() as s:
        assert s.get(OutboxMessage, ids["tag"]).status == OutboxStatus.CANCELLED
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id == ids["tag"]).order_by(OutboxEvent.id.desc())).first()
        assert (event.from_status, event.to_status) == ("pending", "cancelled")
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.cancel")).one().subject_id == ids["tag"]
    assert "已取消，不会再发送" in client.get(response.headers["Location"]).get_data(as_text=True)

    sent = post(client, f"/console/deliveries/{ids['staff']}/cancel", token_from="/console/deliveries")
    assert "只有等待发送或暂缓的消息可以取消" in client.get(sent.headers["Location"]).get_data(as_text=True)
    with sessions() as s:
        assert s.get(OutboxMessage, ids["staff"]).status == OutboxStatus.SENT
    # A cancelled message can be sent after all.
    post(client, f"/console/deliveries/{ids['tag']}/retry", token_from="/console/deliveries")
    with sessions() as s:
        assert s.get(OutboxMessage, ids["tag"]).status == OutboxStatus.PENDING


def test_officers_and_viewers_get_403(settings, console, people, rows):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    add_staff(sessions, "clerk", "officer")
    add_staff(sessions, "look", "viewer")
    people(sessions)
    ids = rows(sessions)
    for username in ("clerk", "look"):
        client = client_for(username)
        assert client.get("/console/deliveries").status_code == 403
        assert client.get(f"/console/deliveries/{ids['volunteer']}").status_code == 403
        assert post(client, f"/console/deliveries/{ids['volunteer']}/retry").status_code == 403
        assert post(client, f"/console/deliveries/{ids['tag']}/cancel").status_code == 403
        assert "推送记录" not in client.get("/console/").get_data(as_text=True)
    with sessions() as s:
        assert s.get(OutboxMessage, ids["volunteer"]).status == OutboxStatus.FAILED
        assert s.get(OutboxMessage, ids["tag"]).status == OutboxStatus.PENDING
        assert not s.scalars(select(AuditEntry).where(AuditEntry.action.startswith("outbox."))).all()


def test_unknown_row_is_404_and_post_needs_csrf(sqlite_url, console, people, rows):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    people(sessions)
    ids = rows(sessions)
    client = client_for("boss")
    assert client.get("/console/deliveries/99999").status_code == 404
    assert post(client, "/console/deliveries/99999/retry").status_code == 404
    assert client.post(f"/console/deliveries/{ids['volunteer']}/retry").status_code == 400  # no CSRF token
    with sessions() as s:
        assert s.get(OutboxMessage, ids["volunteer"]).status == OutboxStatus.FAILED
