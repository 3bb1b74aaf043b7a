"""A message inside a form: one handler per step (as python-telegram-bot maps states to
callbacks), plus what 取消, 返回, 修改, 帮助 and 人工 do in each step.

Order for a text: a valid answer to this step wins (a choice "政策咨询", the summary's
"2 修改"); then a command in the user's own words; then another flow's words; then the
step's own handling (a free-text answer, or a correction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from handlers.fields import Invalid, choose, normalize
from handlers.forms import engine
from handlers.forms.controls import control_of
from handlers.forms.engine import stoppable
from handlers.forms.model import Field, Form, form_named
from handlers.forms.state import (Asking, ChoosingEdit, Confirming, ConfirmingSwitch, Draft, Offering, Unreadable,
                                  end, load, save, timeout)
from handlers.message import Context
from services import conversations

SKIP_WORDS = ("跳过", "无", "没有", "不用")
KEEP_WORDS = ("1", "沿用", "不变", "是", "好", "对", "就用这个", "用这个", "可以")
REDO_WORDS = ("2", "重新填写", "修改", "更换", "换", "重新填", "不用这个")
CONFIRM_WORDS = ("1", "确认", "确认提交", "提交", "是", "确定", "确认报名", "确认取消报名")
CHANGE_WORDS = ("2", "修改", "重新选择")
ABANDON_WORDS = ("0", "取消", "不取消了")
SWITCH_WORDS = ("1", "是", "放弃", "好")
STAY_WORDS = ("2", "否", "继续", "继续填写", "不")
MEDIA_NAMES = {"voice": "语音", "image": "图片", "video": "视频", "shortvideo": "视频", "location": "位置",
               "link": "链接"}


@dataclass(frozen=True)
class Host:
    """What the engine needs from the router: other flows and the hand-over to a person."""

    flow_for: Callable[[str], Any]  # typed words -> a Flow, or None
    start_flow: Callable[[Context, str], str | None]  # by the flow's name
    hand_over: Callable[[Context], str | None]


# --- the state of the row --------------------------------------------------------------


def active_form(ctx: Context) -> Form | None:
    return form_named(ctx.state.form) if ctx.state is not None and ctx.state.form else None


def check_stale(ctx: Context) -> str | None:
    """Reset an expired form, or one whose form or step no longer exists; say so."""
    state = ctx.state
    if state is None or state.form is None:
        return None
    try:
        draft = load(ctx)
    except Unreadable:
        end(ctx)
        return "抱歉，服务刚刚更新，您之前填写的内容需要重新开始。"
    if conversations.has_expired(state, ctx.now):
        end(ctx)
        minutes = int(timeout(ctx).total_seconds() // 60)
        return f"您之前填写的“{draft.form.title}”超过{minutes}分钟没有继续，已自动结束，内容没有保存。"
    return None


def title_of_active(ctx: Context) -> str | None:
    form = active_form(ctx)
    return form.title if form else None


def end_silently(ctx: Context) -> None:
    """Drop the form without a message (unsubscribe, handover, data erasure)."""
    if ctx.state is not None and ctx.state.form is not None:
        end(ctx)


# --- one handler per step ----------------------------------------------------------------


def _field(draft: Draft) -> Field:
    return draft.form.field(draft.step.field)


def on_asking(ctx: Context, draft: Draft, message, _host: Host) -> str:
    field = _field(draft)
    if message.msg_type != "text":
        return _not_text(ctx, draft, field, message)
    text = message.text
    if field.optional and normalize(text) in SKIP_WORDS:
        return engine.take(ctx, draft, field, None)
    try:
        value = engine.parse(ctx, draft, field, text)
        if field.guard is not None:
            field.guard(ctx, value)
    except Invalid as invalid:
        return engine.mistake(ctx, draft, field, invalid.message)
    return engine.take(ctx, draft, field, value)


def on_offering(ctx: Context, draft: Draft, message, _host: Host) -> str:
    field = _field(draft)
    if message.msg_type != "text":
        return _not_text(ctx, draft, field, message)
    text = message.text
    word = normalize(text)
    if word in KEEP_WORDS:
        return engine.take(ctx, draft, field, draft.prefill[field.key])
    if word in REDO_WORDS:
        draft.prefill.pop(field.key, None)
        return engine.ask(ctx, draft, field)
    if text and field.options is None:  # a new value typed straight away
        try:
            return engine.take(ctx, draft, field, engine.parse(ctx, draft, field, text))
        except Invalid as invalid:
            return engine.mistake(ctx, draft, field, invalid.message)
    keep = "用这个地址" if draft.step.located else "沿用"
    return engine.mistake(ctx, draft, field, f"请回复“1”{keep}，或回复“2”重新填写。")


def on_confirming(ctx: Context, draft: Draft, message, _host: Host) -> str:
    word = normalize(message.text) if message.msg_type == "text" else ""
    if word in CONFIRM_WORDS:
        return engine.submit(ctx, draft)
    if word in CHANGE_WORDS:
        return engine.to_edit(ctx, draft)
    if word in ABANDON_WORDS:
        return cancel(ctx)
    return f"请回复“1”确认提交，“2”修改，或“0”取消。\n{draft.form.confirm_line}"


def on_choosing_edit(ctx: Context, draft: Draft, message, _host: Host) -> str:
    try:
        key = choose(message.text if message.msg_type == "text" else "", engine.edit_options(draft))
    except Invalid as invalid:
        return f"{invalid.message}\n{engine.edit_text(draft)}"
    return engine.open_for_edit(ctx, draft, draft.form.field(key))


def on_switch(ctx: Context, draft: Draft, message, host: Host) -> str:
    step: ConfirmingSwitch = draft.step
    word = normalize(message.text) if message.msg_type == "text" else ""
    if word in SWITCH_WORDS:
        end(ctx)
        return host.start_flow(ctx, step.flow)
    if word in STAY_WORDS:
        return _resume(ctx, draft, "好的，我们继续。\n")
    return f"请回复“1”放弃，或“2”继续填写。\n1 放弃，去{step.title}\n2 继续填写"


ON_MESSAGE = {Asking: on_asking, Offering: on_offering, Confirming: on_confirming, ChoosingEdit: on_choosing_edit,
              ConfirmingSwitch: on_switch}


def _not_text(ctx: Context, draft: Draft, field: Field, message) -> str:
    """Voice, a picture or a location where the step wants something else."""
    kind = message.msg_type
    if field.accepts(kind) and isinstance(draft.step, Asking):
        return engine.take_media(ctx, draft, field, message)
    if kind == "location" and field.accepts_location:
        return _offer_location(ctx, draft, field, message)
    if isinstance(draft.step, Offering):
        need = "回复“1”或“2”"
    else:
        need = "回复选项前的数字" if field.options is not None else "打字回复"
    received = f"收到您的{MEDIA_NAMES[kind]}，" if kind in MEDIA_NAMES else ""
    return engine.mistake(ctx, draft, field, f"{received}不过这一步需要{need}。", again=True)


def _offer_location(ctx: Context, draft: Draft, field: Field, message) -> str:
    """The place's name (Label) as the answer, shown for confirming: a map pin can be off."""
    label = (message.fields.get("Label") or "").strip()
    try:
        value = field.parse(label) if field.parse else label
    except Invalid:
        value = None
    if not value:
        return engine.mistake(ctx, draft, field, "没能从这个位置读出详细地址，请直接打字输入。", again=True)
    draft.prefill[field.key] = value
    engine.move(draft, Offering(field.key, located=True))
    text = engine.prompt(ctx, draft)
    save(ctx, draft)
    return text


