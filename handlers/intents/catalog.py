"""The intent catalogue: one TOML file per intent under examples/, loaded once, on first use
(`catalog()`, `top_level()`), so importing the handlers costs nothing until a message is
classified; the web app loads it when it starts (bot.runtime).

A file holds `label` (how a clarifying question names the intent, e.g. "报名当志愿者")
and `examples` (phrasings as people type them). FAQ topics are intents named
"faq:<topic>" so the router can find the staff-edited answer by its topic.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

EXAMPLES_DIR = Path(__file__).with_name("examples")


@dataclass(frozen=True)
class Intent:
    name: str
    label: str
    examples: tuple[str, ...]


def load(directory: Path = EXAMPLES_DIR) -> dict[str, Intent]:
    import tomllib

    catalog: dict[str, Intent] = {}
    for path in sorted(directory.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        name = data.get("name") or path.stem
        if name in catalog:
            raise ValueError(f"intent {name} defined twice ({path.name})")
        examples = tuple(dict.fromkeys(e.strip() for e in data["examples"] if e.strip()))
        if not examples:
            raise ValueError(f"intent {name} has no examples ({path.name})")
        catalog[name] = Intent(name, data["label"], examples)
    return catalog


@functools.cache
def catalog() -> dict[str, Intent]:
    """Every intent by name, read from examples/ the first time it is asked for."""
    return load()


def label(name: str) -> str:
    intent = catalog().get(name)
    return intent.label if intent else name

# "edit" means "change what I typed in this form"; outside a form 修改 is the profile editor.
IN_FORM_ONLY = frozenset({"edit"})
FORM_CONTROLS: frozenset[str] = frozenset({"cancel", "back", "edit", "person", "help"})


@functools.cache
def top_level() -> frozenset[str]:
    """The intents understood outside a form."""
    return frozenset(catalog()) - IN_FORM_ONLY
