"""The FAQ's facts (光荣牌 悬挂 for all three kinds of 遗属; 抚恤金 not counted as income only for
社会救助; when 抚恤金 and 优待金 are paid and whom to ask), the 烈属 topic through the chat, and the
corrected answers reaching a database migrated before the correction (staff edits kept)."""

from __future__ import annotations

import tomllib

from sqlalchemy import select, text

from models.database import make_engine, make_session_factory
from models.faq import FaqEntry
from models.schema import PROJECT_ROOT, upgrade
from services import faq
from tests.conversation_fixtures import START, chat_app, clock, db, migration_faq, new_chat  # noqa: F401
from tests.transcript import has

ANSWERS = {topic: answer for topic, _keywords, answer, _position in migration_faq()}
THREE_KINDS = ("烈士遗属", "因公牺牲军人遗属", "病故军人遗属")
MARTYR_TOPIC = "【烈属抚恤优待】"


def test_honour_plaques_are_hung_for_all_three_kinds_of_bereaved_families():
    answer = ANSWERS["光荣牌"]
    assert "悬挂" in answer and "发放" not in answer
    assert all(kind in answer for kind in THREE_KINDS)
    assert "现役军人家庭" in answer and "退役军人家庭" in answer


def test_pensions_are_left_out_of_income_only_when_applying_for_social_assistance():
    answer = ANSWERS["抚恤补助"]
    sentence = next(line for line in answer.splitlines() if "不计入家庭收入" in line)
    assert sentence.startswith("申请最低生活保障等社会救助时")
    for topic, text_ in ANSWERS.items():  # nowhere said without the condition
        for line in text_.splitlines():
            if "不计入家庭收入" in line:
                assert "社会救助" in line, topic


def test_how_and_when_pensions_and_allowances_are_paid_and_whom_to_ask():
    assert "按年发放" in ANSWERS["义务兵优待金"] and "入伍地县级人民政府" in ANSWERS["义务兵优待金"]
    assert "按当地规定" in ANSWERS["抚恤补助"] and "县退役军人事务局" in ANSWERS["抚恤补助"]
    for topic in ("义务兵优待金", "抚恤补助"):
        assert "工作日" in ANSWERS[topic] and "退役军人服务站" in ANSWERS[topic], topic


def test_the_martyr_family_answer_covers_plaque_pension_benefits_and_memorials():
    answer = ANSWERS["烈属抚恤优待"]
    for subject in ("光荣牌", "悬挂", "抚恤", "优待证", "祭扫", "9月30日", "因公牺牲", "病故"):
        assert subject in answer, subject
    assert "社会救助时不计入家庭收入" in answer


def test_the_chat_shows_where_to_ask_from_the_contact_card():
    card = tomllib.loads((PROJECT_ROOT / "deploy" / "contact.toml").read_text(encoding="utf-8"))
    entry = FaqEntry(topic="光荣牌", keywords="光荣牌", answer=ANSWERS["光荣牌"])
    shown = faq.reply_text(entry, card)
    assert shown.startswith("【光荣牌】\n光荣牌悬挂")
    assert shown.endswith(f"咨询：{card['office']}\n电话：{card['phone']}，{card['hours']}")
    assert faq.where_to_ask({}) == "咨询：县退役军人事务局"


def test_a_martyr_family_typing_who_they_are_gets_their_answer(new_chat, db):
    chat = new_chat("oMartyrFamily1")
    chat.run([
        ("烈属", has(MARTYR_TOPIC, "光荣牌", "抚恤", "优待", "祭扫")),
        ("我是烈士家属", has(MARTYR_TOPIC)),
        ("烈士子女", has(MARTYR_TOPIC)),
        ("光荣牌坏了能换吗", has("【光荣牌】", "光荣牌悬挂", "可联系服务站申请更换")),
        ("抚恤金算不算家庭收入", has("【抚恤补助】", "申请最低生活保障等社会救助时")),
    ])


def test_a_database_seeded_before_the_correction_gets_it_and_keeps_staff_edits(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0012")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE faq_entry SET answer = '本县光荣牌由村委会悬挂，电话 0000-1111。' WHERE topic = '光荣牌'"))
        conn.execute(text("UPDATE faq_entry SET keywords = '抚恤,补助' WHERE topic = '抚恤补助'"))
    upgrade(url)
    with make_session_factory(engine)() as session:
        rows = {e.topic: e for e in session.scalars(select(FaqEntry))}
    engine.dispose()
    assert rows["光荣牌"].answer == "本县光荣牌由村委会悬挂，电话 0000-1111。"  # staff's own text stays
    assert rows["光荣牌"].keywords == "光荣牌,挂牌,悬挂,换牌"  # the keywords were still the seeded ones
    assert rows["抚恤补助"].answer == ANSWERS["抚恤补助"] and rows["抚恤补助"].keywords == "抚恤,补助"
    assert rows["优待证"].answer == ANSWERS["优待证"]
    assert rows["烈属抚恤优待"].answer == ANSWERS["烈属抚恤优待"]
    assert len(rows) == 16
    # The new topic is second in the 政策咨询 menu and the console's list, every number used once.
    by_position = sorted(rows.values(), key=lambda e: e.position)
    assert [e.position for e in by_position] == list(range(1, 17))
    assert [e.topic for e in by_position[:3]] == ["优待证", "烈属抚恤优待", "光荣牌"]
