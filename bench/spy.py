"""Where the live server's CPU goes: py-spy sampling the thread that holds the GIL in every
gunicorn process of the server, while the benchmark drives it (`webhook_bench.py --spy FILE`).

cProfile (bench/webhook_profile.py) sees one message in one thread; this sees the server as it
runs under load: gunicorn's HTTP handling, the hop to the handler pool, and the handler threads
competing for each worker's GIL. Only samples of a thread holding the GIL are taken (`--gil`), so
a thread waiting for the database or for a lock is not counted: the shares are of the time the
GIL is held, which is the CPU a process's Python work gets, plus any moment the holder is itself
waiting for a core (a busy machine, or a thread just woken by it running first).

py-spy is a profiler made for this (`pip install py-spy`); it is needed only here, not by the app.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Each sample goes to the first part its stack matches (checked in this order).
PARTS = (
    ("database driver (psycopg, sqlite3, redis)", ("psycopg/", "sqlite3", "/redis/")),
    ("SQLAlchemy (engine, session, ORM)", ("sqlalchemy/",)),
    ("WeChat protocol (signature, AES, XML)", ("wechat/protocol.py", "wechatpy/", "cryptography/", "xmltodict")),
    ("handlers (routing, flows, intents) and services", ("handlers/", "services/")),
    ("HTTP (gunicorn, Flask, werkzeug)", ("gunicorn/", "flask/", "werkzeug/")),
)
HOP = "thread hop (handler pool, futures, locks)"  # the sample's own frame is in the hand-over
HOP_FRAMES = ("concurrent/futures/", "threading.py")


class Spy:
    """py-spy recording a process and its children until stopped."""

    def __init__(self, pid: int, out: Path, rate: int = 100):
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(binary).exists():
            raise SystemExit("--spy needs py-spy: .venv/bin/pip install py-spy")
        self.out = out
        self.proc = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking",
             "--rate", str(rate), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        self.proc.wait(timeout=60)


def parts(raw_file: Path) -> tuple[Counter, Counter, int]:
    """(samples per part, samples per own function, all samples) from py-spy's raw format:
    one line per distinct stack, frames separated by ';', then the count."""
    by_part, by_function, total = Counter(), Counter(), 0
    for line in raw_file.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        own = stack.rsplit(";", 1)[-1]
        by_function[own.split(" (")[0] + " (" + _short(own)] += n
        if any(frame in own for frame in HOP_FRAMES):
            by_part[HOP] += n
            continue
        by_part[next((name for name, marks in PARTS if any(m in stack for m in marks)), "other")] += n
    return by_part, by_function, total


def _short(frame: str) -> str:
    """'f (/…/site-packages/sqlalchemy/engine/base.py:1450)' -> 'sqlalchemy/engine/base.py)'."""
    where = frame.split(" (", 1)[-1].rsplit(":", 1)[0]
    for marker in ("site-packages/", "/python3.11/", "/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return where + ")"


def report(raw_file: Path, top: int = 12) -> str:
    by_part, by_function, total = parts(raw_file)
    if not total:
        return f"py-spy recorded no samples ({raw_file})"
    lines = [f"\nwhere the real server's GIL time went ({total} samples of the GIL holder, py-spy; raw: {raw_file})"]
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in by_part.most_common()]
    lines.append("  own time, top functions:")
    lines += [f"  {n * 100 / total:5.1f}%  {name}" for name, n in by_function.most_common(top)]
    return "\n".join(lines)
