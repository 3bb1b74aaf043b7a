"""人工 from the chat's side, through the real webhook: opening a thread, what is kept in it,
and what still works normally while it is open (menu, commands)."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from handlers import texts
from models.help_request import HandoverMessage, HelpRequest, RequestStatus
from services import handover, request_queries, volunteers
from services.volunteers import VolunteerDetails
from tests.conversation_fixtures import START, chat_app, clock, db, new_chat  # noqa: F401
from tests.transcript import has
from tests.wechat_peer import ACCOUNT

RELAYED_FIRST = "收到，已转给工作人员，请稍候。"
RELAYED_AGAIN = "收到，已转给工作人员，他们会在这里回复您。"
_ids = itertools.count(990_000_000_000)


def send_location(chat, label: str) -> str | None:
    xml = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{chat.openid}]]></FromUserName>"
        f"<CreateTime>1738368000</CreateTime><MsgType><![CDATA[location]]></MsgType>"
        f"<Location_X>28.1234</Location_X><Location_Y>112.5678</Location_Y><Scale>15</Scale>"
        f"<Label><![CDATA[{label}]]></Label><MsgId>{next(_ids)}</MsgId></xml>"
    )
    return chat._post(xml)


def threads(db) -> list[HelpRequest]:
    return db.scalars(select(HelpRequest).where(HelpRequest.category == "handover").order_by(HelpRequest.id))


def messages(db) -> list[HandoverMessage]:
    return db.scalars(select(HandoverMessage).order_by(HandoverMessage.id))


def test_asking_for_a_person_opens_one_thread_that_receives_what_the_user_says(new_chat, db):
    chat = new_chat("oHandover001")
    chat.run([
        ("人工", has("已为您转接人工服务，编号：\nSY2026-000001", "工作人员会在1个工作日内在这里回复您。")),
        ("我家房子漏雨", RELAYED_FIRST),
        ("转人工", has("您已在人工服务中（编号SY2026-000001）")),
        ("屋顶是瓦房，漏了好几处", RELAYED_FIRST),  # still waiting for staff: the same words
    ])
    [thread] = threads(db)
    assert (thread.openid, thread.status, thread.source) == ("oHandover001", RequestStatus.SUBMITTED, "handover")
    assert thread.description == "用户请求人工服务" and thread.waiting_since == START
    assert [(m.direction, m.msg_type, m.text) for m in messages(db)] == [
        ("in", "text", "我家房子漏雨"), ("in", "text", "屋顶是瓦房，漏了好几处")]


def test_a_thread_opened_in_the_middle_of_a_form_says_where_and_carries_the_known_contact(new_chat, db):
    with db.sessions.begin() as session:
        volunteers.register(session, "oHandover002",
                            VolunteerDetails("张伟民", "13912345678", "青石镇", "石桥村", ["repair"], "any"), START)
    chat = new_chat("oHandover002")
    chat.run([
        ("提交求助", has("")),
        ("人工", has("已为您转接人工服务", "也可能按您登记的手机号给您打电话")),
    ])
    [thread] = threads(db)
    assert thread.description == "用户填写“提交求助”时请求人工服务"
    assert (thread.contact_name, thread.contact_phone, thread.town) == ("张伟民", "13912345678", "青石镇")


def test_voice_image_and_location_in_an_open_thread_are_kept(new_chat, db):
    chat = new_chat("oHandover003")
    chat.say("人工")
    assert chat.media("voice", "VOICE-MEDIA-1", recognition="屋顶漏水了") == RELAYED_FIRST
    assert chat.media("voice", "VOICE-MEDIA-2") == RELAYED_FIRST
    assert chat.media("image", "IMAGE-MEDIA-1") == RELAYED_FIRST
    assert send_location(chat, "城关镇河口村3组") == RELAYED_FIRST
    kept = messages(db)
    assert [(m.msg_type, m.media_id, m.text) for m in kept] == [
        ("voice", "VOICE-MEDIA-1", "屋顶漏水了"),
        ("voice", "VOICE-MEDIA-2", None),
        ("image", "IMAGE-MEDIA-1", None),
        ("location", None, "城关镇河口村3组"),
    ]
    # What staff read in the console for each.
    assert [handover.shown_text(m) for m in kept] == ["[语音] 屋顶漏水了", "[语音]", "[图片]", "[位置] 城关镇河口村3组"]


def test_a_menu_click_during_an_open_thread_still_opens_its_flow(new_chat, db):
    chat = new_chat("oHandover004")
    chat.say("人工")
    assert chat.click("VOLUNTEER_SIGNUP") == (
        "欢迎加入拥军志愿者队伍！报名约需2分钟。\n请问您的姓名？\n（回复“取消”可随时退出，“返回”上一步）")
    chat.run([
        ("张伟民", "张伟民您好！请输入您的手机号："),  # a form answer, not a message for staff
        ("取消", has("已取消“志愿者报名”")),
        ("我还是想问问房子的事", RELAYED_FIRST),  # outside the form: back to the thread
    ])
    assert [m.text for m in messages(db)] == ["我还是想问问房子的事"]
    assert threads(db)[0].status == RequestStatus.SUBMITTED


def test_help_and_keywords_outside_a_form_still_answer_normally(new_chat, db):
    chat = new_chat("oHandover005")
    chat.run([
        ("人工", has("已为您转接人工服务")),
        ("帮助", texts.HELP),
        ("进度", has("SY2026-000001")),  # a keyword still starts its flow
    ])
    assert messages(db) == []  # none of these went to staff
    assert threads(db)[0].status == RequestStatus.SUBMITTED


def test_the_user_ends_the_chat_themselves_and_the_menu_works_again(new_chat, db):
    chat = new_chat("oHandover009")
    chat.run([
        ("人工", has("已为您转接人工服务", "不需要了，可以回复“结束人工”。")),
        ("屋顶漏雨", RELAYED_FIRST),
        ("结束人工", has("人工服务已结束", "回复“人工”")),
        ("你们在哪办公", has("地址")),  # no longer relayed: the account answers again
        ("人工", has("已为您转接人工服务，编号：\nSY2026-000002")),
        ("取消", has("人工服务已结束")),  # 取消 in an open chat ends it too
        ("取消", texts.NOTHING_TO_CANCEL),
    ])
    first, second = threads(db)
    assert (first.status, first.resolution) == (RequestStatus.RESOLVED, "用户结束了人工服务")
    assert second.status == RequestStatus.RESOLVED and second.waiting_since is None
    assert [m.text for m in messages(db)] == ["屋顶漏雨"]  # 结束人工 itself is not kept for staff
    # Staff see in the thread's timeline that the person ended it.
    assert any(e.who == "求助人" and e.what.startswith("本人结束会话") for e in request_queries.timeline(db, first))


def test_end_words_without_an_open_chat_open_nothing(new_chat, db):
    chat = new_chat("oHandover010")
    assert "人工服务已结束" not in chat.say("结束人工")
    assert list(threads(db)) == []
