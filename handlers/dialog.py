"""The form engine: declarative forms asked one field at a time, with state in the database.

A flow declares a `Form` — ordered `Field`s (question, pure validator or numbered
options, a condition on earlier answers, optional, shown masked in the summary) —
and what to do once the user confirms. The engine keeps where the user is in
`conversation_state` (locked by the router for the whole message), so any worker
continues any conversation.

Steps: a field key while a question is open; ":confirm" on the summary (1 确认
2 修改 0 取消); ":edit" while choosing which item to change; ":switch" while asking
whether to abandon this form for another flow. 取消, 返回, 帮助 and 人工 work in every
step; three invalid answers in a row bring an explanation and the offer of a person.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field as dc_field
from datetime import timedelta
from typing import Any, Callable, Sequence

from handlers.fields import Invalid, Option, choose, choose_many, normalize
from handlers.message import Context
from services import conversations

Answers = dict[str, Any]
OptionSource = Sequence[Option] | Callable[[Context, Answers], Sequence[Option]]

CONFIRM, EDIT, SWITCH = ":confirm", ":edit", ":switch"
SPECIAL_STEPS = (CONFIRM, EDIT, SWITCH)
EXIT_HINT = "（回复“取消”可随时退出，“返回”上一步）"
SKIP_WORDS = ("跳过", "无", "没有", "不用")
KEEP_WORDS = ("1", "沿用", "不变", "是", "好", "对")
REDO_WORDS = ("2", "重新填写", "修改", "更换", "换")
CONFIRM_WORDS = ("1", "确认", "确认提交", "提交", "是", "确定", "确认报名", "确认取消报名")
CHANGE_WORDS = ("2", "修改", "重新选择")
ABANDON_WORDS = ("0", "取消", "不取消了")
STRIKES_BEFORE_HELP = 3
DEFAULT_TIMEOUT_MINUTES = 30


class Stop(Exception):
    """Raised by a submit or an option source: end the form and tell the user why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Field:
    key: str
    label: str  # in the summary and in the 修改 list
    question: str | Callable[[Context, Answers], str]
    parse: Callable[[str], Any] | None = None  # free-text validator: value or Invalid
    options: OptionSource | None = None  # numbered choices instead of free text
    multi: bool = False
    when: Callable[[Answers], bool] | None = None  # asked only when this holds
    optional: bool = False  # "跳过" leaves it empty
    hint: str = ""  # what 帮助 explains, and what a third mistake repeats
    show: Callable[[Any], str] | None = None  # summary display (masking)
    media: bool = False  # a voice message or a picture is accepted as the answer
    resets: tuple[str, ...] = ()  # answers that depend on this one
    editable: bool = True
    in_summary: bool = True
    columns: int = 1  # options per line, for long lists of short words
    free_text_ok: bool = False  # with options: text that is no option is taken as typed
    # Runs after a valid answer, with the database: may raise Invalid (ask again) or Stop.
    guard: Callable[[Context, Any], None] | None = None

    def applies(self, answers: Answers) -> bool:
        return self.when is None or bool(self.when(answers))


@dataclass(frozen=True)
class Form:
    name: str
    title: str
    fields: tuple[Field, ...]
    submit: Callable[[Context, Answers], str]
    intro: str = ""
    confirm: bool = True  # show a summary before submitting
    heading: str = "请核对："
    confirm_line: str = "1 确认提交  2 修改  0 取消"
    describe: Callable[[Context, Answers], str] | None = None  # replaces the list of answers

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


@dataclass
class Draft:
    """The state row, unpacked: which form, which step, what was answered."""

    form: Form
    step: str
    answers: Answers
    prefill: Answers
    scratch: dict[str, Any] = dc_field(default_factory=dict)


_FORMS: dict[str, Form] = {}


def _stoppable(step: Callable[..., str]) -> Callable[..., str]:
    """A Stop raised anywhere inside a step (an option source, a submit) ends the form politely."""

    @functools.wraps(step)
    def run(ctx: Context, *args, **kwargs) -> str:
        try:
            return step(ctx, *args, **kwargs)
        except Stop as stop:
            _end(ctx)
            return stop.message

    return run


def register(form: Form) -> Form:
    _FORMS[form.name] = form
    return form


def form_named(name: str | None) -> Form | None:
    return _FORMS.get(name or "")


# --- state ------------------------------------------------------------------


def _timeout(ctx: Context) -> timedelta:
    return timedelta(minutes=getattr(ctx.settings, "form_timeout_minutes", None) or DEFAULT_TIMEOUT_MINUTES)


