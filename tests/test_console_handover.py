"""人工会话 in the console: a chat through the real webhook, answered and closed by staff."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from handlers import texts
from models import OutboxMessage, OutboxStatus
from models.help_request import HandoverMessage, HelpRequest, RequestStatus
from models.staff_account import AuditEntry
from services import followers, handover, volunteers
from services.volunteers import VolunteerDetails
from tests.conftest import APP_ID, TOKEN, make_settings
from tests.console_kit import add_staff, post, runtime_of, sign_in
from tests.conversation_fixtures import START, chat_app, clock, db, new_chat  # noqa: F401
from tests.transcript import Chat, has
from tests.wechat_peer import WeChatPeer

INBOX = "/console/handover"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def staff_client(app, username="clerk", role="officer", town=None):
    add_staff(runtime_of(app).sessions, username, role=role, town=town)
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def the_thread(db) -> HelpRequest:
    [thread] = db.scalars(select(HelpRequest).where(HelpRequest.category == "handover"))
    return thread


def table(response) -> str:
    """The list's rows only (not the flash message above them)."""
    return response.get_data(as_text=True).split("<tbody>")[1]


def outbox(db) -> list[OutboxMessage]:
    return db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))


def audit(db, action) -> list[AuditEntry]:
    return db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))


def test_a_chat_is_answered_continued_and_closed_from_the_console(new_chat, chat_app, db, clock):
    chat = new_chat("oHandoverA01")
    chat.run([("人工", has("已为您转接人工服务")), ("我家房子漏雨", "收到，已转给工作人员，请稍候。")])
    thread = the_thread(db)
    client = staff_client(chat_app)

    # The inbox: waiting, with the last message.
    html = client.get(INBOX).get_data(as_text=True)
    assert thread.number in html and "我家房子漏雨" in html and "待回复" in html
    assert "2026-12-07 09:00" in html  # waiting since, Shanghai time
    page = f"/console/handover/{thread.id}"
    html = client.get(page).get_data(as_text=True)
    assert "我家房子漏雨" in html and "用户请求人工服务" in html
    assert handover.close_notice(thread) in html  # what the user will be told on closing
    assert "演示模式" in html  # no AppID: the reply goes to the simulator

    # A staff answer goes to the outbox for this user and shows in the thread.
    clock.advance(minutes=10)
    answer = "您好，我们明天上午派人上门查看。"
    response = post(client, page + "/reply", {"text": answer}, token_from=page)
    assert response.status_code == 302 and response.headers["Location"].endswith(page)
    [sent] = outbox(db)
    assert (sent.kind, sent.recipient, sent.payload["text"]) == ("handover_reply", "oHandoverA01", f"工作人员回复：\n{answer}")
    thread = the_thread(db)
    assert thread.waiting_since is None and thread.status == RequestStatus.ACCEPTED  # taking it up is 受理
    html = client.get(page).get_data(as_text=True)
    assert answer in html and "排队中" in html and "回复已发出" in html
    [entry] = audit(db, "handover.reply")
    assert (entry.subject, entry.subject_id, entry.staff_username, entry.detail) == (
        "help_request", thread.id, "clerk", None)
    assert "待回复" not in table(client.get(INBOX))

    # The user's next message lands in the same thread, waiting again.
    clock.advance(minutes=5)
    assert chat.say("好的，谢谢，明天家里有人") == "收到，已转给工作人员，他们会在这里回复您。"
    thread = the_thread(db)
    assert thread.waiting_since == clock.now
    assert [m.text for m in db.scalars(select(HandoverMessage).where(HandoverMessage.request_id == thread.id)
                                         .order_by(HandoverMessage.id))] == [
        "我家房子漏雨", answer, "好的，谢谢，明天家里有人"]
    html = client.get(INBOX).get_data(as_text=True)
    assert "好的，谢谢，明天家里有人" in html and "待回复" in html

    # Close: the user is told, and their next message goes back to the normal menu.
    response = post(client, page + "/close", {"note": "已安排上门"}, token_from=page)
    assert response.status_code == 302
    thread = the_thread(db)
    assert thread.status == RequestStatus.RESOLVED and thread.waiting_since is None
    told = outbox(db)[-1]
    assert (told.recipient, told.payload["text"]) == ("oHandoverA01", handover.close_notice(thread))
    [entry] = audit(db, "handover.close")
    assert (entry.subject, entry.subject_id) == ("help_request", thread.id)
    assert thread.number not in table(client.get(INBOX))
    assert thread.number in table(client.get(INBOX + "?show=closed"))
    count = len(db.scalars(select(HandoverMessage)))
    assert chat.say("我家房子漏雨") != "收到，已转给工作人员，他们会在这里回复您。"
    assert chat.say("取消") == texts.NOTHING_TO_CANCEL
    assert len(db.scalars(select(HandoverMessage))) == count

    # A reply to a closed thread is refused with a message; nothing is sent.
    sent_before = len(outbox(db))
    refused = post(client, page + "/reply", {"text": "还有什么需要吗？"}, token_from=page)
    assert refused.status_code == 400 and "这个会话已经结束，不能再回复。" in refused.get_data(as_text=True)
    again = post(client, page + "/close", token_from=page, follow_redirects=True)
    assert "不能改为" in again.get_data(as_text=True)
    assert len(outbox(db)) == sent_before


