"""提交求助 as transcripts: receipt with a number, urgency, voice and pictures, prefill, duplicates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from models import OutboxMessage
from models.help_request import HelpRequest, RequestStatus, Urgency
from services import help_requests
from services.help_requests import RequestDetails
from tests.conversation_fixtures import START, Database, chat_app, clock, db, ensure_faq, new_chat  # noqa: F401
from tests.test_conversation_volunteer import EXIT, UP_TO_SUMMARY
from tests.transcript import has

CATEGORY_QUESTION = (
    "请选择求助类别：\n1 生活困难  2 住房\n3 医疗  4 就业创业\n5 法律援助/司法救助  6 优待证\n"
    "7 光荣牌  8 政策咨询\n9 其他"
)
CONSENT = (
    "为办理您的求助，我们将保存求助内容和联系方式，仅用于办理和回访，办结后保存3年。\n"
    "回复“同意”继续，回复“取消”退出。"
)
UP_TO_CONTACT = [
    ("提交求助", f"我们来登记您的求助，约需1分钟。\n{CATEGORY_QUESTION}\n{EXIT}"),
    ("2", "请简要说明您遇到的困难，也可以直接发语音或图片："),
    ("老人住房漏雨，需要维修", "情况紧急吗？\n1 一般  2 紧急"),
    ("1", "为谁求助？\n1 本人\n2 家人\n3 代他人求助"),
    ("2", "联系人姓名："),
]
SUMMARY = (
    "请核对：\n类别：住房\n情况：老人住房漏雨，需要维修\n紧急程度：一般\n求助对象：家人\n联系人：王大山\n"
    "联系电话：138****0000\n1 确认提交  2 修改  0 取消"
)


def full_request(chat, consent_asked: bool = True):
    tail = [("13811110000", CONSENT), ("同意", SUMMARY)] if consent_asked else [("13811110000", SUMMARY)]
    chat.run(UP_TO_CONTACT + [("王大山", "联系电话（手机）：")] + tail)


def test_a_request_gets_a_number_and_the_promised_time(new_chat, db):
    chat = new_chat("oHelp1")
    full_request(chat)
    chat.run([("1", "已收到您的求助，编号：\nSY2026-000001\n工作人员将在1个工作日内联系您。\n回复“进度SY2026-000001”可随时查询。")])
    [request] = db.scalars(select(HelpRequest))
    assert (request.category, request.urgency, request.for_whom, request.status) == ("housing", Urgency.NORMAL, "family", RequestStatus.SUBMITTED)
    assert (request.description, request.contact_name, request.contact_phone) == ("老人住房漏雨，需要维修", "王大山", "13811110000")
    assert request.due_at == START + timedelta(days=1)
    assert "漏雨" not in str(db.raw("SELECT description FROM help_request"))
    # A normal request waits in the console's queue (and the morning digest); only urgent ones alert at once.
    assert list(db.scalars(select(OutboxMessage))) == []


def test_an_urgent_request_alerts_staff_and_promises_two_hours(new_chat, db):
    chat = new_chat("oHelp2")
    chat.run(UP_TO_CONTACT[:3] + [
        ("紧急", "为谁求助？\n1 本人\n2 家人\n3 代他人求助"),
        ("1", "联系人姓名："), ("王大山", has("联系电话")), ("13811110000", CONSENT),
        ("同意", has("紧急程度：紧急")),
        ("1", has("SY2026-000001", "工作人员将在2小时内联系您。")),
    ])
    [alert] = db.scalars(select(OutboxMessage))
    assert alert.idempotency_key == "staff_alert:urgent_request:SY2026-000001"
    assert "紧急求助SY2026-000001（住房）" in alert.payload["text"]


def test_a_voice_message_is_accepted_as_the_description(new_chat, db):
    chat = new_chat("oHelp3")
    chat.run(UP_TO_CONTACT[:2])
    assert chat.media("voice", "MEDIA_VOICE_1") == "情况紧急吗？\n1 一般  2 紧急"
    # A picture where a choice is wanted: said so, and the whole question asked again.
    assert chat.media("image", "MEDIA_IMAGE_1") == f"收到您的图片，不过这一步需要回复选项前的数字。\n情况紧急吗？\n1 一般  2 紧急\n{EXIT}"
    chat.run([
        ("1", has("为谁求助")), ("1", "联系人姓名："), ("王大山", has("联系电话")), ("13811110000", CONSENT),
        ("同意", has("情况：语音1条\n")),
        ("1", has("SY2026-000001")),
    ])
    [request] = db.scalars(select(HelpRequest))
    assert request.attachments == [{"type": "voice", "media_id": "MEDIA_VOICE_1"}]


def test_a_picture_with_a_recognised_voice_text(new_chat, db):
    chat = new_chat("oHelp4")
    chat.run(UP_TO_CONTACT[:2])
    chat.media("voice", "MEDIA_VOICE_2", recognition="家里老人住院需要陪护")
    chat.run([("1", has("为谁求助")), ("1", has("联系人")), ("王大山", has("联系电话")), ("13811110000", has("同意")),
              ("同意", has("情况：家里老人住院需要陪护"))])


def test_a_short_description_is_asked_again_and_a_choice_word_is_an_answer(new_chat):
    chat = new_chat("oHelp5")
    chat.run([
        ("提交求助", has("请选择求助类别")),
        ("政策咨询", "请简要说明您遇到的困难，也可以直接发语音或图片："),  # the option, not the flow
        ("漏雨", f"请再多写几个字，例如“老人住房漏雨，需要维修”：\n{EXIT}"),
    ])


def test_a_known_volunteer_is_offered_their_contact_and_not_asked_consent_twice(new_chat, db):
    chat = new_chat("oHelp6")
    chat.run(UP_TO_SUMMARY + [("1", has("报名成功"))])
    chat.run(UP_TO_CONTACT[:4] + [
        ("2", "联系人：张伟民\n1 沿用  2 重新填写"),
        ("1", "联系电话：139****5678\n1 沿用  2 重新填写"),
        ("1", CONSENT),
        ("同意", has("联系人：张伟民", "联系电话：139****5678")),
        ("1", has("SY2026-000001")),
    ])
    chat.run(UP_TO_CONTACT[:2] + [
        ("家里老人需要体检", has("情况紧急吗")), ("1", has("为谁求助")), ("1", has("联系人：张伟民")),
        ("1", has("联系电话：139****5678")),
        ("1", has("请核对：")),  # consent given last time: not asked again
        ("1", has("SY2026-000002")),
    ])


def test_the_same_request_twice_gets_the_first_number(new_chat, db):
    chat = new_chat("oHelp7")
    full_request(chat)
    chat.run([("1", has("SY2026-000001"))])
    full_request(chat, consent_asked=False)  # consent is on record now
    chat.run([("1", has("您刚才已提交过相同的求助，无需重复提交。", "SY2026-000001"))])
    assert db.count(HelpRequest) == 1


def test_numbers_stay_unique_when_many_submit_at_once(pg_url):
    ensure_faq(pg_url)
    database = Database(pg_url)

    def submit(n: int) -> str:
        with database.sessions() as session:
            details = RequestDetails("living", f"第{n}件求助的说明", Urgency.NORMAL, "self", "王大山", "13811110000")
            number = help_requests.submit(session, f"oConcurrent{n}", details, START).number
            session.commit()
            return number

    with ThreadPoolExecutor(max_workers=10) as pool:
        numbers = list(pool.map(submit, range(30)))
    database.engine.dispose()
    # Thirty different numbers, one after the other (the shared test database may hold earlier ones).
    values = sorted(int(n.split("-")[1]) for n in numbers)
    assert all(n.startswith("SY2026-") for n in numbers)
    assert values == list(range(values[0], values[0] + 30))


def test_a_request_told_in_the_first_message_is_not_asked_for_again(new_chat, db):
    """An elderly man writes what broke in his first message. The category is found in his own words
    (水管 is 住房), his first message is offered as the description, and a story typed where a
    category is wanted is met with the way out: 9 (其他)."""
    told = "家里水管坏了，老伴腿脚不好，能不能派人来看看"
    chat = new_chat("oHelpTold1")
    chat.run([
        (told, f"我们来登记您的求助，约需1分钟。\n{CATEGORY_QUESTION}\n{EXIT}"),
        ("厨房的水管", f"情况：{told}\n1 沿用  2 重新填写"),
        ("1", "情况紧急吗？\n1 一般  2 紧急"),
    ])
    chat = new_chat("oHelpTold2")
    chat.run([
        ("提交求助", has("请选择求助类别")),
        ("老伴腿脚不好", has("没有看懂")),
        ("我也八十多了", has("没有看懂")),
        ("就是想找人帮个忙", has("不知道选哪一类，就回复“9”（其他）")),
        ("9", "请简要说明您遇到的困难，也可以直接发语音或图片："),  # a bare keyword tells nothing: asked
    ])


def test_urgency_and_for_whom_in_everyday_words(new_chat):
    chat = new_chat("oHelpWords1")
    chat.run(UP_TO_CONTACT[:3] + [
        ("挺急的", "为谁求助？\n1 本人\n2 家人\n3 代他人求助"),
        ("给我老伴", "联系人姓名："),
    ])
    chat = new_chat("oHelpWords2")
    chat.run(UP_TO_CONTACT[:3] + [
        ("不是很急", "为谁求助？\n1 本人\n2 家人\n3 代他人求助"),  # not 紧急: the 很急 is denied
        ("给我自己", "联系人姓名："),
        ("王大山", "联系电话（手机）："), ("13811110000", CONSENT),
        ("同意", has("紧急程度：一般", "求助对象：本人")),
    ])


def test_numbers_said_the_way_people_say_them(new_chat):
    chat = new_chat("oHelpNumbers1")
    chat.run([
        ("提交求助", has("请选择求助类别")),
        ("第二个", "请简要说明您遇到的困难，也可以直接发语音或图片："),  # 住房
        ("老人住房漏雨，需要维修", "情况紧急吗？\n1 一般  2 紧急"),
        ("1吧", "为谁求助？\n1 本人\n2 家人\n3 代他人求助"),
        ("选2", "联系人姓名："),
    ])
