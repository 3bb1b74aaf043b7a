"""What a flow declares: a `Form` of `Field`s, and `Stop` to end it with a message.

A field is a question with either a pure validator (`parse`) or numbered `options`;
it may depend on earlier answers (`when`), be skipped (`optional`), be shown masked
(`show`), and take a voice message, a picture or a location instead of text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from handlers.fields import Option
from handlers.message import Context

Answers = dict[str, Any]
OptionSource = Sequence[Option] | Callable[[Context, Answers], Sequence[Option]]


class Stop(Exception):
    """Raised by a submit, a guard or an option source: end the form and tell the user why."""

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
    accepts_voice: bool = False  # a voice message is the answer (its media id kept for staff)
    accepts_image: bool = False  # so is a picture
    accepts_location: bool = False  # a shared location fills it from the place's label, confirmed first
    prose: bool = False  # free sentences (a story, a comment): only plain command words are commands
    resets: tuple[str, ...] = ()  # answers that depend on this one
    editable: bool = True
    in_summary: bool = True
    columns: int = 1  # options per line, for long lists of short words
    free_text_ok: bool = False  # with options: text that is no option is taken as typed
    # Runs after a valid answer, with the database: may raise Invalid (ask again) or Stop.
    guard: Callable[[Context, Any], None] | None = None

    def applies(self, answers: Answers) -> bool:
        return self.when is None or bool(self.when(answers))

    def accepts(self, msg_type: str) -> bool:
        return (msg_type == "voice" and self.accepts_voice) or (msg_type == "image" and self.accepts_image)

    @property
    def media_key(self) -> str:
        """Where the voice messages and pictures given as this answer are listed (passed to submit)."""
        return f"{self.key}:media"


@dataclass(frozen=True)
class Form:
    name: str  # stored in the conversation row: renaming one ends the forms open under the old name
    title: str
    fields: tuple[Field, ...]
    submit: Callable[[Context, Answers], str]
    consent: Field | None = None  # asked last, when not already given; never edited
    intro: str = ""
    confirm: bool = True  # show a summary before submitting
    heading: str = "请核对："
    confirm_line: str = "1 确认提交  2 修改  0 取消"
    describe: Callable[[Context, Answers], str] | None = None  # replaces the list of answers

    @property
    def steps(self) -> tuple[Field, ...]:
        """Every question in order: the fields, then the consent."""
        return self.fields + ((self.consent,) if self.consent is not None else ())

    def field(self, key: str) -> Field | None:
        return next((f for f in self.steps if f.key == key), None)

    def for_editing(self, name: str, title: str, submit: Callable[[Context, Answers], str],
                    fields: tuple[Field, ...] | None = None) -> Form:
        """The same questions over a record that exists: consent was given when it was made."""
        return replace(self, name=name, title=title, submit=submit, consent=None, intro="",
                       fields=self.fields if fields is None else fields)


_FORMS: dict[str, Form] = {}


def register(form: Form) -> Form:
    _FORMS[form.name] = form
    return form


def form_named(name: str | None) -> Form | None:
    return _FORMS.get(name or "")
