"""查询进度 and 回访: the user's requests, a timeline by number, and a rating after resolution."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboxMessage
from models.help_request import HelpRequest, RequestStatus
from services import help_requests
from tests.conversation_fixtures import START, chat_app, clock, db, new_chat, later  # noqa: F401
from tests.test_conversation_help_request import full_request
from tests.transcript import has


def submitted(chat) -> None:
    full_request(chat)
    chat.run([("1", has("SY2026-000001"))])


def move(db, number: str, *steps: RequestStatus, note: str | None = None) -> None:
    with db.session() as session:
        request = session.scalars(select(HelpRequest).where(HelpRequest.number == number)).one()
        for n, status in enumerate(steps, start=1):
            help_requests.change_status(session, request, status, START + later(60 * 24 * n), actor="staff:王科长", note=note)
        session.commit()


def test_no_requests_yet(new_chat):
    new_chat("oProgress0").run([("查询进度", "您还没有提交过求助。回复“提交求助”开始。")])


def test_the_latest_requests_and_a_timeline(new_chat, db):
    chat = new_chat("oProgress1")
    submitted(chat)
    move(db, "SY2026-000001", RequestStatus.TRANSFERRED, RequestStatus.IN_PROGRESS)
    chat.run([
        ("查询进度", "您最近的求助：\nSY2026-000001 住房\n  办理中（12月9日（周三）更新）\n"
                    "回复“进度”和编号查看办理经过，例如“进度SY2026-000001”。"),
        ("进度 sy2026-000001", "求助SY2026-000001（住房）\n12月7日（周一）上午9:00 已提交\n"
                              "12月8日（周二）上午9:00 已转办\n12月9日（周三）上午9:00 办理中"),
        ("进度SY2026-000999", "没有找到您名下编号为SY2026-000999的求助，请核对编号。回复“查询进度”查看您的求助。"),
    ])
    assert new_chat("oSomeoneElse").click("REQUEST_PROGRESS") == "您还没有提交过求助。回复“提交求助”开始。"
    assert new_chat("oSomeoneElse").say("进度SY2026-000001").startswith("没有找到您名下")  # not someone else's
    updates = [m for m in db.scalars(select(OutboxMessage)) if m.kind == "request_update"]
    assert [(m.recipient, m.payload["text"]) for m in updates] == [
        ("oProgress1", "您的求助SY2026-000001状态更新为：已转办。"),
        ("oProgress1", "您的求助SY2026-000001状态更新为：办理中。"),
    ]


def test_a_rejected_request_shows_the_reason(new_chat, db):
    chat = new_chat("oProgress2")
    submitted(chat)
    move(db, "SY2026-000001", RequestStatus.REJECTED, note="不属于本站受理范围，已告知向县住建局反映")
    chat.run([("进度SY2026-000001", has("不予受理：不属于本站受理范围，已告知向县住建局反映"))])


def test_rating_after_resolution(new_chat, db):
    chat = new_chat("oProgress3")
    submitted(chat)
    chat.run([("评价", "您目前没有待评价的求助。回复“查询进度”查看您的求助。"),
              ("评价SY2026-000001", "求助SY2026-000001还在办理中（已提交），办结后再请您评价。")])
    move(db, "SY2026-000001", RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED)
    chat.run([
        ("进度SY2026-000001", has("已办结", "回复“评价SY2026-000001”为本次服务打分。")),
        ("评价", "请为求助SY2026-000001的办理打分：\n您对这次办理满意吗？\n1 非常满意\n2 满意\n3 一般\n4 不满意\n5 很不满意\n"
                 "（回复“取消”可随时退出，“返回”上一步）"),
        ("6", has("没有第6项")),
        ("1", "还有什么想对我们说的吗？\n（没有可回复“跳过”）"),
        ("工作人员很耐心，谢谢", "感谢您的评价！您的意见会转给经办人员，我们会继续改进服务。"),
        ("评价SY2026-000001", "求助SY2026-000001已经评价过了，谢谢您！"),
        ("进度SY2026-000001", has("已回访", "您的评分：5分，谢谢！")),
    ])
    [request] = db.scalars(select(HelpRequest))
    assert (request.status, request.rating, request.rating_comment) == (RequestStatus.VISITED, 5, "工作人员很耐心，谢谢")


def test_the_comment_can_be_skipped(new_chat, db):
    chat = new_chat("oProgress4")
    submitted(chat)
    move(db, "SY2026-000001", RequestStatus.RESOLVED)
    chat.run([("评价SY2026-000001", has("您对这次办理满意吗？")), ("3", has("还有什么")), ("跳过", has("感谢您的评价"))])
    [request] = db.scalars(select(HelpRequest))
    assert (request.rating, request.rating_comment) == (3, None)
