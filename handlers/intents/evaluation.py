"""Measuring the matcher against tests/data/intent_phrasings.tsv (used by the test and the benchmark)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from handlers.intents.catalog import top_level
from handlers.intents.matcher import classify

PHRASINGS = Path(__file__).resolve().parents[2] / "tests" / "data" / "intent_phrasings.tsv"


@dataclass(frozen=True)
class Phrasing:
    intent: str
    part: str  # "dev" or "held"
    text: str


@dataclass(frozen=True)
class Result:
    total: int
    correct: int
    confident_wrong: int  # acted on the wrong intent without asking: the costly mistake
    asked: int  # low confidence: a clarifying question would be asked
    misses: tuple[tuple[Phrasing, str | None], ...]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def confusion(self) -> str:
        pairs = Counter((p.intent, got or "-") for p, got in self.misses)
        lines = [f"{want} -> {got}: {n}" for (want, got), n in pairs.most_common()]
        lines += [f"  {p.text!r} ({p.intent} -> {got})" for p, got in self.misses]
        return "\n".join(lines)


def load(path: Path = PHRASINGS) -> list[Phrasing]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        intent, part, text = line.split("\t", 2)
        rows.append(Phrasing(intent, part, text))
    return rows


def evaluate(rows: list[Phrasing], among: Collection[str] | None = None) -> Result:
    """The matcher's results on `rows`, among the top-level intents unless `among` says otherwise."""
    among = top_level() if among is None else among
    correct = confident_wrong = asked = 0
    misses = []
    for row in rows:
        match = classify(row.text, among)
        got = match.intent if match else None
        if got == row.intent:
            correct += 1
        else:
            misses.append((row, got))
            confident_wrong += bool(match and match.confident)
        asked += bool(match and not match.confident)
    return Result(len(rows), correct, confident_wrong, asked, tuple(misses))
