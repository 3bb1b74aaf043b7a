"""Forms as people really fill them, through the webhook: a photo, voice or location where text
is wanted, a location as the address, 修改 in the middle, long stories, and a form left open
before the engine's state changed shape."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models.beneficiary import Beneficiary, Household
from models.conversation import ConversationState
from models.help_request import HelpRequest
from models.volunteer import Volunteer
from tests.conversation_fixtures import chat_app, clock, db, new_chat  # noqa: F401
from tests.test_conversation_beneficiary import ID_QUESTION, UP_TO_ID
from tests.test_conversation_help_request import CONSENT as REQUEST_CONSENT
from tests.test_conversation_help_request import UP_TO_CONTACT
from tests.test_conversation_volunteer import CONSENT, EXIT, SKILLS, TIMES, TOWNS, UP_TO_SUMMARY, VILLAGES
from tests.transcript import has

NAME = "请问您的姓名？"


def test_a_photo_voice_or_location_at_a_text_step_says_what_is_needed_and_asks_again(new_chat):
    chat = new_chat("oFormMedia1")
    chat.run(UP_TO_SUMMARY[:1])
    assert chat.media("image", "IMG-1") == f"收到您的图片，不过这一步需要打字回复。\n{NAME}\n{EXIT}"
    assert chat.media("voice", "VOICE-1", recognition="张伟民") == f"收到您的语音，不过这一步需要打字回复。\n{NAME}\n{EXIT}"
    third = chat.location("城关镇河口村")
    assert third.startswith(f"收到您的位置，不过这一步需要打字回复。\n请输入您的真实姓名，例如 张伟民。\n")
    assert third.endswith(f"回复“人工”请工作人员帮您办理，或回复“取消”退出。\n{NAME}")  # third time: a person offered
    chat.run([("张伟民", "张伟民您好！请输入您的手机号：")])  # the form goes on where it was


def test_a_location_at_the_address_step_fills_the_address_after_confirming(new_chat, db):
    chat = new_chat("oFormPlace1")
    chat.run(UP_TO_ID[:-1])
    assert chat.location("城关镇河口村3组12号") == (
        "您发送的位置是：\n城关镇河口村3组12号\n用它作为地址吗？\n1 就用这个地址  2 重新填写")
    chat.run([
        ("1", ID_QUESTION),
        ("11010519491231002X", has("回复“同意”继续")),
        ("同意", has("地址：城关镇河口村3组…")),
        ("1", has("登记成功")),
    ])
    [person] = db.scalars(select(Beneficiary))
    with db.session() as session:
        assert session.get(Household, session.get(Beneficiary, person.id).household_id).address == "城关镇河口村3组12号"


def test_a_location_offered_as_the_address_can_be_replaced_by_typing(new_chat):
    chat = new_chat("oFormPlace2")
    chat.run(UP_TO_ID[:-1])
    chat.location("城关镇人民政府")
    chat.run([
        ("2", "请输入详细地址，例如 河口村3组12号："),
        ("河口村3组12号", ID_QUESTION),
    ])


def test_edit_typed_in_the_middle_changes_this_form_not_the_profile(new_chat, db):
    chat = new_chat("oFormEdit1")
    chat.run(UP_TO_SUMMARY[:4] + [
        ("修改", "您要修改哪一项？请回复序号：\n1 姓名\n2 手机\n3 乡镇/街道\n（回复“返回”接着填写）"),
        ("1", "请问您的姓名？\n（当前：张伟民）"),
        ("张卫民", VILLAGES),  # back where the user was
        ("我想改一下", has("您要修改哪一项？")),
        ("返回", VILLAGES),
        ("3", SKILLS), ("4 7", TIMES), ("2", CONSENT),
        ("同意", has("姓名：张卫民")),
        ("1", has("报名成功")),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert volunteer.name == "张卫民"


def test_commands_in_own_words_inside_a_form(new_chat):
    chat = new_chat("oFormWords1")
    chat.run(UP_TO_SUMMARY[:3] + [
        ("怎么填", has("请选择您居住地所属的乡镇或街道", TOWNS)),
        ("上一步填错了", "张伟民您好！请输入您的手机号："),
        ("算了吧", "已取消“志愿者报名”，您填写的内容没有保存。\n需要时回复“帮助”查看可办理的事项。"),
    ])


def test_a_600_and_a_2000_character_story_are_kept(new_chat, db):
    for openid, length in (("oFormLong6", 600), ("oFormLong2", 2000)):
        story = ("老人住房漏雨，屋顶瓦片掉了好几块，下雨天屋里到处接水。" * 80)[:length]
        chat = new_chat(openid)
        chat.run(UP_TO_CONTACT[:2] + [
            (story, "情况紧急吗？\n1 一般  2 紧急"),
            ("1", has("为谁求助")), ("1", "联系人姓名："), ("王大山", has("联系电话")), ("13811110000", REQUEST_CONSENT),
            ("同意", has(f"情况：{story[:60]}…（共{length}字）\n")),
            ("1", has("已收到您的求助")),
        ])
    stories = {r.openid: r.description for r in db.scalars(select(HelpRequest))}
    assert len(stories["oFormLong6"]) == 600 and len(stories["oFormLong2"]) == 2000


def test_a_voice_description_is_kept_for_staff(new_chat, db):
    chat = new_chat("oFormVoice1")
    chat.run(UP_TO_CONTACT[:2])
    assert chat.media("voice", "VOICE-STORY", recognition="屋顶漏雨") == "情况紧急吗？\n1 一般  2 紧急"
    chat.run([("1", has("为谁求助")), ("1", has("联系人")), ("王大山", has("联系电话")), ("13811110000", has("同意")),
              ("同意", has("情况：屋顶漏雨（另有语音1条）")), ("1", has("已收到您的求助"))])
    [request] = db.scalars(select(HelpRequest))
    assert request.attachments == [{"type": "voice", "media_id": "VOICE-STORY", "recognition": "屋顶漏雨"}]


def _old_shape_row(db, clock, openid, step, scratch, answers):
    """A form left open before version 2 of the state: the step string and loose scratch flags."""
    with db.session() as session:
        session.add(ConversationState(
            openid=openid, form="volunteer", step=step, answers={"a": answers, "p": {}}, scratch=scratch,
            version=7, expires_at=clock.now + timedelta(minutes=20), updated_at=clock.now))
        session.commit()


ANSWERED = {"name": "张伟民", "mobile": "13912345678", "town": "城关镇", "village": "河口村"}


def test_a_form_left_open_in_the_old_shape_goes_on(new_chat, db, clock):
    skills = [[v, label, []] for v, label in (("medical", "医疗"), ("legal", "法律"), ("counsel", "心理疏导"),
                                             ("repair", "维修"), ("driving", "驾驶"), ("arts", "文艺"),
                                             ("care", "陪护"), ("other", "其他"))]
    _old_shape_row(db, clock, "oFormOld1", "skills", {"offer": False, "options_for": "skills", "options": skills,
                                                      "strikes": 1}, ANSWERED)
    chat = new_chat("oFormOld1")
    chat.run([
        ("4 7", TIMES), ("2", CONSENT),
        ("同意", has("姓名：张伟民", "服务：维修、陪护")),
        ("1", has("报名成功")),
    ])
    [volunteer] = db.scalars(select(Volunteer))
    assert volunteer.skills == ["repair", "care"]


def test_an_old_shape_summary_and_switch_question_go_on(new_chat, db, clock):
    answers = {**ANSWERED, "skills": ["repair"], "availability": "weekend", "consent": True}
    _old_shape_row(db, clock, "oFormOld2", ":switch",
                   {"switch": "faq", "switch_title": "政策咨询", "resume": ":confirm"}, answers)
    new_chat("oFormOld2").run([
        ("2", has("好的，我们继续。\n请核对：\n姓名：张伟民")),
        ("1", has("报名成功")),
    ])


def test_asking_for_a_person_in_own_words_inside_a_form_hands_over(new_chat, db):
    chat = new_chat("oFormPerson1")
    chat.run(UP_TO_SUMMARY[:3] + [
        ("找个工作人员跟我说", has("已为您转接人工服务，编号：")),
    ])
    with db.session() as session:
        assert session.get(ConversationState, "oFormPerson1").form is None  # the form gave way to the person