def _load(ctx: Context) -> Draft:
    state = ctx.state
    stored = state.answers or {}
    return Draft(
        form=_FORMS[state.form],
        step=state.step,
        answers=dict(stored.get("a", {})),
        prefill=dict(stored.get("p", {})),
        scratch=dict(state.scratch or {}),
    )


def _save(ctx: Context, draft: Draft) -> None:
    conversations.save(
        ctx.state,
        form=draft.form.name,
        step=draft.step,
        answers={"a": draft.answers, "p": draft.prefill},
        scratch=draft.scratch,
        now=ctx.now,
        timeout=_timeout(ctx),
    )


def _end(ctx: Context) -> None:
    conversations.clear(ctx.state, ctx.now)


def active_form(ctx: Context) -> Form | None:
    return form_named(ctx.state.form) if ctx.state is not None and ctx.state.form else None


def check_stale(ctx: Context) -> str | None:
    """Reset an expired form, or one whose form or step no longer exists; say so."""
    state = ctx.state
    if state is None or state.form is None:
        return None
    form = form_named(state.form)
    if form is None or (state.step not in SPECIAL_STEPS and form.field(state.step or "") is None):
        _end(ctx)
        return "抱歉，服务刚刚更新，您之前填写的内容需要重新开始。"
    if conversations.has_expired(state, ctx.now):
        _end(ctx)
        minutes = int(_timeout(ctx).total_seconds() // 60)
        return f"您之前填写的“{form.title}”超过{minutes}分钟没有继续，已自动结束，内容没有保存。"
    return None


# --- starting and moving on -------------------------------------------------


@_stoppable
def start(
    ctx: Context,
    form: Form,
    *,
    prefill: Answers | None = None,
    answers: Answers | None = None,
    edit: bool = False,
    intro: str | None = None,
) -> str:
    """Begin a form. `prefill`: known values offered for keeping; `answers` + `edit`: a
    finished form re-opened at the "which item to change" step (修改我的信息)."""
    draft = Draft(form, "", dict(answers or {}), {k: v for k, v in (prefill or {}).items() if v})
    if edit:
        return _to_edit(ctx, draft, prefix=intro or "")
    head = intro if intro is not None else form.intro
    return _advance(ctx, draft, prefix=f"{head}\n" if head else "", first=True)


def _next_field(draft: Draft) -> Field | None:
    return next((f for f in draft.form.fields if f.applies(draft.answers) and f.key not in draft.answers), None)


def _advance(ctx: Context, draft: Draft, prefix: str = "", first: bool = False) -> str:
    draft.scratch.pop("editing", None)
    following = _next_field(draft)
    if following is not None:
        return _ask(ctx, draft, following, prefix, first=first)
    if draft.form.confirm:
        return _to_summary(ctx, draft, prefix)
    return _submit(ctx, draft, prefix)


def _ask(ctx: Context, draft: Draft, field: Field, prefix: str = "", first: bool = False) -> str:
    if draft.step != field.key:
        draft.scratch.pop("strikes", None)
        draft.scratch.pop("options_for", None)
    draft.step = field.key
    draft.scratch["offer"] = field.key in draft.prefill and field.key not in draft.answers
    text = _prompt(ctx, draft)
    _save(ctx, draft)
    return prefix + text + (f"\n{EXIT_HINT}" if first else "")


def _options(ctx: Context, draft: Draft, field: Field) -> list[Option]:
    """The options as shown when the question was asked, so the numbers stay stable."""
    if draft.scratch.get("options_for") == field.key:
        return [Option(v, label, tuple(aliases)) for v, label, aliases in draft.scratch["options"]]
    source = field.options
    options = list(source(ctx, draft.answers) if callable(source) else source or ())
    draft.scratch["options_for"] = field.key
    draft.scratch["options"] = [[o.value, o.label, list(o.aliases)] for o in options]
    return options


def _render_options(options: Sequence[Option], columns: int) -> str:
    cells = [f"{n} {o.label}" for n, o in enumerate(options, start=1)]
    return "\n".join("  ".join(cells[i : i + columns]) for i in range(0, len(cells), columns))


def _question(ctx: Context, draft: Draft, field: Field) -> str:
    text = field.question(ctx, draft.answers) if callable(field.question) else field.question
    if field.options is not None:
        text += "\n" + _render_options(_options(ctx, draft, field), field.columns)
    if field.optional:
        text += "\n（没有可回复“跳过”）"
    return text


def _prompt(ctx: Context, draft: Draft) -> str:
    """What the current step asks, rendered again (for 帮助, 返回 and corrections)."""
    if draft.step == CONFIRM:
        return _summary_text(ctx, draft)
    if draft.step == EDIT:
        return _edit_text(draft)
    if draft.step == SWITCH:
        return _switch_text(draft)
    field = draft.form.field(draft.step)
    if draft.scratch.get("offer"):
        return f"{field.label}：{display(ctx, draft, field, draft.prefill[field.key])}\n1 沿用  2 重新填写"
    text = _question(ctx, draft, field)
    if draft.scratch.get("editing") and field.key in draft.answers:
        text += f"\n（当前：{display(ctx, draft, field, draft.answers[field.key])}）"
    return text


def display(ctx: Context, draft: Draft, field: Field, value: Any) -> str:
    if value is None or value == [] or value == "":
        return "（未填写）"
    if field.show is not None:
        return field.show(value)
    if field.options is not None:
        source = field.options
        labels = {o.value: o.label for o in (source(ctx, draft.answers) if callable(source) else source)}
        values = value if isinstance(value, list) else [value]
        return "、".join(labels.get(v, str(v)) for v in values)
    return str(value)


# --- the message of a user inside a form --------------------------------------


@_stoppable
def handle(ctx: Context, entry_for: Callable[[str], Any], start_entry: Callable[[Context, Any], str]) -> str:
    """Answer a message while a form is active. `entry_for` finds another flow's keyword."""
    draft = _load(ctx)
    text = ctx.message.text if ctx.message.msg_type == "text" else ""
    if draft.step == SWITCH:
        return _on_switch(ctx, draft, text, entry_for, start_entry)
    entry = entry_for(text) if text else None
    if entry is not None and not _is_an_answer(ctx, draft, text):
        return handle_entry(ctx, entry)
    if draft.step == CONFIRM:
        return _on_confirm(ctx, draft, text)
    if draft.step == EDIT:
        return _on_edit(ctx, draft, text)
    return _on_answer(ctx, draft, draft.form.field(draft.step))


@_stoppable
def handle_entry(ctx: Context, entry) -> str:
    """A menu click or keyword for a flow while this form is open."""
    draft = _load(ctx)
    if draft.step == SWITCH:  # a second click while we were asking: ask about the newest
        draft.step = draft.scratch.pop("resume")
    if getattr(entry, "form", None) == draft.form.name:
        text = f"您正在填写“{draft.form.title}”，我们接着来：\n{_prompt(ctx, draft)}"
        _save(ctx, draft)
        return text
    return _ask_switch(ctx, draft, entry)


def _is_an_answer(ctx: Context, draft: Draft, text: str) -> bool:
    """A choice that happens to share words with a flow keyword ("政策咨询", "修改") is an answer."""
    if draft.step == CONFIRM:
        return normalize(text) in CONFIRM_WORDS + CHANGE_WORDS + ABANDON_WORDS
    if draft.step == EDIT:
        try:
            choose(text, [Option(f.key, f.label) for f in _editable(draft)])
        except Invalid:
            return False
        return True
    field = draft.form.field(draft.step)
    if field is None or field.options is None or draft.scratch.get("offer"):
        return False
    try:
        _parse(ctx, draft, field, text)
    except Invalid:
        return False
    return True


def _parse(ctx: Context, draft: Draft, field: Field, text: str) -> Any:
    if field.options is not None:
        options = _options(ctx, draft, field)
        try:
            return choose_many(text, options) if field.multi else choose(text, options)
        except Invalid:
            if field.free_text_ok and field.parse:
                return field.parse(text)
            raise
    return field.parse(text) if field.parse else text.strip()


def _on_answer(ctx: Context, draft: Draft, field: Field) -> str:
    message = ctx.message
    text = message.text if message.msg_type == "text" else ""
    if draft.scratch.get("offer"):
        return _on_offer(ctx, draft, field, text)
    if message.msg_type != "text":
        if field.media and message.msg_type in ("voice", "image"):
            return _take(ctx, draft, field, _media_answer(draft, field, message))
        return _mistake(ctx, draft, field, "这一步需要文字回答，请直接打字回复。")
    if field.optional and normalize(text) in SKIP_WORDS:
        return _take(ctx, draft, field, None)
    try:
        value = _parse(ctx, draft, field, text)
        if field.guard is not None:
            field.guard(ctx, value)
    except Invalid as invalid:
        return _mistake(ctx, draft, field, invalid.message)
    except Stop as stop:
        _end(ctx)
        return stop.message
    return _take(ctx, draft, field, value)


def _media_answer(draft: Draft, field: Field, message) -> str:
    """A voice message or picture is attached for staff; its transcript (if any) is the text."""
    attached = draft.answers.setdefault(f"{field.key}:media", [])
    attached.append({"type": message.msg_type, "media_id": message.fields.get("MediaId")})
    recognition = (message.fields.get("Recognition") or "").strip()
    return recognition or ("（语音留言）" if message.msg_type == "voice" else "（图片）")


def _take(ctx: Context, draft: Draft, field: Field, value: Any) -> str:
    previous = draft.answers.get(field.key, draft.prefill.get(field.key, object()))
    draft.answers[field.key] = value
    if previous != value:  # what depended on the old value (a village of another town) goes
        for key in field.resets:
            draft.answers.pop(key, None)
            draft.prefill.pop(key, None)
    return _advance(ctx, draft)


def _on_offer(ctx: Context, draft: Draft, field: Field, text: str) -> str:
    word = normalize(text)
    if word in KEEP_WORDS:
        return _take(ctx, draft, field, draft.prefill[field.key])
    if word in REDO_WORDS:
        draft.prefill.pop(field.key, None)
        return _ask(ctx, draft, field)
    if text and field.options is None:  # a new value typed straight away
        try:
            return _take(ctx, draft, field, _parse(ctx, draft, field, text))
        except Invalid as invalid:
            return _mistake(ctx, draft, field, invalid.message)
    return _mistake(ctx, draft, field, "请回复“1”沿用，或回复“2”重新填写。")


def _mistake(ctx: Context, draft: Draft, field: Field, correction: str) -> str:
    strikes = draft.scratch.get("strikes", 0) + 1
    draft.scratch["strikes"] = strikes
    lines = [correction]
    if strikes >= STRIKES_BEFORE_HELP:
        # Never loop: explain once more and offer a person instead of the same prompt again.
        if field.hint:
            lines.append(field.hint)
        lines.append("如果填写有困难，回复“人工”请工作人员帮您办理，或回复“取消”退出。")
    if draft.scratch.get("offer"):
        lines.append("1 沿用  2 重新填写")
    elif field.options is not None:
        lines.append(_render_options(_options(ctx, draft, field), field.columns))
    if strikes < STRIKES_BEFORE_HELP:
        lines.append(EXIT_HINT)
    _save(ctx, draft)
    return "\n".join(lines)


# --- summary, edit, submit ----------------------------------------------------


def _applicable(draft: Draft) -> list[Field]:
    return [f for f in draft.form.fields if f.applies(draft.answers)]


def _summary_text(ctx: Context, draft: Draft) -> str:
    if draft.form.describe is not None:
        return f"{draft.form.describe(ctx, draft.answers)}\n{draft.form.confirm_line}"
    lines = [draft.form.heading]
    for field in _applicable(draft):
        if field.in_summary and field.key in draft.answers:
            lines.append(f"{field.label}：{display(ctx, draft, field, draft.answers[field.key])}")
    lines.append(draft.form.confirm_line)
    return "\n".join(lines)


def _to_summary(ctx: Context, draft: Draft, prefix: str = "") -> str:
    draft.step = CONFIRM
    draft.scratch.pop("strikes", None)
    text = _summary_text(ctx, draft)
    _save(ctx, draft)
    return prefix + text


def _on_confirm(ctx: Context, draft: Draft, text: str) -> str:
    word = normalize(text)
    if word in CONFIRM_WORDS:
        return _submit(ctx, draft)
    if word in CHANGE_WORDS:
        return _to_edit(ctx, draft)
    if word in ABANDON_WORDS:
        return cancel(ctx)
    return f"请回复“1”确认提交，“2”修改，或“0”取消。\n{draft.form.confirm_line}"


def _editable(draft: Draft) -> list[Field]:
    return [f for f in _applicable(draft) if f.editable and f.in_summary]


def _edit_text(draft: Draft) -> str:
    items = "\n".join(f"{n} {f.label}" for n, f in enumerate(_editable(draft), start=1))
    return f"您要修改哪一项？请回复序号：\n{items}\n（回复“返回”回到核对页）"


def _to_edit(ctx: Context, draft: Draft, prefix: str = "") -> str:
    editable = _editable(draft)
    if len(editable) == 1:  # nothing to choose between: ask that item again
        return _open_for_edit(ctx, draft, editable[0])
    draft.step = EDIT
    draft.scratch.pop("strikes", None)
    text = _edit_text(draft)
    _save(ctx, draft)
    return (f"{prefix}\n" if prefix else "") + text


def _on_edit(ctx: Context, draft: Draft, text: str) -> str:
    fields = _editable(draft)
    try:
        key = choose(text, [Option(f.key, f.label) for f in fields])
    except Invalid as invalid:
        return f"{invalid.message}\n{_edit_text(draft)}"
    return _open_for_edit(ctx, draft, draft.form.field(key))


def _open_for_edit(ctx: Context, draft: Draft, field: Field) -> str:
    draft.prefill.pop(field.key, None)
    draft.step = field.key
    draft.scratch.update(editing=True, offer=False)
    for key in ("strikes", "options_for"):
        draft.scratch.pop(key, None)
    prompt = _prompt(ctx, draft)
    _save(ctx, draft)
    return prompt


def _submit(ctx: Context, draft: Draft, prefix: str = "") -> str:
    # Answers of fields that no longer apply are dropped; keys that are no field
    # (an id given at start, attachments "description:media") pass through.
    answers = {
        key: value
        for key, value in draft.answers.items()
        if (field := draft.form.field(key)) is None or field.applies(draft.answers)
    }
    answers.update({f.key: None for f in _applicable(draft) if f.key not in answers})
    _end(ctx)  # before submit, which may start a follow-up form of its own
    try:
        return prefix + draft.form.submit(ctx, answers)
    except Stop as stop:
        return prefix + stop.message


# --- switching to another flow ------------------------------------------------


def _switch_text(draft: Draft) -> str:
    target = draft.scratch["switch_title"]
    return (
        f"您正在填写“{draft.form.title}”，还没有提交。\n"
        f"要放弃它，改去“{target}”吗？\n1 放弃，去{target}\n2 继续填写"
    )


def _ask_switch(ctx: Context, draft: Draft, entry) -> str:
    draft.scratch["switch"] = entry.name
    draft.scratch["switch_title"] = entry.title
    draft.scratch["resume"] = draft.step
    draft.step = SWITCH
    text = _switch_text(draft)
    _save(ctx, draft)
    return text


def _on_switch(ctx, draft: Draft, text: str, entry_for, start_entry) -> str:
    word = normalize(text)
    if word in ("1", "是", "放弃", "好"):
        _end(ctx)
        return start_entry(ctx, draft.scratch["switch"])
    if word in ("2", "否", "继续", "继续填写", "不"):
        return _resume(ctx, draft, "好的，我们继续。\n")
    return f"请回复“1”放弃，或“2”继续填写。\n1 放弃，去{draft.scratch['switch_title']}\n2 继续填写"


def _resume(ctx: Context, draft: Draft, prefix: str) -> str:
    draft.step = draft.scratch.pop("resume")
    for key in ("switch", "switch_title"):
        draft.scratch.pop(key, None)
    text = _prompt(ctx, draft)
    _save(ctx, draft)
    return prefix + text


# --- the global commands inside a form ----------------------------------------


def cancel(ctx: Context) -> str:
    form = active_form(ctx)
    _end(ctx)
    return f"已取消“{form.title}”，您填写的内容没有保存。\n需要时回复“帮助”查看可办理的事项。"


@_stoppable
def back(ctx: Context) -> str:
    draft = _load(ctx)
    if draft.step == SWITCH:
        return _resume(ctx, draft, "")
    if draft.step == EDIT or draft.scratch.get("editing"):
        return _to_summary(ctx, draft)
    current = None if draft.step == CONFIRM else draft.form.field(draft.step)
    earlier = _applicable(draft)
    if current is not None:
        earlier = earlier[: earlier.index(current)] if current in earlier else []
    earlier = [f for f in earlier if f.key in draft.answers]
    if not earlier:
        return f"已经是第一个问题了。\n{_prompt(ctx, draft)}"
    previous = earlier[-1]
    draft.answers.pop(previous.key, None)
    draft.answers.pop(f"{previous.key}:media", None)
    return _ask(ctx, draft, previous)


@_stoppable
def explain(ctx: Context) -> str:
    draft = _load(ctx)
    field = draft.form.field(draft.step)
    hint = field.hint if field is not None and field.hint else f"您正在填写“{draft.form.title}”。"
    return (
        f"{hint}\n{_prompt(ctx, draft)}\n"
        "回复“返回”回到上一步，“取消”退出，“人工”请工作人员帮您。"
    )


def title_of_active(ctx: Context) -> str | None:
    form = active_form(ctx)
    return form.title if form else None


def end_silently(ctx: Context) -> None:
    """Drop the form without a message (unsubscribe, handover, data erasure)."""
    if ctx.state is not None and ctx.state.form is not None:
        _end(ctx)
