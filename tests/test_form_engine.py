"""The form engine step by step, without the webhook: a small form, a conversation row object
(the real model class, not in a database — the engine only reads and writes its columns) and
a host that records which flow or hand-over the engine asked for."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from handlers import forms
from handlers.fields import Option, address, consent, free_text, person_name
from handlers.forms.model import Field, Form, register
from handlers.forms.state import (Asking, ChoosingEdit, Confirming, ConfirmingSwitch, Offering, Unreadable, load,
                                  step_from_json, step_to_json)
from handlers.message import Context, Incoming
from models.conversation import ConversationState

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)
EXIT = forms.EXIT_HINT
_ids = itertools.count(1)
SUBMITTED: list[dict] = []


def _submit(_ctx, answers) -> str:
    SUBMITTED.append(answers)
    return "已提交。"


KINDS = (Option("a", "甲类"), Option("b", "乙类"), Option("staff", "工作人员代办"))
TOY = register(Form(
    "engine_toy", "试填表",
    (
        Field("name", "姓名", "请问您的姓名？", parse=person_name, hint="写真实姓名。"),
        Field("kind", "类别", "请选择类别：", options=KINDS),
        Field("story", "情况", "请说说情况：", parse=free_text, accepts_voice=True, prose=True),
        Field("address", "地址", "请输入详细地址：", parse=address, accepts_location=True),
    ),
    _submit,
    consent=Field("consent", "同意", "回复“同意”继续。", parse=consent, editable=False, in_summary=False),
))


class Host:
    def __init__(self):
        self.calls: list[str] = []
        self.other = forms.Flow("other", "别的事", ("别的事",), lambda ctx: "别的事开始了")

    def flow_for(self, text):
        return self.other if text == "别的事" else None

    def start_flow(self, _ctx, name):
        self.calls.append(f"start {name}")
        return f"开始{name}"

    def hand_over(self, _ctx):
        self.calls.append("person")
        return "已转人工"

    def host(self) -> forms.Host:
        return forms.Host(self.flow_for, self.start_flow, self.hand_over)


@pytest.fixture
def row():
    SUBMITTED.clear()
    return ConversationState(openid="oEngine", version=0)


def context(row, msg_type="text", text=None, **fields) -> Context:
    message = Incoming("oEngine", "gh_test", msg_type, 0, next(_ids), content=text, fields=fields)
    return Context(message, session=None, now=NOW, state=row)


def say(row, text, host=None):
    return forms.handle(context(row, text=text), (host or Host()).host())


def step(row):
    return load(context(row)).step


def begin(row, **kwargs) -> str:
    return forms.start(context(row), TOY, **kwargs)


def fill_to_summary(row):
    begin(row)
    for answer in ("张伟民", "1", "家里屋顶漏雨了", "河口村3组12号"):
        say(row, answer)
    return say(row, "同意")


# --- Asking ------------------------------------------------------------------------------


def test_asking_takes_a_valid_answer_and_asks_the_next_field(row):
    assert begin(row) == f"请问您的姓名？\n{EXIT}"
    assert step(row) == Asking("name")
    assert say(row, "张伟民") == "请选择类别：\n1 甲类\n2 乙类\n3 工作人员代办"
    assert step(row) == Asking("kind") and load(context(row)).answers == {"name": "张伟民"}


def test_asking_names_each_mistake_and_offers_a_person_on_the_third(row):
    begin(row)
    assert say(row, "张3") == f"姓名里好像有数字。请只输入姓名，例如 张伟民：\n{EXIT}"
    say(row, "张")
    third = say(row, "1")
    assert "写真实姓名。" in third and "回复“人工”请工作人员帮您办理" in third
    assert load(context(row)).strikes == 3
    say(row, "张伟民")
    assert load(context(row)).strikes == 0  # a new question starts clean


def test_a_choice_that_sounds_like_a_command_is_an_answer(row):
    begin(row)
    say(row, "张伟民")
    host = Host()
    assert say(row, "工作人员代办", host) == "请说说情况："
    assert host.calls == [] and load(context(row)).answers["kind"] == "staff"


# --- Offering ----------------------------------------------------------------------------


def test_offering_keeps_a_known_value_or_asks_again(row):
    assert begin(row, prefill={"name": "王秀兰"}) == f"姓名：王秀兰\n1 沿用  2 重新填写\n{EXIT}"
    assert step(row) == Offering("name")
    assert say(row, "2") == "请问您的姓名？"
    assert step(row) == Asking("name")


def test_offering_takes_the_known_value_or_a_new_one_typed_straight_away(row):
    begin(row, prefill={"name": "王秀兰"})
    assert say(row, "1").startswith("请选择类别")
    assert load(context(row)).answers["name"] == "王秀兰"
    row2 = ConversationState(openid="oEngine2", version=0)
    begin(row2, prefill={"name": "王秀兰"})
    say(row2, "李四海")
    assert load(context(row2)).answers["name"] == "李四海"


# --- Confirming and ChoosingEdit ---------------------------------------------------------


def test_confirming_shows_the_summary_and_submits_on_1(row):
    summary = fill_to_summary(row)
    assert summary == ("请核对：\n姓名：张伟民\n类别：甲类\n情况：家里屋顶漏雨了\n地址：河口村3组12号\n"
                       "1 确认提交  2 修改  0 取消")
    assert step(row) == Confirming()
    assert say(row, "1") == "已提交。"
    assert SUBMITTED[0]["name"] == "张伟民" and SUBMITTED[0]["consent"] is True
    assert row.form is None and row.answers is None


def test_confirming_2_lists_the_answers_and_an_edit_returns_to_the_summary(row):
    fill_to_summary(row)
    assert say(row, "2") == "您要修改哪一项？请回复序号：\n1 姓名\n2 类别\n3 情况\n4 地址\n（回复“返回”回到核对页）"
    assert step(row) == ChoosingEdit()
    assert say(row, "2") == "请选择类别：\n1 甲类\n2 乙类\n3 工作人员代办\n（当前：甲类）"
    assert step(row) == Asking("kind", editing=True)
    assert say(row, "乙类").startswith("请核对：\n姓名：张伟民\n类别：乙类")


def test_confirming_0_cancels(row):
    fill_to_summary(row)
    assert say(row, "0") == "已取消“试填表”，您填写的内容没有保存。\n需要时回复“帮助”查看可办理的事项。"
    assert row.form is None


# --- ConfirmingSwitch ----------------------------------------------------------------------


def test_another_flow_asks_first_and_2_resumes_the_same_question(row):
    begin(row)
    say(row, "张伟民")
    assert say(row, "别的事") == "您正在填写“试填表”，还没有提交。\n要放弃它，改去“别的事”吗？\n1 放弃，去别的事\n2 继续填写"
    assert step(row) == ConfirmingSwitch("other", "别的事", Asking("kind"))
    assert say(row, "2") == "好的，我们继续。\n请选择类别：\n1 甲类\n2 乙类\n3 工作人员代办"
    assert step(row) == Asking("kind")


def test_switching_ends_the_form_and_starts_the_other_flow(row):
    begin(row)
    host = Host()
    say(row, "别的事", host)
    assert say(row, "1", host) == "开始other"
    assert host.calls == ["start other"] and row.form is None


# --- commands in the user's own words -------------------------------------------------------


def test_natural_words_cancel_and_ask_for_a_person(row):
    begin(row)
    host = Host()
    assert say(row, "找个工作人员", host) == "已转人工"
    assert host.calls == ["person"]
    assert say(row, "我不想填了").startswith("已取消“试填表”")
    assert row.form is None


def test_edit_in_the_middle_lists_what_was_answered_and_returns_to_the_open_question(row):
    begin(row)
    assert say(row, "我要改一下") == "还没有填写可以修改的内容，我们接着来：\n请问您的姓名？"
    say(row, "张伟民")
    say(row, "1")
    assert say(row, "修改") == "您要修改哪一项？请回复序号：\n1 姓名\n2 类别\n（回复“返回”接着填写）"
    assert say(row, "返回") == "请说说情况："  # nothing changed: the question the user had reached
    say(row, "修改")
    assert say(row, "1") == "请问您的姓名？\n（当前：张伟民）"
    assert say(row, "张卫民") == "请说说情况："
    assert load(context(row)).answers["name"] == "张卫民"


def test_back_goes_to_the_previous_question(row):
    begin(row)
    say(row, "张伟民")
    assert forms.back(context(row)) == "请问您的姓名？"
    assert "name" not in load(context(row)).answers


def test_help_in_own_words_explains_the_question(row):
    begin(row)
    assert say(row, "怎么填啊") == (
        "写真实姓名。\n请问您的姓名？\n回复“返回”回到上一步，“修改”改已填的内容，“取消”退出，“人工”请工作人员帮您。")
    assert step(row) == Asking("name")


# --- media, location, long text ----------------------------------------------------------------


def to_story(row):
    begin(row)
    say(row, "张伟民")
    say(row, "1")


def test_a_voice_message_is_the_answer_where_the_field_takes_voice(row):
    to_story(row)
    reply = forms.handle(context(row, "voice", MediaId="VOICE-1"), Host().host())
    assert reply == "请输入详细地址："
    answers = load(context(row)).answers
    assert answers["story:media"] == [{"type": "voice", "media_id": "VOICE-1"}]
    say(row, "河口村3组12号")
    assert "情况：语音1条\n" in say(row, "同意")


def test_a_picture_where_text_is_wanted_repeats_the_question(row):
    begin(row)
    reply = forms.handle(context(row, "image", MediaId="IMG-1"), Host().host())
    assert reply == f"收到您的图片，不过这一步需要打字回复。\n请问您的姓名？\n{EXIT}"
    assert step(row) == Asking("name")


def test_a_location_at_the_address_fills_it_and_asks_to_confirm(row):
    to_story(row)
    say(row, "家里屋顶漏雨了")
    reply = forms.handle(context(row, "location", Label="青石镇石桥村5组8号"), Host().host())
    assert reply == "您发送的位置是：\n青石镇石桥村5组8号\n用它作为地址吗？\n1 就用这个地址  2 重新填写"
    assert step(row) == Offering("address", located=True)
    assert say(row, "1") == "回复“同意”继续。"
    assert load(context(row)).answers["address"] == "青石镇石桥村5组8号"


def test_a_long_story_is_kept_and_shortened_in_the_summary(row):
    to_story(row)
    story = "老" * 2000
    say(row, story)
    say(row, "河口村3组12号")
    assert f"情况：{'老' * 60}…（共2000字）\n" in say(row, "同意")
    say(row, "1")
    assert SUBMITTED[0]["story"] == story


# --- the stored shape -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [
    Asking("kind"), Asking("kind", editing=True), Offering("address", located=True), Confirming(), ChoosingEdit(),
    ConfirmingSwitch("other", "别的事", Offering("name")),
])
def test_every_step_survives_the_row(shape):
    assert step_from_json(step_to_json(shape)) == shape


def old_row(step_label, scratch, answers=None, prefill=None):
    return ConversationState(openid="oOld", version=3, form="engine_toy", step=step_label,
                             answers={"a": answers or {}, "p": prefill or {}}, scratch=scratch)


def test_rows_written_before_version_2_are_read():
    options = [["a", "甲类", []], ["b", "乙类", []], ["staff", "工作人员代办", []]]
    row = old_row("kind", {"strikes": 2, "options_for": "kind", "options": options, "offer": False},
                  answers={"name": "张伟民"})
    draft = load(context(row))
    assert (draft.step, draft.strikes, draft.answers) == (Asking("kind"), 2, {"name": "张伟民"})
    assert [o.label for o in draft.shown.options] == ["甲类", "乙类", "工作人员代办"]
    assert load(context(old_row("name", {"offer": True}, prefill={"name": "王秀兰"}))).step == Offering("name")
    assert load(context(old_row("kind", {"editing": True}))).step == Asking("kind", editing=True)
    assert load(context(old_row(":confirm", {}))).step == Confirming()
    assert load(context(old_row(":edit", {}))).step == ChoosingEdit()
    switch = {"switch": "other", "switch_title": "别的事", "resume": ":confirm"}
    assert load(context(old_row(":switch", switch))).step == ConfirmingSwitch("other", "别的事", Confirming())


def test_an_old_row_is_answered_and_rewritten_in_the_new_shape():
    row = old_row("kind", {"options_for": "kind", "options": [["b", "乙类", []], ["a", "甲类", []]]},
                  answers={"name": "张伟民"})
    assert say(row, "1") == "请说说情况："
    assert load(context(row)).answers["kind"] == "b"  # the numbers the user saw
    assert row.scratch["v"] == 2 and row.scratch["step"] == {"kind": "ask", "field": "story"} and row.step == "story"


def test_a_row_naming_a_field_that_is_gone_is_unreadable():
    with pytest.raises(Unreadable):
        load(context(old_row("retired", {})))
    with pytest.raises(Unreadable):
        load(context(old_row(":switch", {"switch": "other"})))


def test_a_voice_message_at_an_offered_value_asks_for_1_or_2(row):
    begin(row, prefill={"name": "王秀兰"})
    reply = forms.handle(context(row, "voice", MediaId="VOICE-2"), Host().host())
    assert reply == f"收到您的语音，不过这一步需要回复“1”或“2”。\n姓名：王秀兰\n1 沿用  2 重新填写\n{EXIT}"
    assert step(row) == Offering("name")


def test_a_story_that_mentions_staff_or_help_is_an_answer_not_a_command(row):
    to_story(row)
    host = Host()
    assert say(row, "工作人员来过了", host) == "请输入详细地址："  # outside a story this would ask for a person
    assert host.calls == [] and load(context(row)).answers["story"] == "工作人员来过了"
    say(row, "返回")
    assert say(row, "不填了").startswith("已取消“试填表”")  # plain command words still work in a story


def test_a_command_in_own_words_at_a_choice_step(row):
    begin(row)
    say(row, "张伟民")
    host = Host()
    assert say(row, "找个工作人员跟我说", host) == "已转人工"
    assert host.calls == ["person"]