@SQLITE_ONLY
def test_a_reply_too_long_or_empty_is_refused_and_the_text_kept(new_chat, chat_app, db):
    new_chat("oHandoverB01").say("人工")
    thread = the_thread(db)
    client = staff_client(chat_app)
    page = f"/console/handover/{thread.id}"
    too_long = "请" * 601
    response = post(client, page + "/reply", {"text": too_long}, token_from=page)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "回复太长了，请控制在600字以内" in html and too_long in html
    empty = post(client, page + "/reply", {"text": "   "}, token_from=page)
    assert empty.status_code == 400 and "请输入要回复的内容。" in empty.get_data(as_text=True)
    assert outbox(db) == [] and audit(db, "handover.reply") == []
    assert the_thread(db).waiting_since is not None
    assert 'maxlength="600"' in html

    # A double click (or the form sent again) does not reach the user twice.
    after = re.search(r'name="after" value="(\d+)"', client.get(page).get_data(as_text=True)).group(1)
    form = {"text": "您好，请问有什么需要帮忙？", "after": after}
    assert post(client, page + "/reply", form, token_from=page).status_code == 302
    again = post(client, page + "/reply", form, token_from=page, follow_redirects=True)
    assert "这条回复已经发出，没有重复发送。" in again.get_data(as_text=True)
    assert len(outbox(db)) == 1 and len(audit(db, "handover.reply")) == 1


def as_if_hours_passed(db, openid: str, hours: int) -> None:
    """WeChat's window is stamped in real time by the webhook: move it back instead of waiting."""
    with db.sessions.begin() as session:
        row = followers.find(session, openid)
        row.window_expires_at -= timedelta(hours=hours)
        row.last_interaction_at -= timedelta(hours=hours)


@SQLITE_ONLY
def test_the_thread_says_what_happens_to_a_reply_inside_and_outside_the_48_hours(db, apps, tmp_path):
    app = apps(make_settings(db.url, tmp_path, WECHAT_APP_ID=APP_ID))  # not the sandbox; real time
    chat = Chat(app, WeChatPeer(TOKEN), "oHandoverC01")
    chat.say("人工")
    chat.say("我想问问优待证")
    client = staff_client(app)
    page = f"/console/handover/{the_thread(db).id}"
    assert "对方48小时内发过消息，回复会立即送达" in client.get(page).get_data(as_text=True)

    as_if_hours_passed(db, "oHandoverC01", 49)
    html = client.get(page).get_data(as_text=True)
    assert "对方超过48小时没有发消息，回复会在对方下次发消息时送达" in html
    post(client, page + "/reply", {"text": "优待证请到服务站办理。"}, token_from=page)
    [row] = outbox(db)
    with db.sessions.begin() as session:  # what the delivery worker does when no channel is open
        session.get(OutboxMessage, row.id).status = OutboxStatus.HELD
    assert "等待用户下次发消息（已超过48小时）" in client.get(page).get_data(as_text=True)


