"""Everyday wording outside a form (issue 15): the account understands, or asks once with
numbered choices; a receipt number means that request; QR scenes and greetings never go unanswered."""

from __future__ import annotations

from sqlalchemy import select

from handlers import texts, understanding
from models.conversation import ConversationState
from models.help_request import HelpRequest
from services import handover
from tests.conversation_fixtures import chat_app, clock, db, new_chat, later  # noqa: F401
from tests.test_conversation_progress import submitted
from tests.transcript import has

NOT_UNDERSTOOD = "抱歉，我暂时没看懂"


def test_i_want_to_be_a_volunteer_starts_the_sign_up(new_chat):
    chat = new_chat("oUnderstand1")
    # The same first question as the menu word 志愿者报名.
    expected = new_chat("oUnderstand1b").say("志愿者报名")
    assert "姓名" in expected
    chat.run([("我想当志愿者", expected)])


def test_asking_for_help_in_own_words_starts_a_request(new_chat):
    chat = new_chat("oUnderstand2")
    expected = new_chat("oUnderstand2b").say("提交求助")
    chat.run([("有困难想请你们帮忙", expected)])
    # Who the family is does not make a repair a question about 评残.
    repair = new_chat("oUnderstand2c").say("我家里水管坏了，老伴是残疾军人，能不能派人来看看")
    assert repair == expected


def test_how_is_my_matter_going_shows_progress(new_chat):
    chat = new_chat("oUnderstand3")
    chat.run([("我那个事办得怎么样", "您还没有提交过求助。回复“提交求助”开始。")])
    submitted(chat)
    chat.run([("我那个事办得怎么样？", has("您最近的求助：", "SY2026-000001"))])


def test_what_an_old_soldiers_family_is_entitled_to_in_everyday_words_is_a_policy_question(new_chat):
    for n, said in enumerate(("你好，我想问一下，我爷爷是抗美援朝老兵，去世了，家里能领什么", "俺爹是老红军 现在还有啥待遇")):
        assert new_chat(f"oEntitled{n}").say(said).startswith("您想了解哪方面的政策？"), said


def test_greeting_and_thanks_get_a_friendly_reply_with_the_menu(new_chat):
    chat = new_chat("oUnderstand4")
    chat.run([
        ("你好", has("您好！", "志愿者报名", "人工")),
        ("谢谢你们啦！", has("不客气", "提交求助")),
        ("好的好的 我知道了 谢谢你们", has("不客气")),
        # A question that starts politely is not a greeting: not understood, it says so and offers a person.
        ("你好，我想问一下，我们村那条路什么时候能修好啊", has(NOT_UNDERSTOOD, "人工")),

    ])


def test_a_bare_receipt_number_after_the_account_asked_for_it(new_chat):
    chat = new_chat("oUnderstand5")
    submitted(chat)
    chat.run([
        ("查询进度", has("回复“进度”和编号查看办理经过")),
        ("SY2026-000001", has("求助SY2026-000001（住房）", "已提交")),
        ("ｓｙ２０２６－０００００１", has("求助SY2026-000001（住房）")),  # full-width, lower case
        ("请问SY2026-1这个怎么样了", has("求助SY2026-000001（住房）")),  # inside a sentence, short form
        ("SY2026-000777", has("没有找到您名下编号为SY2026-000777的求助")),
    ])


def test_where_is_your_office_gives_the_contact_card(new_chat):
    new_chat("oUnderstand6").run([
        ("你们在哪办公", has("地址：城关县人民路88号", "电话：", "办公时间：")),
    ])


def test_asking_for_a_staff_member_in_other_words_hands_over(new_chat, db):
    chat = new_chat("oUnderstand7")
    answer = chat.say("找个工作人员跟我说")
    assert "已为您转接人工服务" in answer
    assert "就业" not in answer  # not the 就业创业 FAQ it used to get
    [thread] = db.scalars(select(HelpRequest).where(HelpRequest.openid == "oUnderstand7"))
    assert thread.category == handover.CATEGORY


