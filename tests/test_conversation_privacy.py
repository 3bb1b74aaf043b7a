"""The person's rights in chat (issue 12): 导出我的信息, 撤回同意, and after 删除我的信息 no trace of
the person's identifying data in any table (read decrypted, as an auditor with the key would),
in any outbox row, or in the logs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from models.base import Base
from models.consent import ConsentRecord
from models.help_request import HelpRequest, RequestStatus
from models.volunteer import Volunteer, VolunteerStatus
from tests.conversation_fixtures import START, chat_app, clock, db, later, new_chat  # noqa: F401
from tests.test_conversation_beneficiary import SUMMARY as BENEFICIARY_SUMMARY
from tests.test_conversation_help_request import UP_TO_CONTACT
from tests.test_conversation_services import UP_TO_ID_KNOWN
from tests.test_conversation_volunteer import UP_TO_SUMMARY
from tests.transcript import has

IDENTIFYING = ("张伟民", "13912345678", "李秀英", "11010519491231002X", "河口村3组12号", "老人住房漏雨")


def _sign_up_everything(chat) -> None:
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run(UP_TO_ID_KNOWN + [("11010519491231002X", has("同意")), ("同意", BENEFICIARY_SUMMARY), ("1", has("登记成功"))])
    chat.run(UP_TO_CONTACT[:4] + [
        ("2", has("联系人：张伟民")), ("1", has("联系电话：139****5678")), ("1", has("同意")),
        ("同意", has("请核对：")), ("1", has("SY2026-000001")),
    ])


def test_export_my_information_lists_everything_held(new_chat, db):
    chat = new_chat("oExport1")
    chat.run([("导出我的信息", "我们没有保存您的个人信息。")])
    _sign_up_everything(chat)
    chat.run([("导出我的信息", has(
        "您的信息副本：\n【志愿者】ZY2026-0001（待审核）12月7日（周一）报名\n姓名：张伟民；手机：13912345678\n地区：城关镇 河口村",
        "【优抚登记】YF2026-0001（待核实）12月7日（周一）登记\n姓名：李秀英（父亲或母亲）；手机：13912345678",
        "类别：烈士遗属、退役军人\n身份证：1101**********002X\n地址：城关镇 河口村 河口村3组12号",
        "【求助】共1件\nSY2026-000001 住房 已提交（12月7日（周一））老人住房漏雨，需要维修",
        "【同意】志愿者报名告知书2026-1版，12月7日（周一）同意",
        "【同意】优抚登记告知书2026-1版", "【同意】求助告知书2026-1版",
        # PI-1: why we may hold each kind of data, one line per category.
        "【处理依据】\n"
        "志愿者报名信息（姓名、手机号、地区、服务项目）：您本人的同意（个人信息保护法第十三条、第二十九条）\n"
        "优抚登记信息（姓名、手机号、地址、身份类别）：您本人的同意（个人信息保护法第十三条、第二十九条）\n"
        "身份证号：您本人的同意（个人信息保护法第十三条、第二十九条）\n"
        "求助信息（求助内容、联系人、电话、图片语音、人工对话、评价）：您本人的同意（个人信息保护法第十三条、第二十九条）\n"
        "办理记录（核实和办理结果、工作人员备注、走访记录）：履行法定职责所必需（个人信息保护法第十三条、第三十四条）\n"
        "微信标识和我们发给您的消息：您本人的同意（个人信息保护法第十三条、第二十九条）",
        "身份证号只显示首尾四位；如需完整副本，请回复“人工”联系工作人员。",
    ))])


def test_withdrawing_consent_says_what_it_means_and_stops_the_processing(new_chat, db):
    chat = new_chat("oWithdraw1")
    chat.run([("撤回同意", "您目前没有需要撤回的同意。")])
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run([
        ("撤回同意", has("您要撤回哪一项同意？", "1 志愿者报名")),
        ("1", has("撤回后，退出志愿者队伍，您的姓名、手机号将被删除。确定撤回吗？", "1 确定撤回", "2 不撤回了")),
        ("2", "好的，您的同意没有撤回。"),
    ])
    assert db.scalars(select(Volunteer))[0].name == "张伟民"
    chat.run([
        ("撤回同意", has("1 志愿者报名")),
        ("1", has("确定撤回吗？")),
        ("1", "已撤回您对“志愿者报名”的同意，退出志愿者队伍，您的姓名、手机号将被删除。\n撤回前已经办理的事项不受影响。"),
        ("撤回同意", "您目前没有需要撤回的同意。"),
        ("我的信息", "您还没有登记信息。回复“志愿者报名”或“优抚登记”开始。"),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert (volunteer.name, volunteer.mobile, volunteer.status) == ("（已删除）", None, VolunteerStatus.WITHDRAWN)
    [consent] = db.scalars(select(ConsentRecord))
    assert (consent.purpose, consent.version, consent.withdrawn_at is not None) == ("volunteer", "2026-1", True)


def test_after_deletion_no_trace_in_any_table_outbox_or_log(new_chat, db, caplog):
    caplog.set_level(logging.DEBUG)
    chat = new_chat("oErase1")
    _sign_up_everything(chat)
    chat.run([("删除我的信息", has("确定要删除吗？")), ("1", has("确认删除")), ("确认删除", has("您的个人信息已删除。"))])
    traces = []
    with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).all():  # decrypted: what someone with the key sees
                text = repr(tuple(row))
                if table.name == "conversation_state":  # the bare per-user lock row: openid only
                    text = text.replace("'oErase1'", "")
                traces += [f"{table.name}: {word}" for word in (*IDENTIFYING, "oErase1") if word in text]
    assert traces == [], traces
    [request] = db.scalars(select(HelpRequest))
    assert request.status == RequestStatus.REJECTED  # an open request nobody can be contacted about is withdrawn
    assert [w for w in (*IDENTIFYING, "oErase1") if w in caplog.text] == []


def test_unit_designations_are_not_collected(new_chat, db):
    """PI-12: a description naming a unit or where troops are is refused with the reason;
    whatever arrives by another way (a 人工 message) is stored masked."""
    from services import military_terms
    from tests.test_conversation_help_request import UP_TO_CONTACT as STEPS

    chat = new_chat("oUnit1")
    chat.run(STEPS[:1] + [
        ("2", "请简要说明您遇到的困难，也可以直接发语音或图片："),
        ("儿子在61234部队服役，家里房子漏雨", has("为保守军事秘密，请不要填写部队番号、驻地等信息")),
        ("儿子在部队服役，家里房子漏雨", "情况紧急吗？\n1 一般  2 紧急"),
    ])
    assert military_terms.mask("他在3营，驻地在某某县城，家里一团糟") == "他在＊＊，＊＊，家里一团糟"
    assert military_terms.find("连续三天下雨，一团糟") == []
