"""The intent catalogue: one TOML file per intent under examples/, loaded once at import.

A file holds `label` (how a clarifying question names the intent, e.g. "报名当志愿者")
and `examples` (phrasings as people type them). FAQ topics are intents named
"faq:<topic>" so the router can find the staff-edited answer by its topic.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

EXAMPLES_DIR = Path(__file__).with_name("examples")


@dataclass(frozen=True)
class Intent:
    name: str
    label: str
    examples: tuple[str, ...]


def load(directory: Path = EXAMPLES_DIR) -> dict[str, Intent]:
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


CATALOG: dict[str, Intent] = load()


def label(name: str) -> str:
    intent = CATALOG.get(name)
    return intent.label if intent else name

# "edit" means "change what I typed in this form"; outside a form 修改 is the profile editor.
IN_FORM_ONLY = frozenset({"edit"})
TOP_LEVEL: frozenset[str] = frozenset(CATALOG) - IN_FORM_ONLY
FORM_CONTROLS: frozenset[str] = frozenset({"cancel", "back", "edit", "person", "help"})