def test_unknown_or_expired_qr_scene_explains_itself(new_chat):
    chat = new_chat("oUnderstand8")
    assert "没有找到这个签到码对应的活动" in chat.event("SCAN", "checkin_expired_2025")
    assert "二维码暂时无法识别" in chat.event("SCAN", "poster_2024_summer")
    assert "志愿者报名" in chat.event("SCAN", "ref:village_poster")
    welcome = new_chat("oUnderstand8b").event("subscribe", "qrscene_checkin:gone")
    assert welcome.startswith(texts.WELCOME) and "没有找到这个签到码对应的活动" in welcome


def test_unsure_asks_once_with_numbers_and_the_digit_picks(new_chat, db):
    chat = new_chat("oUnderstand9")
    question = chat.say("退役军人事务局")  # could be several things
    assert question.startswith("您是想：\n1 ")
    lines = question.split("\n")
    choices = [line.split(" ", 1)[1] for line in lines[1:] if line[:1].isdigit()]
    assert len(choices) >= 2 and "优抚对象登记" in choices
    # The pending question lives in the database row, not in the process.
    [state] = db.scalars(select(ConversationState).where(ConversationState.openid == "oUnderstand9"))
    assert state.form is None and state.scratch["choices"]
    pick = str(choices.index("优抚对象登记") + 1)
    assert chat.say(pick) == new_chat("oUnderstand9b").say("优抚对象登记")


def test_the_choice_is_forgotten_after_another_message(new_chat, clock):
    chat = new_chat("oUnderstand10")
    assert chat.say("退役军人事务局").startswith("您是想：")
    chat.run([("谢谢", has("不客气"))])
    assert NOT_UNDERSTOOD in chat.say("2")  # no longer an answer to anything
    assert chat.say("退役军人事务局").startswith("您是想：")
    clock.advance(minutes=understanding.CHOICE_TIMEOUT.seconds // 60 + 1)
    assert NOT_UNDERSTOOD in chat.say("1")  # too late: the question has lapsed


def test_exact_menu_words_still_work_and_nonsense_gets_the_menu(new_chat):
    chat = new_chat("oUnderstand11")
    chat.run([
        ("联系我们", has("电话：")),
        ("今天天气不错", has(NOT_UNDERSTOOD, "志愿者报名")),
    ])


def test_a_registration_that_names_the_category_is_not_answered_with_its_policy(new_chat):
    """An elderly 烈属 writes "我想登记一下 我是烈士家属": the matcher leans to 优抚对象登记 and the words
    name the 烈属 policy topic too. Not the policy text (she would then type her name into nothing),
    but one numbered question with the registration first; a bare "我是烈士家属" still gets the policy."""
    for n, said in enumerate(("我想登记一下 我是烈士家属", "烈属登记", "我是烈士家属，想登记")):
        chat = new_chat(f"oRegisterCategory{n}")
        question = chat.say(said)
        assert question.startswith("您是想：\n1 优抚对象登记\n"), (said, question)
        assert "烈属抚恤优待" in question
        assert chat.say("1") == new_chat(f"oRegisterPlain{n}").say("优抚对象登记")
    assert new_chat("oPolicyOnly1").say("我是烈士家属").startswith("【烈属抚恤优待】")


def test_asking_whether_a_registration_was_checked_does_not_start_another(new_chat):
    for n, said in enumerate(("我的登记审核了吗", "我报的志愿者审核了吗")):
        reply = new_chat(f"oChecked{n}").say(said)
        assert reply.startswith("您是想：") and "查看我的信息" in reply, (said, reply)


def test_the_choice_can_be_said_as_an_ordinal(new_chat):
    chat = new_chat("oUnderstandOrdinal")
    question = chat.say("退役军人事务局")
    choices = [line.split(" ", 1)[1] for line in question.split("\n")[1:] if line[:1].isdigit()]
    said = "第" + "一二三四"[choices.index("优抚对象登记")] + "个"
    assert chat.say(said) == new_chat("oUnderstandOrdinalB").say("优抚对象登记")
