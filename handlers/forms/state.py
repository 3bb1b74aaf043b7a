"""Where a user is in a form: a small tagged set of steps and the typed draft, kept in
`conversation_state` (locked by the router for the whole message, so any worker continues
any conversation).

Row layout (version 2): `form` the form's name; `answers` (encrypted) {"a": answers,
"p": offered values, "s": the numbered options shown, which may be addresses}; `scratch`
{"v": 2, "step": {...}, "strikes": n} — the engine's bookkeeping, never personal data; `step` a readable copy of where the user
is ("skills", ":confirm") for people reading the table. Rows written before version 2
(the step only in the `step` column, flags loose in `scratch`) are read by `_legacy_step`.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from datetime import timedelta
from typing import Any, Union

from handlers.fields import Option
from handlers.forms.model import Answers, Form, form_named
from handlers.message import Context
from services import conversations

VERSION = 2
DEFAULT_TIMEOUT_MINUTES = 30


@dataclass(frozen=True)
class Asking:
    """A field's question is open. `editing`: chosen from the 修改 list."""

    field: str
    editing: bool = False


@dataclass(frozen=True)
class Offering:
    """A value is offered for a field: one we already know, or a shared location's place."""

    field: str
    located: bool = False


@dataclass(frozen=True)
class Confirming:
    """The summary is shown: 1 确认 2 修改 0 取消."""


@dataclass(frozen=True)
class ChoosingEdit:
    """The list of answers to change is shown."""


@dataclass(frozen=True)
class ConfirmingSwitch:
    """Another flow was asked for: abandon this form for it?"""

    flow: str
    title: str
    resume: "Step"


Step = Union[Asking, Offering, Confirming, ChoosingEdit, ConfirmingSwitch]
_KINDS = {"ask": Asking, "offer": Offering, "confirm": Confirming, "edit": ChoosingEdit, "switch": ConfirmingSwitch}
_TAGS = {kind: tag for tag, kind in _KINDS.items()}


@dataclass(frozen=True)
class Shown:
    """The options as numbered when the question was asked, so the numbers stay stable."""

    field: str
    options: tuple[Option, ...]


@dataclass
class Draft:
    form: Form
    step: Step
    answers: Answers = dc_field(default_factory=dict)
    prefill: Answers = dc_field(default_factory=dict)  # offered values (known contact, a location)
    strikes: int = 0  # invalid answers in a row at this step
    shown: Shown | None = None


class Unreadable(ValueError):
    """A stored row names a form or step that no longer exists."""


# --- steps <-> JSON -------------------------------------------------------------------


def step_to_json(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": _TAGS[type(step)]}
    if isinstance(step, (Asking, Offering)):
        data["field"] = step.field
    if isinstance(step, Asking) and step.editing:
        data["editing"] = True
    if isinstance(step, Offering) and step.located:
        data["located"] = True
    if isinstance(step, ConfirmingSwitch):
        data.update(flow=step.flow, title=step.title, resume=step_to_json(step.resume))
    return data


def step_from_json(data: dict[str, Any]) -> Step:
    kind = _KINDS.get(data.get("kind"))
    if kind in (Asking, Offering):
        extra = {"editing": bool(data.get("editing"))} if kind is Asking else {"located": bool(data.get("located"))}
        return kind(data["field"], **extra)
    if kind is ConfirmingSwitch:
        return ConfirmingSwitch(data["flow"], data["title"], step_from_json(data["resume"]))
    if kind is None:
        raise Unreadable(f"unknown step kind {data.get('kind')!r}")
    return kind()


def step_label(step: Step) -> str:
    """The `step` column: the field key, or ":confirm", ":edit", ":switch" (as before version 2)."""
    if isinstance(step, (Asking, Offering)):
        return step.field
    return {Confirming: ":confirm", ChoosingEdit: ":edit", ConfirmingSwitch: ":switch"}[type(step)]


def _legacy_step(label: str, scratch: dict[str, Any]) -> Step:
    """A row written before version 2: the step string plus loose flags in `scratch`."""
    if label == ":confirm":
        return Confirming()
    if label == ":edit":
        return ChoosingEdit()
    if label == ":switch":
        return ConfirmingSwitch(scratch["switch"], scratch["switch_title"], _legacy_step(scratch["resume"], {}))
    if scratch.get("offer"):
        return Offering(label)
    return Asking(label, editing=bool(scratch.get("editing")))


def _shown_from(field: str | None, options: Any) -> Shown | None:
    if not field or not isinstance(options, list):
        return None
    return Shown(field, tuple(Option(v, label, tuple(aliases)) for v, label, aliases in options))


# --- the row ------------------------------------------------------------------------


def timeout(ctx: Context) -> timedelta:
    return timedelta(minutes=getattr(ctx.settings, "form_timeout_minutes", None) or DEFAULT_TIMEOUT_MINUTES)


def load(ctx: Context) -> Draft:
    """The locked row as a draft; `Unreadable` when its form or step no longer exists."""
    row = ctx.state
    form = form_named(row.form)
    if form is None:
        raise Unreadable(f"unknown form {row.form!r}")
    stored = row.answers or {}
    scratch = dict(row.scratch or {})
    try:
        step = step_from_json(scratch["step"]) if scratch.get("v") == VERSION else None
        if step is not None and step_label(step) == row.step:
            # The options shown can be people's addresses (a volunteer's visit list): kept with the
            # answers, encrypted; rows saved before that kept them in scratch.
            shown = stored.get("s") or scratch.get("shown") or {}
            shown = _shown_from(shown.get("field"), shown.get("options"))
        else:  # written before version 2, or by a worker still running it (it keeps our keys, stale)
            step = _legacy_step(row.step or "", scratch)
            shown = _shown_from(scratch.get("options_for"), scratch.get("options"))
    except (KeyError, TypeError, ValueError) as error:
        raise Unreadable(f"damaged step: {error}") from None
    draft = Draft(form, step, dict(stored.get("a", {})), dict(stored.get("p", {})),
                  int(scratch.get("strikes", 0)), shown)
    _check_fields(draft, draft.step)
    return draft


def _check_fields(draft: Draft, step: Step) -> None:
    if isinstance(step, (Asking, Offering)) and draft.form.field(step.field) is None:
        raise Unreadable(f"unknown field {step.field!r}")
    if isinstance(step, Offering) and step.field not in draft.prefill:
        raise Unreadable(f"nothing offered for {step.field!r}")
    if isinstance(step, ConfirmingSwitch):
        _check_fields(draft, step.resume)


def save(ctx: Context, draft: Draft) -> None:
    scratch: dict[str, Any] = {"v": VERSION, "step": step_to_json(draft.step), "strikes": draft.strikes}
    private: dict[str, Any] = {"a": draft.answers, "p": draft.prefill}
    if draft.shown is not None:
        private["s"] = {"field": draft.shown.field,
                        "options": [[o.value, o.label, list(o.aliases)] for o in draft.shown.options]}
    conversations.save(
        ctx.state, form=draft.form.name, step=step_label(draft.step),
        answers=private, scratch=scratch, now=ctx.now, timeout=timeout(ctx),
    )


def end(ctx: Context) -> None:
    conversations.clear(ctx.state, ctx.now)
