"""One registration per flow: its words, menu key, guard, the forms it opens and how it begins.

The router lists flows in the order they are matched; the engine knows a flow's forms,
so a flow asked for again while one of its forms is open continues that form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from handlers.forms.model import Form
from handlers.message import Context

Reply = str | None


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    words: tuple[str, ...]  # typed words that start it (after normalize)
    begin: Callable[[Context], Reply]
    key: str | None = None  # CLICK key in deploy/menu.toml
    pattern: re.Pattern | None = None
    forms: tuple[Form, ...] = ()  # the forms it opens
    # Who may not start it, and why: the reply instead of beginning, or None to begin.
    guard: Callable[[Context], str | None] | None = None

    def matches(self, text: str) -> bool:
        return text in self.words or text == self.title or bool(self.pattern and self.pattern.fullmatch(text))

    def start(self, ctx: Context) -> Reply:
        refusal = self.guard(ctx) if self.guard is not None else None
        return refusal if refusal is not None else self.begin(ctx)

    def opens(self, form: Form) -> bool:
        return any(f.name == form.name for f in self.forms)
