"""政策咨询, 我的信息 (mask, 修改, 删除), 最新通知, 联系我们, follow with a referral code."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboxMessage, OutboxStatus
from models.activity import ActivitySignup
from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.consent import ConsentRecord
from models.conversation import ConversationState
from models.help_request import HelpRequest
from models.notice import Notice, Referral
from models.volunteer import Volunteer, VolunteerStatus
from tests.conversation_fixtures import START, chat_app, clock, db, later, new_chat  # noqa: F401
from tests.test_conversation_activities import add_activity
from tests.test_conversation_beneficiary import ID_QUESTION, SUMMARY as BENEFICIARY_SUMMARY, UP_TO_ID
from tests.test_conversation_help_request import UP_TO_CONTACT
from tests.test_conversation_volunteer import UP_TO_SUMMARY
from tests.transcript import has
from handlers import texts

FAQ_MENU = (
    "您想了解哪方面的政策？回复序号，或直接输入您的问题：\n1 优待证  2 烈属抚恤优待\n3 光荣牌  4 义务兵优待金\n"
    "5 诉讼费缓减免  6 法律援助\n7 优抚医疗  8 就业创业\n9 抚恤补助  10 伤残评定\n11 信息采集  12 住房困难\n"
    "13 子女教育优待  14 烈士褒扬祭扫\n15 档案转接  16 走访慰问\n（回复“取消”可随时退出，“返回”上一步）"
)
# A volunteer registering a family member: their phone and area are offered to keep.
UP_TO_ID_KNOWN = UP_TO_ID[:3] + [
    ("3 13", "手机：139****5678\n1 沿用  2 重新填写"),
    ("1", "乡镇/街道：城关镇\n1 沿用  2 重新填写"),
    ("1", "村/社区：河口村\n1 沿用  2 重新填写"),
    ("1", "请输入详细地址，例如 河口村3组12号："),
    ("河口村3组12号", ID_QUESTION),
]
MORE = "\n还有问题可以直接输入，或回复“政策咨询”查看全部话题。"


def test_policy_questions_by_number_by_words_and_unanswered(new_chat, db):
    chat = new_chat("oFaqUser01")
    chat.run([
        ("政策咨询", FAQ_MENU),
        ("1", has("【优待证】\n退役军人，烈士、因公牺牲军人、病故军人的遗属", "80岁以上或卧床的老人", MORE)),
        ("光荣牌坏了能换吗", has("【光荣牌】", "可联系服务站申请")),  # outside the form: matched by keywords
        ("政策咨询", FAQ_MENU),
        ("我儿子在部队当义务兵，家里的优待金什么时候发", has("【义务兵优待金】")),
        ("政策咨询", FAQ_MENU),
        # No topic's words in it, but the meaning is clear: answered as it would be outside the form.
        ("儿子当兵家里有钱拿吗", has("【义务兵优待金】")),
        ("政策咨询", FAQ_MENU),
        ("火星移民怎么办", "暂时没有找到相关的答复。回复“人工”，工作人员会为您解答；也可以换个说法再问。"),
        ("人工", has("已为您转接人工服务", "SY2026-000001")),
    ])
    assert chat.click("POLICY_FAQ") == FAQ_MENU


def test_my_information_is_masked(new_chat, db):
    chat = new_chat("oProfile1")
    chat.run([("我的信息", "您还没有登记信息。回复“志愿者报名”或“优抚登记”开始。")])
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run(UP_TO_ID_KNOWN + [("11010519491231002X", has("同意")), ("同意", BENEFICIARY_SUMMARY), ("1", has("登记成功"))])
    assert chat.click("MY_INFO") == (
        "您的信息：\n【志愿者】编号ZY2026-0001（待审核）\n姓名：张伟民；手机：139****5678\n地区：城关镇 河口村\n"
        "服务：维修、陪护；时间：周末\n服务时长：0小时\n"
        "【优抚登记】李秀英（父亲或母亲）编号YF2026-0001（待核实）\n类别：烈士遗属、退役军人\n手机：139****5678\n"
        "身份证：1101**********002X\n回复“修改”更新信息，“导出我的信息”查看全部内容。\n"
        "不想再使用时，可回复“撤回同意”或“删除我的信息”。"
    )


def test_change_re_runs_the_form_with_what_we_know(new_chat, db):
    chat = new_chat("oProfile2")
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run([
        ("修改", "您要修改哪一项？请回复序号：\n1 姓名\n2 手机\n3 乡镇/街道\n4 村/社区\n5 服务\n6 时间\n（回复“返回”回到核对页）"),
        ("5", has("您能提供哪些服务？", "（当前：维修、陪护）")),
        ("1 2", has("请核对：", "姓名：张伟民", "服务：医疗、法律")),
        ("1", "已更新您的志愿者信息。回复“我的信息”可查看。"),
        # Naming the item goes straight to it.
        ("我的名字写错了", has("请问您的姓名？", "（当前：张伟民）")),
        ("张伟民", has("请核对：", "姓名：张伟民")),
        ("1", "已更新您的志愿者信息。回复“我的信息”可查看。"),
    ])
    chat.run(UP_TO_ID_KNOWN + [("11010519491231002X", has("同意")), ("同意", BENEFICIARY_SUMMARY), ("1", has("登记成功"))])
    chat.run([
        ("修改", "您要修改哪一份信息？\n1 志愿者信息\n2 李秀英的优抚登记\n（回复“取消”可随时退出，“返回”上一步）"),
        ("2", has("您要修改哪一项？", "7 地址", "8 身份证")),
        ("7", has("请输入详细地址", "（当前：河口村3组12号）")),
        ("河口村5组1号", has("地址：河口村5组1号")),
        ("1", "已更新李秀英的登记信息，工作人员会重新核实。"),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert volunteer.skills == ["medical", "legal"]
    [household] = db.scalars(select(Household))
    assert household.address == "河口村5组1号"


def test_delete_my_information_needs_two_confirmations(new_chat, db):
    chat = new_chat("oProfile3")
    chat.run([("删除我的信息", "我们没有保存您的个人信息，无需删除。")])
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run(UP_TO_ID_KNOWN + [("11010519491231002X", has("同意")), ("同意", BENEFICIARY_SUMMARY), ("1", has("登记成功"))])
    chat.run(UP_TO_CONTACT[:4] + [
        ("2", has("联系人：张伟民")), ("1", has("联系电话：139****5678")), ("1", has("同意")),
        ("同意", has("请核对：")), ("1", has("SY2026-000001")),
    ])
    add_activity(db, "visit", "春节走访慰问", 3, 20)
    chat.run([("活动报名", has("春节走访慰问")), ("1", has("名额")), ("1", has("报名成功"))])
    chat.run([
        ("删除我的信息", "删除后，您的姓名、手机号、身份证号、地址和求助内容都会被清除，无法恢复；志愿者报名和优抚登记也会失效。\n"
                       "确定要删除吗？\n1 确定删除\n2 不删除了\n（回复“取消”可随时退出，“返回”上一步）"),
        ("2", "好的，您的信息没有删除。"),
        ("删除我的信息", has("确定要删除吗？")),
        ("1", "请再次确认：回复“确认删除”四个字。"),
        ("确认", "如确定删除，请回复“确认删除”四个字；不删除请回复“取消”。\n（回复“取消”可随时退出，“返回”上一步）"),
    ])
    assert db.scalars(select(Volunteer))[0].name == "张伟民"  # nothing erased yet
    chat.run([
        ("确认删除", has("您的个人信息已删除。", "匿名记录")),
        ("我的信息", "您还没有登记信息。回复“志愿者报名”或“优抚登记”开始。"),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert (volunteer.name, volunteer.mobile, volunteer.openid, volunteer.status) == ("（已删除）", None, None, VolunteerStatus.WITHDRAWN)
    [person] = db.scalars(select(Beneficiary))
    assert (person.name, person.mobile, person.id_number, person.registered_by, person.status) == (
        "（已删除）", None, None, None, RegistrationStatus.ERASED)
    [household] = db.scalars(select(Household))
    assert household.address is None and household.town == "城关镇"  # the area stays for statistics
    [request] = db.scalars(select(HelpRequest))
    assert (request.openid, request.description, request.contact_name, request.contact_phone) == (None, None, None, None)
    assert request.category == "housing"
    assert [s.openid for s in db.scalars(select(ActivitySignup))] == [None]
    assert all(c.openid is None and c.withdrawn_at is not None for c in db.scalars(select(ConsentRecord)))
    dump = str(db.raw("SELECT * FROM volunteer")) + str(db.raw("SELECT * FROM help_request")) + str(db.raw("SELECT * FROM conversation_state"))
    assert "oProfile3" not in dump.replace("'oProfile3', None", "")  # only the bare lock row keeps the openid
    pending_to_user = [m for m in db.scalars(select(OutboxMessage)) if m.recipient == "oProfile3" and m.status == OutboxStatus.PENDING]
    assert pending_to_user == []


def test_latest_notices_and_contact(new_chat, db):
    chat = new_chat("oInfo1")
    assert chat.click("NOTICES") == "暂时没有新的通知。有新通知时会在这里发布。"
    with db.session() as session:
        session.add(Notice(title="春节走访慰问安排", body="1月28日至2月5日，各村社区将走访慰问优抚对象家庭。", published_at=START - later(60)))
        session.add(Notice(title="明年的通知", body="还没到发布时间。", published_at=START + later(60)))
        session.commit()
    chat.run([
        ("最新通知", "最新通知：\n【12月7日（周一）】春节走访慰问安排\n1月28日至2月5日，各村社区将走访慰问优抚对象家庭。"),
        ("联系我们", "城关县双拥工作领导小组办公室（县退役军人服务中心）\n电话：0000-12345678\n"
                    "地址：城关县人民路88号 退役军人服务中心一楼\n办公时间：工作日 上午8:30-12:00，下午14:30-17:30\n"
                    "紧急情况请直接拨打电话。"),
    ])


def test_follow_with_a_referral_code_and_the_fallback(new_chat, db):
    chat = new_chat("oFollow1")
    assert chat.event("subscribe", "qrscene_ref:village_poster") == texts.WELCOME
    [referral] = db.scalars(select(Referral))
    assert (referral.openid, referral.code) == ("oFollow1", "village_poster")
    assert chat.say("今天天气不错") == texts.FALLBACK
    assert "志愿者报名" in texts.FALLBACK and "查询进度" in texts.FALLBACK  # lists what can be typed
    assert chat.media("image", "MEDIA_X") == texts.NON_TEXT
    assert chat.click("SOMETHING_OLD") == texts.HELP
    assert chat.say("返回") == texts.NOTHING_TO_CANCEL


def test_unfollowing_drops_an_unfinished_form(new_chat, db):
    chat = new_chat("oFollow2")
    chat.run(UP_TO_SUMMARY[:3])
    assert chat.event("unsubscribe") is None
    [state] = db.scalars(select(ConversationState))
    assert state.form is None and state.answers is None