def _is_an_answer(ctx: Context, draft: Draft, text: str) -> bool:
    """A valid answer of this step that shares words with a command or a flow ("修改", "政策咨询")."""
    step, word = draft.step, normalize(text)
    if isinstance(step, Confirming):
        return word in CONFIRM_WORDS + CHANGE_WORDS + ABANDON_WORDS
    if isinstance(step, Offering):
        return word in KEEP_WORDS + REDO_WORDS
    if isinstance(step, ChoosingEdit):
        try:
            choose(text, engine.edit_options(draft))
        except Invalid:
            return False
        return True
    field = _field(draft)
    if field.options is None:
        return False
    try:
        engine.parse(ctx, draft, field, text)
    except Invalid:
        return False
    return True


# --- the entry points ----------------------------------------------------------------------


@stoppable
def handle(ctx: Context, host: Host) -> str | None:
    """Answer a message while a form is active."""
    draft = load(ctx)
    message = ctx.message
    text = message.text if message.msg_type == "text" else ""
    # While asking whether to switch flows, the message answers that question and nothing else.
    if text and not isinstance(draft.step, ConfirmingSwitch) and not _is_an_answer(ctx, draft, text):
        prose = isinstance(draft.step, Asking) and _field(draft).prose
        control = control_of(text, prose=prose)
        if control is not None:
            return CONTROLS[control](ctx, host)
        flow = host.flow_for(text)
        if flow is not None:
            return handle_entry(ctx, flow)
    return ON_MESSAGE[type(draft.step)](ctx, draft, message, host)


