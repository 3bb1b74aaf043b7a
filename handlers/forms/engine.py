"""Moving a draft from step to step: ask, offer, take an answer, summarise, edit, submit.

Every function that changes the step saves the draft before returning the text to send,
so what the user reads is always what the row says.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from handlers.display import shorten
from handlers.fields import Invalid, Option, by_words, choose, choose_many
from handlers.forms.model import Answers, Field, Form, Stop
from handlers.forms.state import (Asking, ChoosingEdit, Confirming, ConfirmingSwitch, Draft, Offering, Shown, Step,
                                  end, save)
from handlers.message import Context

EXIT_HINT = "（回复“取消”可随时退出，“返回”上一步）"
STRIKES_BEFORE_HELP = 3
VOICE_ANSWER, IMAGE_ANSWER = "（语音留言）", "（图片）"  # the text of an answer given only as media


def stoppable(step: Callable[..., str]) -> Callable[..., str]:
    """A Stop raised anywhere inside a step (an option source, a submit) ends the form politely."""

    @functools.wraps(step)
    def run(ctx: Context, *args, **kwargs) -> str:
        try:
            return step(ctx, *args, **kwargs)
        except Stop as stop:
            end(ctx)
            return stop.message

    return run


@stoppable
def start(ctx: Context, form: Form, *, prefill: Answers | None = None, answers: Answers | None = None,
          edit: bool = False, intro: str | None = None) -> str:
    """Begin a form. `prefill`: known values offered for keeping; `answers` + `edit`: a
    finished form re-opened at the "which item to change" step (修改我的信息)."""
    draft = Draft(form, Confirming(), dict(answers or {}), {k: v for k, v in (prefill or {}).items() if v})
    if edit:
        named = by_words(ctx.message.text or "", edit_options(draft))
        if named is not None:  # "我的手机号换了": straight to 手机, not "您要修改哪一项？"
            return (f"{intro}\n" if intro else "") + open_for_edit(ctx, draft, draft.form.field(named.value))
        return to_edit(ctx, draft, prefix=intro or "")
    head = intro if intro is not None else form.intro
    return advance(ctx, draft, prefix=f"{head}\n" if head else "", first=True)


# --- questions -------------------------------------------------------------------------


def applicable(draft: Draft) -> list[Field]:
    return [f for f in draft.form.steps if f.applies(draft.answers)]


def next_field(draft: Draft) -> Field | None:
    return next((f for f in applicable(draft) if f.key not in draft.answers), None)


def advance(ctx: Context, draft: Draft, prefix: str = "", first: bool = False) -> str:
    following = next_field(draft)
    if following is not None:
        return ask(ctx, draft, following, prefix, first=first)
    if draft.form.confirm:
        return to_summary(ctx, draft, prefix)
    return submit(ctx, draft, prefix)


def move(draft: Draft, step: Step) -> None:
    """Change the step; a different question starts with no mistakes and fresh options."""
    if not (isinstance(draft.step, (Asking, Offering)) and isinstance(step, (Asking, Offering))
            and draft.step.field == step.field):
        draft.strikes = 0
        draft.shown = None
    draft.step = step


def ask(ctx: Context, draft: Draft, field: Field, prefix: str = "", first: bool = False) -> str:
    offered = field.key in draft.prefill and field.key not in draft.answers
    move(draft, Offering(field.key) if offered else Asking(field.key))
    text = prompt(ctx, draft)
    save(ctx, draft)
    return prefix + text + (f"\n{EXIT_HINT}" if first else "")


def options(ctx: Context, draft: Draft, field: Field) -> list[Option]:
    if draft.shown is not None and draft.shown.field == field.key:
        return list(draft.shown.options)
    source = field.options
    found = list(source(ctx, draft.answers) if callable(source) else source or ())
    draft.shown = Shown(field.key, tuple(found))
    return found


def render_options(found: Sequence[Option], columns: int) -> str:
    cells = [f"{n} {o.label}" for n, o in enumerate(found, start=1)]
    return "\n".join("  ".join(cells[i: i + columns]) for i in range(0, len(cells), columns))


def question(ctx: Context, draft: Draft, field: Field) -> str:
    text = field.question(ctx, draft.answers) if callable(field.question) else field.question
    if field.options is not None:
        text += "\n" + render_options(options(ctx, draft, field), field.columns)
    if field.optional:
        text += "\n（没有可回复“跳过”）"
    return text


def offer_line(located: bool) -> str:
    return "1 就用这个地址  2 重新填写" if located else "1 沿用  2 重新填写"


def prompt(ctx: Context, draft: Draft) -> str:
    """What the current step asks, rendered again (for 帮助, 返回, corrections)."""
    step = draft.step
    if isinstance(step, Confirming):
        return summary_text(ctx, draft)
    if isinstance(step, ChoosingEdit):
        return edit_text(draft)
    if isinstance(step, ConfirmingSwitch):
        return switch_text(draft, step)
    field = draft.form.field(step.field)
    if isinstance(step, Offering):
        if step.located:  # in full, unmasked: the user must see what a map pin turned into
            place = draft.prefill[field.key]
            return f"您发送的位置是：\n{place}\n用它作为{field.label}吗？\n{offer_line(True)}"
        return f"{field.label}：{display(ctx, draft, field, draft.prefill[field.key])}\n{offer_line(False)}"
    text = question(ctx, draft, field)
    if step.editing and field.key in draft.answers:
        text += f"\n（当前：{display(ctx, draft, field, draft.answers[field.key])}）"
    return text


def display(ctx: Context, draft: Draft, field: Field, value: Any) -> str:
    if value is None or value == [] or value == "":
        return "（未填写）"
    media = _media_words(draft.answers.get(field.media_key) or [])
    if media and value in (VOICE_ANSWER, IMAGE_ANSWER):
        return media
    if field.show is not None:
        shown = field.show(value)
    elif field.options is not None:
        source = field.options
        labels = {o.value: o.label for o in (source(ctx, draft.answers) if callable(source) else source)}
        values = value if isinstance(value, list) else [value]
        shown = "、".join(labels.get(v, str(v)) for v in values)
    else:
        shown = shorten(str(value))
    return f"{shown}（另有{media}）" if media else shown


def _media_words(attached: list[dict[str, Any]]) -> str:
    voices = sum(1 for a in attached if a.get("type") == "voice")
    pictures = sum(1 for a in attached if a.get("type") == "image")
    words = ([f"语音{voices}条"] if voices else []) + ([f"图片{pictures}张"] if pictures else [])
    return "、".join(words)


# --- answers ---------------------------------------------------------------------------


def parse(ctx: Context, draft: Draft, field: Field, text: str) -> Any:
    if field.options is not None:
        found = options(ctx, draft, field)
        try:
            return choose_many(text, found) if field.multi else choose(text, found)
        except Invalid:
            if field.free_text_ok and field.parse:
                return field.parse(text)
            raise
    return field.parse(text) if field.parse else text.strip()


def take(ctx: Context, draft: Draft, field: Field, value: Any) -> str:
    previous = draft.answers.get(field.key, draft.prefill.get(field.key, object()))
    draft.answers[field.key] = value
    if previous != value:  # what depended on the old value (a village of another town) goes
        for key in field.resets:
            draft.answers.pop(key, None)
            draft.prefill.pop(key, None)
    return advance(ctx, draft)


def take_media(ctx: Context, draft: Draft, field: Field, message) -> str:
    """A voice message or picture is the answer: its media id is kept for staff (they can fetch
    it while WeChat keeps it), its transcript (when WeChat made one) is the text."""
    recognition = (message.fields.get("Recognition") or "").strip()
    attached = {"type": message.msg_type, "media_id": message.fields.get("MediaId")}
    if recognition:
        attached["recognition"] = recognition
    draft.answers.setdefault(field.media_key, []).append(attached)
    return take(ctx, draft, field, recognition or (VOICE_ANSWER if message.msg_type == "voice" else IMAGE_ANSWER))


def mistake(ctx: Context, draft: Draft, field: Field, correction: str, *, again: bool = False) -> str:
    """Say what was wrong; `again`: repeat the whole question, not only its choices."""
    draft.strikes += 1
    lines = [correction]
    if draft.strikes >= STRIKES_BEFORE_HELP:
        # Never loop: explain once more and offer a person instead of the same prompt again.
        if field.hint:
            lines.append(field.hint)
        lines.append("如果填写有困难，回复“人工”请工作人员帮您办理，或回复“取消”退出。")
    if again:
        lines.append(prompt(ctx, draft))
    elif isinstance(draft.step, Offering):
        lines.append(offer_line(draft.step.located))
    elif field.options is not None:
        lines.append(render_options(options(ctx, draft, field), field.columns))
    if draft.strikes < STRIKES_BEFORE_HELP:
        lines.append(EXIT_HINT)
    save(ctx, draft)
    return "\n".join(lines)


# --- summary, edit, submit -------------------------------------------------------------


def summary_text(ctx: Context, draft: Draft) -> str:
    if draft.form.describe is not None:
        return f"{draft.form.describe(ctx, draft.answers)}\n{draft.form.confirm_line}"
    lines = [draft.form.heading]
    for field in applicable(draft):
        if field.in_summary and field.key in draft.answers:
            lines.append(f"{field.label}：{display(ctx, draft, field, draft.answers[field.key])}")
    lines.append(draft.form.confirm_line)
    return "\n".join(lines)


def to_summary(ctx: Context, draft: Draft, prefix: str = "") -> str:
    move(draft, Confirming())
    text = summary_text(ctx, draft)
    save(ctx, draft)
    return prefix + text


def editable(draft: Draft) -> list[Field]:
    """What the 修改 list offers: answered items the user may change."""
    return [f for f in applicable(draft) if f.editable and f.in_summary and f.key in draft.answers]


def complete(draft: Draft) -> bool:
    return next_field(draft) is None


def edit_text(draft: Draft) -> str:
    items = "\n".join(f"{n} {f.label}" for n, f in enumerate(editable(draft), start=1))
    back_to = "回到核对页" if complete(draft) else "接着填写"
    return f"您要修改哪一项？请回复序号：\n{items}\n（回复“返回”{back_to}）"


# Other words for an item, as people name what they want to change.
ITEM_WORDS = {"姓名": ("名字",), "手机": ("电话", "号码"), "地址": ("住址",),
              "乡镇/街道": ("乡镇", "街道"), "村/社区": ("社区",)}


def edit_options(draft: Draft) -> list[Option]:
    """The 修改 list as options: by number, by label, or by another word for the item."""
    return [Option(f.key, f.label, ITEM_WORDS.get(f.label, ())) for f in editable(draft)]


def to_edit(ctx: Context, draft: Draft, prefix: str = "") -> str:
    fields = editable(draft)
    if len(fields) == 1 and complete(draft):  # nothing to choose between: ask that item again
        return open_for_edit(ctx, draft, fields[0])
    move(draft, ChoosingEdit())
    text = edit_text(draft)
    save(ctx, draft)
    return (f"{prefix}\n" if prefix else "") + text


def open_for_edit(ctx: Context, draft: Draft, field: Field) -> str:
    draft.prefill.pop(field.key, None)
    move(draft, Asking(field.key, editing=True))
    text = prompt(ctx, draft)
    save(ctx, draft)
    return text


def submit(ctx: Context, draft: Draft, prefix: str = "") -> str:
    # Answers of fields that no longer apply are dropped; keys that are no field
    # (an id given at start, attachments "description:media") pass through.
    answers = {
        key: value
        for key, value in draft.answers.items()
        if (field := draft.form.field(key)) is None or field.applies(draft.answers)
    }
    answers.update({f.key: None for f in applicable(draft) if f.key not in answers})
    end(ctx)  # before submit, which may start a follow-up form of its own
    try:
        return prefix + draft.form.submit(ctx, answers)
    except Stop as stop:
        return prefix + stop.message


def switch_text(draft: Draft, step: ConfirmingSwitch) -> str:
    return (
        f"您正在填写“{draft.form.title}”，还没有提交。\n"
        f"要放弃它，改去“{step.title}”吗？\n1 放弃，去{step.title}\n2 继续填写"
    )