@SQLITE_ONLY
def test_the_window_text_names_the_template_fallback_when_configured(db, apps, tmp_path):
    app = apps(make_settings(db.url, tmp_path, WECHAT_APP_ID=APP_ID,
                             WECHAT_TEMPLATE_IDS="handover_reply=TPL_HANDOVER_1"))
    Chat(app, WeChatPeer(TOKEN), "oHandoverD01").say("人工")
    client = staff_client(app)
    as_if_hours_passed(db, "oHandoverD01", 49)
    html = client.get(f"/console/handover/{the_thread(db).id}").get_data(as_text=True)
    assert "对方超过48小时没有发消息，回复会改用服务通知发出" in html


@SQLITE_ONLY
def test_area_scope_roles_and_reveal(new_chat, chat_app, db):
    with db.sessions.begin() as session:
        volunteers.register(session, "oHandoverE01",
                            VolunteerDetails("张伟民", "13912345678", "青石镇", "石桥村", ["repair"], "any"), START)
    new_chat("oHandoverE01").run([("人工", has("已为您转接")), ("电话打不通", has("收到"))])
    new_chat("oHandoverE02").run([("人工", has("已为您转接")), ("我是城关的", has("收到"))])
    qingshi, unknown = sorted(db.scalars(select(HelpRequest)), key=lambda t: t.id)
    assert (qingshi.town, unknown.town) == ("青石镇", None)

    township = staff_client(chat_app, "qingshi", town="青石镇")
    html = township.get(INBOX).get_data(as_text=True)
    assert qingshi.number in html and unknown.number not in html and "张*民" in html
    assert township.get(f"/console/handover/{unknown.id}").status_code == 404
    page = f"/console/handover/{qingshi.id}"
    assert post(township, f"/console/handover/{unknown.id}/reply", {"text": "x"}, token_from=page).status_code == 404

    html = township.get(page).get_data(as_text=True)
    assert "139****5678" in html and "13912345678" not in html
    shown = post(township, page + "/reveal", token_from=page)
    assert "13912345678" in shown.get_data(as_text=True)
    [entry] = audit(db, "reveal")
    assert (entry.subject, entry.subject_id, entry.detail) == ("help_request", qingshi.id, "contact_phone")

    viewer = staff_client(chat_app, "reader", role="viewer")
    html = viewer.get(page).get_data(as_text=True)
    assert "电话打不通" in html and "发送回复" not in html and "显示完整号码" not in html
    for path in (page + "/reply", page + "/close", page + "/reveal"):
        assert post(viewer, path, {"text": "x"}, token_from=page).status_code == 403, path
    assert outbox(db) == []


@SQLITE_ONLY
def test_inbox_puts_the_longest_waiting_first(new_chat, chat_app, db, clock):
    first = new_chat("oHandoverF01")
    first.say("人工")
    clock.advance(minutes=30)
    second = new_chat("oHandoverF02")
    second.say("人工")
    second.say("第二位用户的问题")
    clock.advance(minutes=30)
    first.say("第一位用户的问题")
    client = staff_client(chat_app)
    threads = sorted(db.scalars(select(HelpRequest)), key=lambda t: t.id)
    html = client.get(INBOX + "?show=waiting").get_data(as_text=True)
    assert html.index(threads[0].number) < html.index(threads[1].number)
    # Answered threads come after the waiting ones in 全部进行中.
    post(client, f"/console/handover/{threads[0].id}/reply", {"text": "您好"}, token_from=INBOX)
    html = client.get(INBOX).get_data(as_text=True)
    assert html.index(threads[1].number) < html.index(threads[0].number)
    assert "回复：您好" in html
    assert threads[0].number not in table(client.get(INBOX + "?show=waiting"))
