"""Nearest-example intent matching for short Chinese messages.

Method: a message is normalised (full-width to half-width, lower case, punctuation,
spaces and 语气词 removed) and cut into character unigrams and bigrams. Each example
phrasing is a TF-IDF vector of the same features; the message scores each example by
cosine similarity, blended with RapidFuzz's partial ratio (an edit-distance alignment
that forgives a mistyped or homophone character: 自愿者/志愿者). An intent's score is
its best example's.

Why this and not word segmentation (jieba): messages are 3–30 characters of colloquial,
often mistyped text where a dictionary segmenter cuts wrongly ("我那个事办得咋样"), and
jieba costs about a second and tens of MB per worker to load its dictionary and has had
no release since 2020. Character n-grams need no dictionary and stay robust to typos and
dialect words. RapidFuzz (pinned in requirements.txt) is a maintained C++ library; a
message is matched in well under a millisecond.

Everything here is built once, on the first message, from the example files and never changed.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Collection

from rapidfuzz import fuzz

from handlers.intents.catalog import Intent, catalog

# Particles and fillers that carry tone, not meaning (kept out of the features).
_PARTICLES = re.compile(r"[啊呀吧呢哈嘛啦哦噢喔呗咯哎唉诶嗯哟呐捏滴]+")
_NOT_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
UNIGRAM_WEIGHT = 1.0
FUZZ_SHARE = 0.2  # how much of the score the edit-distance alignment contributes
CENTROID_SHARE = 0.5  # how much the intent's average example counts beside its nearest one
RERANK = 40  # examples re-scored with RapidFuzz, best by n-gram cosine first
FLOOR = 0.28  # below this nothing is offered at all
CONFIDENT = 0.32  # the best intent must score this …
MARGIN = 0.1  # … and lead the next intent by this much to be acted on without asking
ALTERNATIVES = 3
UNSEEN_IDF = 2.0


@dataclass(frozen=True)
class Match:
    intent: str
    score: float
    confident: bool
    alternatives: tuple[str, ...] = ()


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _PARTICLES.sub("", _NOT_WORD.sub("", text))


def _features(norm: str) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for ch in norm:
        counts[ch] += UNIGRAM_WEIGHT
    for i in range(len(norm) - 1):
        counts[norm[i:i + 2]] += 1.0
    return counts


class _Index:
    def __init__(self, catalog: dict[str, Intent]):
        self.intent_of: list[str] = []
        self.exact: dict[str, set[str]] = defaultdict(set)  # normalised example -> its intents
        self.text_of: list[str] = []
        raw: list[dict[str, float]] = []
        for intent in catalog.values():
            for example in intent.examples:
                norm = normalize(example)
                if norm:
                    self.exact[norm].add(intent.name)
                    self.intent_of.append(intent.name)
                    self.text_of.append(norm)
                    raw.append(_features(norm))
        df: dict[str, int] = defaultdict(int)
        for feats in raw:
            for f in feats:
                df[f] += 1
        n = len(raw)
        self.idf = {f: math.log((n + 1) / (d + 1)) + 1.0 for f, d in df.items()}
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for i, feats in enumerate(raw):
            vec = {f: w * self.idf[f] for f, w in feats.items()}
            norm_len = math.sqrt(sum(v * v for v in vec.values()))
            for f, v in vec.items():
                self.postings[f].append((i, v / norm_len))
                sums[self.intent_of[i]][f] += v / norm_len
        # Each intent's centroid: the characters its examples share (删 for erase, 改 for change_info).
        self.centroid_postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for name, vec in sums.items():
            norm_len = math.sqrt(sum(v * v for v in vec.values()))
            for f, v in vec.items():
                self.centroid_postings[f].append((name, v / norm_len))

    def cosine(self, norm: str) -> tuple[dict[int, float], dict[str, float]]:
        """Cosine of the message with every example sharing a feature, and with every intent's centroid."""
        feats = _features(norm)
        vec = {f: w * self.idf[f] for f, w in feats.items() if f in self.idf}
        # Features never seen in any example still make the message longer, i.e. less like any example.
        unseen = sum((w * UNSEEN_IDF) ** 2 for f, w in feats.items() if f not in self.idf)
        length = math.sqrt(sum(v * v for v in vec.values()) + unseen)
        examples: dict[int, float] = defaultdict(float)
        centroids: dict[str, float] = defaultdict(float)
        if not length:
            return examples, centroids
        for f, v in vec.items():
            for i, w in self.postings[f]:
                examples[i] += v * w / length
            for name, w in self.centroid_postings[f]:
                centroids[name] += v * w / length
        return examples, centroids


@functools.cache
def index() -> _Index:
    """The examples' index, built on first use (about 20 ms)."""
    return _Index(catalog())


def _check(among: Collection[str] | None) -> frozenset[str] | None:
    if among is None:
        return None
    wanted = frozenset(among)
    unknown = wanted - catalog().keys()
    if unknown:
        raise ValueError(f"unknown intents: {sorted(unknown)}")
    return wanted


def scores(text: str, among: Collection[str] | None = None) -> list[tuple[str, float]]:
    """Every candidate intent with its score, best first (for tests and the benchmark)."""
    wanted = _check(among)
    norm = normalize(text)
    if not norm:
        return []
    found = index()
    cosine, centroids = found.cosine(norm)
    candidates = [(s, i) for i, s in cosine.items() if wanted is None or found.intent_of[i] in wanted]
    candidates.sort(reverse=True)
    best: dict[str, float] = {}
    for cos, i in candidates[:RERANK]:
        example = found.text_of[i]
        aligned = fuzz.partial_ratio(example, norm) / 100 if len(norm) >= 2 else 0.0
        # partial_ratio of a long example against a short message says little: scale by coverage.
        aligned *= min(1.0, len(norm) / len(example))
        score = (1 - FUZZ_SHARE) * cos + FUZZ_SHARE * aligned
        name = found.intent_of[i]
        if score > best.get(name, 0.0):
            best[name] = score
    blended = {name: (1 - CENTROID_SHARE) * s + CENTROID_SHARE * centroids.get(name, 0.0) for name, s in best.items()}
    return sorted(blended.items(), key=lambda kv: kv[1], reverse=True)


def classify(text: str, among: Collection[str] | None = None) -> Match | None:
    """The most likely intent of `text` (restricted to `among` when given), or None when
    nothing is close enough to offer. `confident` False means: ask, offering the intent
    and its `alternatives`."""
    ranked = scores(text, among)
    if not ranked:
        return None
    wanted = _check(among)
    exact = [name for name in index().exact.get(normalize(text), ()) if wanted is None or name in wanted]
    if len(exact) == 1:  # the very words of one example: no doubt, whatever the blend says
        rest = tuple(name for name, s in ranked if name != exact[0] and s >= FLOOR)[:ALTERNATIVES]
        return Match(exact[0], 1.0, True, rest)
    if ranked[0][1] < FLOOR:
        return None
    (top, score), rest = ranked[0], ranked[1:]
    runner_up = rest[0][1] if rest else 0.0
    confident = score >= CONFIDENT and score - runner_up >= MARGIN
    if len(normalize(text)) < 2:
        confident = False  # one character ("改", "报") says too little to act on unless it is an example
    alternatives = tuple(name for name, s in rest[:ALTERNATIVES] if s >= FLOOR)
    return Match(top, round(score, 3), confident, alternatives)
