"""Intent matcher figures: accuracy on the evaluation set's parts and matching time per message.

    .venv/bin/python bench/intent_bench.py              # 20 rounds over every phrasing
    .venv/bin/python bench/intent_bench.py --rounds 50

Accuracy: top intent = the labelled one, over tests/data/intent_phrasings.tsv, per part
("held" and "fresh" are the held-apart parts the examples never include). Time: one
`intents.classify(text, among=top_level())` call, as the router makes it, in-process, after
one warm-up round. Target (issue 15): held-apart accuracy ≥ 95%, p99 under 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from bench/

started = time.perf_counter()
from handlers import intents  # noqa: E402
from handlers.intents import evaluation  # noqa: E402

intents.preload()  # loading and indexing the examples, as a web worker does when it starts

LOAD_MS = (time.perf_counter() - started) * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    rows = evaluation.load()
    examples = sum(len(i.examples) for i in intents.catalog().values())
    print(f"catalogue: {len(intents.catalog())} intents, {examples} examples; import and index {LOAD_MS:.0f} ms")
    parts = {"dev": [r for r in rows if r.part == "dev"], "held": [r for r in rows if r.part == "held"],
             "fresh": [r for r in rows if r.part == "fresh"], "held apart (held+fresh)": [r for r in rows if r.part != "dev"]}
    for name, part in parts.items():
        result = evaluation.evaluate(part)
        print(f"{name:>24}: {result.correct}/{result.total} = {result.accuracy:.1%}"
              f"  acted wrongly without asking: {result.confident_wrong}  would ask: {result.asked}")
    texts = [r.text for r in rows]
    for text in texts:  # warm-up
        intents.classify(text, among=intents.top_level())
    wall, cpu = [], []
    for _ in range(args.rounds):
        for text in texts:
            t0, c0 = time.perf_counter(), time.thread_time()
            intents.classify(text, among=intents.top_level())
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - t0) * 1000)
    # Wall time includes being pre-empted on a busy machine; CPU time is the matcher's own work.
    for name, times in (("wall", wall), ("cpu", cpu)):
        print(f"matching time per message ({name}) over {len(times)} calls: p50 {statistics.median(times):.3f} ms, "
              f"p95 {percentile(times, 95):.3f} ms, p99 {percentile(times, 99):.3f} ms, max {max(times):.3f} ms")


if __name__ == "__main__":
    main()
