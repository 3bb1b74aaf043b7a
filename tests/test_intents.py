"""The intent matcher on its own: accuracy on phrasings it never learned from, the catalogue's
coverage of every flow and FAQ topic, and the API the router and the form engine use."""

from __future__ import annotations

import pytest

from handlers import intents
from handlers.intents import evaluation
from handlers.intents.matcher import normalize
from handlers.router import ENTRIES
from tests.conversation_fixtures import migration_faq

ROWS = evaluation.load()
HELD_APART = [row for row in ROWS if row.part != "dev"]
PATTERN_ONLY = {"timeline", "record_visit"}  # need a number or names: matched by pattern, not by intent


def test_the_evaluation_set_is_large_and_labelled_with_known_intents():
    assert len(ROWS) >= 300
    assert len(HELD_APART) >= 150
    assert {row.part for row in ROWS} == {"dev", "held", "fresh"}
    assert {row.intent for row in ROWS} <= set(intents.catalog())


def test_held_apart_phrasings_are_not_among_the_examples():
    learned = {normalize(e) for intent in intents.catalog().values() for e in intent.examples}
    copied = [row.text for row in HELD_APART if normalize(row.text) in learned]
    assert copied == []


def test_accuracy_on_the_held_apart_part_is_at_least_95_percent():
    result = evaluation.evaluate(HELD_APART)
    print(f"\nheld apart: {result.correct}/{result.total} = {result.accuracy:.1%}, "
          f"acted wrongly without asking: {result.confident_wrong}, would ask: {result.asked}")
    print(result.confusion())
    assert result.accuracy >= 0.95, result.confusion()
    assert result.confident_wrong <= 0.02 * result.total, result.confusion()


def test_every_flow_entry_and_faq_topic_is_an_intent():
    flows = {entry.name for entry in ENTRIES} - PATTERN_ONLY
    topics = {f"faq:{topic}" for topic, *_ in migration_faq()}
    assert flows - set(intents.catalog()) == set()
    assert topics - set(intents.catalog()) == set()
    assert {"person", "greeting", "thanks", "help", "cancel", "back", "edit"} <= set(intents.catalog())


def test_labels_are_chinese_words_not_codes():
    for intent in intents.catalog().values():
        assert intent.label and not any(ch.isascii() and ch.isalpha() for ch in intent.label), intent.name


@pytest.mark.parametrize("text, intent", [
    ("我想当志愿者", "volunteer"),
    ("有困难想请你们帮忙", "request"),
    ("我那个事办得怎么样", "progress"),
    ("你好", "greeting"),
    ("你们在哪办公", "contact"),
    ("找个工作人员跟我说", "person"),
    ("我想当个自愿者啊！", "volunteer"),  # typo, particle, full-width punctuation
    ("志愿者报名", "volunteer"),  # the menu word itself
])
def test_the_issue_phrasings_are_understood_with_confidence(text, intent):
    match = intents.classify(text, among=intents.top_level())
    assert match is not None and match.intent == intent and match.confident, match


@pytest.mark.parametrize("text, intent", [
    ("不想填了", "cancel"),
    ("算了，不弄了", "cancel"),
    ("回到上一步", "back"),
    ("往回退一步", "back"),
    ("修改", "edit"),
    ("刚才电话写错了", "edit"),
    ("找个工作人员跟我说", "person"),
    ("这个怎么弄", "help"),
])
def test_form_controls_in_natural_words(text, intent):
    match = intents.classify(text, among=intents.FORM_CONTROLS)
    assert match is not None and match.intent == intent and match.confident, match


def test_among_restricts_the_answer_and_rejects_unknown_names():
    assert intents.classify("我想当志愿者", among={"request", "volunteer"}).intent == "volunteer"
    outside = intents.classify("我想当志愿者", among={"cancel", "back"})
    assert outside is None or (outside.intent in {"cancel", "back"} and not outside.confident)
    with pytest.raises(ValueError):
        intents.classify("取消", among={"cancle"})


def test_nothing_close_gives_none_and_unsure_gives_alternatives():
    assert intents.classify("") is None
    assert intents.classify("？？？") is None
    assert intents.classify("今天天气不错", among=intents.top_level()) is None
    unsure = intents.classify("退役军人事务局", among=intents.top_level())
    assert unsure is not None and not unsure.confident
    assert unsure.alternatives and unsure.intent not in unsure.alternatives
    assert len(set(unsure.alternatives)) == len(unsure.alternatives)


def test_one_character_is_acted_on_only_when_it_is_an_example():
    assert intents.classify("好").confident  # an example of "ack"
    assert not intents.classify("改", among=intents.top_level()).confident
