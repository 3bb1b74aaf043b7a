"""志愿者报名 as transcripts through the real webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboxMessage
from models.consent import ConsentRecord
from models.conversation import ConversationState
from models.help_request import HandoverMessage, HelpRequest
from models.status_event import StatusEvent
from models.volunteer import Volunteer, VolunteerStatus
from tests.conversation_fixtures import chat_app, clock, db, new_chat  # noqa: F401
from tests.transcript import has

EXIT = "（回复“取消”可随时退出，“返回”上一步）"
TOWNS = "您所在的乡镇/街道：\n1 城关镇\n2 青石镇\n3 东湖街道"
VILLAGES = "您所在的村/社区：\n1 城东社区\n2 城西社区\n3 河口村\n4 柳营村"
SKILLS = "您能提供哪些服务？可多选，如“1 3”：\n1 医疗  2 法律  3 心理疏导\n4 维修  5 驾驶  6 文艺\n7 陪护  8 其他"
TIMES = "您方便的服务时间：\n1 工作日  2 周末  3 都可以"
CONSENT = (
    "为开展志愿服务，我们将保存您的姓名、手机号和所在村社区，仅用于志愿服务联系和服务时长记录，"
    "保存至您退出志愿者队伍后1年。\n回复“同意”继续，回复“取消”退出。"
)
SUMMARY = (
    "请核对：\n姓名：张伟民\n手机：139****5678\n乡镇/街道：城关镇\n村/社区：河口村\n"
    "服务：维修、陪护\n时间：周末\n1 确认提交  2 修改  0 取消"
)
UP_TO_SUMMARY = [
    ("志愿者报名", f"欢迎加入拥军志愿者队伍！报名约需2分钟。\n请问您的姓名？\n{EXIT}"),
    ("张伟民", "张伟民您好！请输入您的手机号："),
    ("13912345678", TOWNS),
    ("1", VILLAGES),
    ("3", SKILLS),
    ("4 7", TIMES),
    ("2", CONSENT),
    ("同意", SUMMARY),
]


def test_happy_path_registers_a_pending_volunteer_and_alerts_staff(new_chat, db):
    chat = new_chat("oVolunteerA")
    chat.run(UP_TO_SUMMARY + [
        ("1", "报名成功！编号ZY2026-0001\n工作人员将在3个工作日内审核，结果会通过本公众号通知您。"),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert (volunteer.name, volunteer.mobile, volunteer.town, volunteer.village) == ("张伟民", "13912345678", "城关镇", "河口村")
    assert (volunteer.skills, volunteer.availability, volunteer.status) == (["repair", "care"], "weekend", VolunteerStatus.PENDING)
    assert "13912345678" not in str(db.raw("SELECT mobile FROM volunteer"))  # encrypted at rest
    [consent] = db.scalars(select(ConsentRecord))
    assert (consent.openid, consent.purpose, consent.version) == ("oVolunteerA", "volunteer", "2026-1")
    assert [(e.subject, e.to_status) for e in db.scalars(select(StatusEvent))] == [("volunteer", "pending")]
    # No message per registration: staff see it in the console's queue and the morning digest.
    assert list(db.scalars(select(OutboxMessage))) == []
    [state] = db.scalars(select(ConversationState))
    assert state.form is None and state.answers is None  # nothing typed is kept once submitted


def test_each_invalid_answer_is_named_and_asked_again(new_chat, db):
    chat = new_chat("oVolunteerB")
    chat.run([
        ("志愿者报名", has("请问您的姓名？")),
        ("张3", f"姓名里好像有数字。请只输入姓名，例如 张伟民：\n{EXIT}"),
        ("张", f"姓名应为2到20个字，例如 张伟民。请重新输入：\n{EXIT}"),
        ("张伟民", "张伟民您好！请输入您的手机号："),
    ])
    # Three mistakes in a row on the phone number: explained once more, a person offered.
    chat.run([
        ("1391234567", f"这个号码好像少了一位。手机号应为11位数字，例如13800138000。请重新输入：\n{EXIT}"),
        ("139123456789", f"这个号码好像多了一位。手机号应为11位数字，例如13800138000。请重新输入：\n{EXIT}"),
        ("12912345678", "手机号应以13到19开头。手机号应为11位数字，例如13800138000。请重新输入：\n"
                        "手机号用于活动通知和联系，只有工作人员能看到。\n"
                        "如果填写有困难，回复“人工”请工作人员帮您办理，或回复“取消”退出。"),
        ("１３９ １２３４ ５６７８", TOWNS),  # full-width digits and spaces are fine
        ("9", f"没有第9项。请回复选项前的数字（1到3），例如“1”。\n1 城关镇\n2 青石镇\n3 东湖街道\n{EXIT}"),
        # The phone number typed again at the town question: told it is a choice, not "没有第…项".
        ("13912345678", f"这一步是选择，请回复选项前的数字（1到3），例如“1”。\n1 城关镇\n2 青石镇\n3 东湖街道\n{EXIT}"),
        # Typed as people write it, in groups: the same answer, not "没有看懂" (the third mistake
        # in a row, so a person is offered too).
        ("139 1234-5678", has("这一步是选择，请回复选项前的数字（1到3）", "回复“人工”请工作人员帮您办理")),
        ("城关", VILLAGES),  # the words work as well as the number
        ("河口村", SKILLS),
        ("1 9", f"没有看懂“9”。请回复选项前的数字，可多选，用空格隔开，例如“1 3”。\n"
                "1 医疗  2 法律  3 心理疏导\n4 维修  5 驾驶  6 文艺\n7 陪护  8 其他\n" + EXIT),
        ("47", TIMES),  # "47" means 4 and 7 when every option is one digit
        ("随便", f"没有看懂您的选择。请回复选项前的数字，例如“1”。\n1 工作日  2 周末  3 都可以\n{EXIT}"),
        ("二", CONSENT),
        ("不同意", f"不同意就无法继续办理。回复“同意”继续，或回复“取消”退出：\n{EXIT}"),
        ("同意", SUMMARY),
        ("好", "请回复“1”确认提交，“2”修改，或“0”取消。\n1 确认提交  2 修改  0 取消"),
    ])
    assert db.count(Volunteer) == 0


def test_cancel_ends_the_form_and_saves_nothing(new_chat, db):
    chat = new_chat("oVolunteerC")
    chat.run(UP_TO_SUMMARY[:4] + [
        ("取消", "已取消“志愿者报名”，您填写的内容没有保存。\n需要时回复“帮助”查看可办理的事项。"),
        ("3", has("抱歉，我暂时没看懂您的意思。")),
        ("取消", has("现在没有正在办理的事项。")),
    ])
    assert db.count(Volunteer) == 0
    [state] = db.scalars(select(ConversationState))
    assert state.form is None and state.answers is None


def test_zero_on_the_summary_cancels_too(new_chat, db):
    chat = new_chat("oVolunteerC2")
    chat.run(UP_TO_SUMMARY + [("0", has("已取消“志愿者报名”"))])
    assert db.count(Volunteer) == 0


def test_back_goes_one_field_back_and_forgets_that_answer(new_chat):
    chat = new_chat("oVolunteerD")
    chat.run([
        ("志愿者报名", has("请问您的姓名？")),
        ("返回", f"已经是第一个问题了。\n请问您的姓名？"),
        ("张伟民", "张伟民您好！请输入您的手机号："),
        ("13912345678", TOWNS),
        ("2", "您所在的村/社区：\n1 青石社区\n2 石桥村\n3 上坪村"),
        ("返回", TOWNS),
        ("返回", "张伟民您好！请输入您的手机号："),
        ("返回", "请问您的姓名？"),
        ("李明", "李明您好！请输入您的手机号："),
    ])


def test_change_one_item_from_the_summary(new_chat, db):
    chat = new_chat("oVolunteerE")
    chat.run(UP_TO_SUMMARY + [
        ("2", "您要修改哪一项？请回复序号：\n1 姓名\n2 手机\n3 乡镇/街道\n4 村/社区\n5 服务\n6 时间\n（回复“返回”回到核对页）"),
        ("7", has("没有第7项")),
        ("返回", SUMMARY),
        ("修改", has("您要修改哪一项？")),
        ("3", TOWNS + "\n（当前：城关镇）"),
        ("3", "您所在的村/社区：\n1 东湖社区\n2 湖滨社区\n3 新华社区\n4 白沙社区\n5 沙洲社区"),  # the village depends on the town
        ("2", SUMMARY.replace("城关镇", "东湖街道").replace("河口村", "湖滨社区")),
        ("2", has("您要修改哪一项？")),
        ("2", "张伟民您好！请输入您的手机号：\n（当前：139****5678）"),
        ("返回", has("请核对：", "手机：139****5678")),  # back while changing: the summary, unchanged
        ("2", has("您要修改哪一项？")),
        ("2", has("请输入您的手机号")),
        ("13700001111", has("手机：137****1111", "村/社区：湖滨社区")),
        ("1", has("报名成功！编号ZY2026-0001")),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert (volunteer.mobile, volunteer.town, volunteer.village) == ("13700001111", "东湖街道", "湖滨社区")


def test_an_expired_form_is_told_and_starts_fresh(new_chat, clock, db):
    chat = new_chat("oVolunteerF")
    chat.run(UP_TO_SUMMARY[:3])
    clock.advance(minutes=29)
    chat.run([("1", VILLAGES)])  # 29 minutes: still there
    clock.advance(minutes=31)
    chat.run([
        ("3", has("您之前填写的“志愿者报名”超过30分钟没有继续，已自动结束，内容没有保存。", "抱歉，我暂时没看懂您的意思。")),
        ("志愿者报名", has("欢迎加入拥军志愿者队伍！", "请问您的姓名？")),
    ])
    [state] = db.scalars(select(ConversationState))
    assert state.step == "name" and state.answers["a"] == {}


def test_a_keyword_in_the_middle_asks_before_abandoning(new_chat):
    chat = new_chat("oVolunteerG")
    chat.run(UP_TO_SUMMARY[:3] + [
        ("志愿者报名", f"您正在填写“志愿者报名”，我们接着来：\n{TOWNS}"),
        ("提交求助", "您正在填写“志愿者报名”，还没有提交。\n要放弃它，改去“提交求助”吗？\n1 放弃，去提交求助\n2 继续填写"),
        ("嗯", has("请回复“1”放弃，或“2”继续填写。")),
        ("2", f"好的，我们继续。\n{TOWNS}"),
        ("1", VILLAGES),
    ])
    assert chat.click("REQUEST_SUBMIT") == (
        "您正在填写“志愿者报名”，还没有提交。\n要放弃它，改去“提交求助”吗？\n1 放弃，去提交求助\n2 继续填写"
    )
    chat.run([("1", has("我们来登记您的求助", "请选择求助类别："))])


def test_signing_up_twice_shows_the_existing_status(new_chat, db):
    chat = new_chat("oVolunteerH")
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run([("志愿者报名", "您已经报名过拥军志愿者，编号ZY2026-0001，当前状态：待审核。\n回复“我的信息”可查看或修改。")])
    assert chat.click("VOLUNTEER_SIGNUP") == (
        "您已经报名过拥军志愿者，编号ZY2026-0001，当前状态：待审核。\n回复“我的信息”可查看或修改。"
    )
    assert db.count(Volunteer) == 1


def test_the_menu_key_starts_the_same_form(new_chat):
    chat = new_chat("oVolunteerI")
    assert chat.click("VOLUNTEER_SIGNUP") == f"欢迎加入拥军志愿者队伍！报名约需2分钟。\n请问您的姓名？\n{EXIT}"


def test_help_explains_the_current_question(new_chat):
    chat = new_chat("oVolunteerJ")
    chat.run(UP_TO_SUMMARY[:2] + [
        ("帮助", "手机号用于活动通知和联系，只有工作人员能看到。\n张伟民您好！请输入您的手机号：\n"
                 "回复“返回”回到上一步，“修改”改已填的内容，“取消”退出，“人工”请工作人员帮您。"),
    ])


def test_person_hands_over_with_a_consultation_request(new_chat, db):
    chat = new_chat("oVolunteerK")
    chat.run(UP_TO_SUMMARY[:3] + [
        ("人工", has("已为您转接人工服务，编号：\nSY2026-000001\n", "工作人员会在1个工作日内在这里回复您。")),
        # The form was dropped: what the user says next goes to the staff member, not to the form.
        ("我不会填，能帮我报名吗", "收到，已转给工作人员，请稍候。"),
        ("人工", has("您已在人工服务中（编号SY2026-000001）")),
    ])
    [request] = db.scalars(select(HelpRequest))
    assert (request.category, request.source, request.description) == ("handover", "handover", "用户填写“志愿者报名”时请求人工服务")
    assert request.waiting_since is not None
    assert [m.text for m in db.scalars(select(HandoverMessage))] == ["我不会填，能帮我报名吗"]
    assert db.count(Volunteer) == 0


def test_what_we_know_is_offered_not_asked_again(new_chat, db):
    chat = new_chat("oVolunteerL")
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    with db.session() as session:  # they left the team; signing up again offers what we had
        session.get(Volunteer, 1).status = VolunteerStatus.WITHDRAWN
        session.commit()
    chat.run([
        ("志愿者报名", f"欢迎加入拥军志愿者队伍！报名约需2分钟。\n姓名：张伟民\n1 沿用  2 重新填写\n{EXIT}"),
        ("1", "手机：139****5678\n1 沿用  2 重新填写"),
        ("13800001111", "乡镇/街道：城关镇\n1 沿用  2 重新填写"),  # a new number typed straight away
        ("2", TOWNS),
        ("2", "您所在的村/社区：\n1 青石社区\n2 石桥村\n3 上坪村"),
        ("1", SKILLS),
        ("1", TIMES),
        ("3", CONSENT),
        ("同意", has("姓名：张伟民", "手机：138****1111", "乡镇/街道：青石镇", "服务：医疗", "时间：都可以")),
        ("1", "报名成功！编号ZY2026-0001\n工作人员将在3个工作日内审核，结果会通过本公众号通知您。"),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert volunteer.status == VolunteerStatus.PENDING and volunteer.mobile == "13800001111"
    assert [e.to_status for e in db.scalars(select(StatusEvent).order_by(StatusEvent.id))] == ["pending", "pending"]


def test_a_state_whose_form_no_longer_exists_is_reset_with_an_apology(new_chat, db):
    chat = new_chat("oVolunteerM")
    chat.run(UP_TO_SUMMARY[:3])
    with db.session() as session:
        session.get(ConversationState, "oVolunteerM").step = "retired_field"
        session.commit()
    chat.run([("1", has("抱歉，服务刚刚更新，您之前填写的内容需要重新开始。", "抱歉，我暂时没看懂您的意思。"))])


def test_the_timeout_is_configurable(db, tmp_path, apps, clock):
    from tests.conftest import TOKEN, make_settings
    from tests.transcript import Chat
    from tests.wechat_peer import WeChatPeer

    app = apps(make_settings(db.url, tmp_path, FORM_TIMEOUT_MINUTES=5))
    chat = Chat(app, WeChatPeer(TOKEN), "oVolunteerN", clock)
    chat.run(UP_TO_SUMMARY[:2])
    clock.advance(minutes=6)
    chat.run([("13912345678", has("您之前填写的“志愿者报名”超过5分钟没有继续"))])


def test_a_name_spaced_to_be_read_and_skills_said_in_own_words(new_chat, db):
    chat = new_chat("oVolunteerWords1")
    chat.run([
        ("我想当志愿者", has("请问您的姓名？")),
        ("张 建 华", "张建华您好！请输入您的手机号："),  # the spaces were for reading, not part of the name
        ("139-0013-9000", TOWNS),
        ("城关镇", VILLAGES),
        ("城西", SKILLS),
        ("会修电器 也会开车", TIMES),
        ("周末都行", CONSENT),
        ("同意", has("姓名：张建华", "服务：维修、驾驶", "时间：周末")),
    ])


def test_wait_a_moment_keeps_the_form_and_not_knowing_explains_the_question(new_chat, clock):
    chat = new_chat("oVolunteerLater1")
    chat.run([
        ("志愿者报名", has("请问您的姓名？")),
        ("张伟民", "张伟民您好！请输入您的手机号："),
        ("等一下", "好的，不着急。已填的内容为您保留30分钟，回来后接着回答这一题就行：\n张伟民您好！请输入您的手机号："),
        ("这个是什么意思", has("请输入您的手机号", "回复“返回”回到上一步")),
    ])
    clock.advance(minutes=25)  # back from fetching the phone: the form is still open
    chat.run([("13912345678", TOWNS)])