@stoppable
def handle_entry(ctx: Context, flow) -> str:
    """A menu click or another flow's words while this form is open."""
    draft = load(ctx)
    if isinstance(draft.step, ConfirmingSwitch):  # a second click while we were asking: ask about the newest
        draft.step = draft.step.resume
    if flow.opens(draft.form):
        text = f"您正在填写“{draft.form.title}”，我们接着来：\n{engine.prompt(ctx, draft)}"
        save(ctx, draft)
        return text
    engine.move(draft, ConfirmingSwitch(flow.name, flow.title, draft.step))
    text = engine.prompt(ctx, draft)
    save(ctx, draft)
    return text


def _resume(ctx: Context, draft: Draft, prefix: str) -> str:
    engine.move(draft, draft.step.resume)
    text = engine.prompt(ctx, draft)
    save(ctx, draft)
    return prefix + text


# --- the commands inside a form --------------------------------------------------------------


def cancel(ctx: Context) -> str:
    form = active_form(ctx)
    end(ctx)
    return f"已取消“{form.title}”，您填写的内容没有保存。\n需要时回复“帮助”查看可办理的事项。"


@stoppable
def back(ctx: Context) -> str:
    draft = load(ctx)
    step = draft.step
    if isinstance(step, ConfirmingSwitch):
        return _resume(ctx, draft, "")
    if isinstance(step, ChoosingEdit) or (isinstance(step, Asking) and step.editing):
        return engine.advance(ctx, draft)  # the summary, or the question the user had reached
    earlier = engine.applicable(draft)
    if isinstance(step, (Asking, Offering)):
        current = _field(draft)
        earlier = earlier[: earlier.index(current)] if current in earlier else []
    earlier = [f for f in earlier if f.key in draft.answers]
    if not earlier:
        return f"已经是第一个问题了。\n{engine.prompt(ctx, draft)}"
    previous = earlier[-1]
    draft.answers.pop(previous.key, None)
    draft.answers.pop(previous.media_key, None)
    return engine.ask(ctx, draft, previous)


@stoppable
def edit(ctx: Context) -> str:
    """修改 in the middle of a form: change an answer of this form (not the profile)."""
    draft = load(ctx)
    if not engine.editable(draft):
        return f"还没有填写可以修改的内容，我们接着来：\n{engine.prompt(ctx, draft)}"
    return engine.to_edit(ctx, draft)


@stoppable
def explain(ctx: Context) -> str:
    draft = load(ctx)
    field = draft.form.field(draft.step.field) if isinstance(draft.step, (Asking, Offering)) else None
    hint = field.hint if field is not None and field.hint else f"您正在填写“{draft.form.title}”。"
    return (
        f"{hint}\n{engine.prompt(ctx, draft)}\n"
        "回复“返回”回到上一步，“修改”改已填的内容，“取消”退出，“人工”请工作人员帮您。"
    )


@stoppable
def later(ctx: Context) -> str:
    """等一下 in the middle of a form: nothing is lost; the form's time starts again now."""
    draft = load(ctx)
    minutes = int(timeout(ctx).total_seconds() // 60)
    text = engine.prompt(ctx, draft)
    save(ctx, draft)
    return f"好的，不着急。已填的内容为您保留{minutes}分钟，回来后接着回答这一题就行：\n{text}"


CONTROLS: dict[str, Callable[[Context, Host], str | None]] = {
    "cancel": lambda ctx, host: cancel(ctx),
    "back": lambda ctx, host: back(ctx),
    "edit": lambda ctx, host: edit(ctx),
    "help": lambda ctx, host: explain(ctx),
    "later": lambda ctx, host: later(ctx),
    "person": lambda ctx, host: host.hand_over(ctx),
}
