"""Outbound delivery benchmark: template messages through the fake WeChat API.

For each worker count, a throwaway PostgreSQL database gets N template messages
(one per invented openid); that many `python -m bot worker` processes deliver
them to tests/fake_wechat_api.py answering every call after a fixed latency.
Reported: messages/s (first to last delivery seen by the fake), resends (calls
beyond one per message, absorbed by client_msg_id), duplicates (a person who got
the same message twice), losses (messages not delivered or rows not sent).

    .venv/bin/python bench/outbox_bench.py                       # 10,000 messages, 1, 2 and 4 workers
    .venv/bin/python bench/outbox_bench.py --messages 2000 --workers 2 --redis

Target (outbound-messaging issue): at least 80% of the configured rate of 200
messages/s, zero duplicates, zero losses.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from models import OutboxMessage, OutboxStatus, Recipient  # noqa: E402
from models.database import make_engine, make_session_factory  # noqa: E402
from models.encrypted import configure_data_key  # noqa: E402
from models.schema import upgrade  # noqa: E402
from services import outbox  # noqa: E402
from tests.fake_wechat_api import APP_ID, APP_SECRET, TEMPLATE, FakeWeChatApi  # noqa: E402

DATA_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
PAYLOAD = {"fields": {"thing1": "春节走访慰问安排", "time2": "2027年2月1日 09:00"}}


@contextmanager
def throwaway_database(server: str):
    name = f"bench_outbox_{secrets.token_hex(4)}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fill(sessions, count: int) -> None:
    for start in range(0, count, 1000):
        with sessions.begin() as session:
            for n in range(start, min(start + 1000, count)):
                outbox.enqueue(session, kind="holiday_reminder", recipient=Recipient.person(f"oBench{n:010d}"), payload=PAYLOAD,
                               idempotency_key=f"bench:{n}")


def sent_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT))


def start_workers(count: int, database_url: str, api: FakeWeChatApi, args, instance_dir: Path) -> list[subprocess.Popen]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "REDIS_", "OUTBOX_"))},
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": secrets.token_urlsafe(24),
        "DATA_ENCRYPTION_KEY": DATA_KEY,
        "WECHAT_TOKEN": "benchtoken",
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE_URL": api.base_url,
        "WECHAT_TEMPLATE_IDS": "holiday_reminder=TPL_HOLIDAY",
        "OUTBOX_SEND_RATE": str(args.rate),
        "LOG_LEVEL": "WARNING",
    }
    if args.redis:
        env["REDIS_URL"] = args.redis_url
    return [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--concurrency", str(args.concurrency)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        for _ in range(count)
    ]


def stop(workers: list[subprocess.Popen]) -> list[str]:
    logs = []
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            logs.append(worker.communicate(timeout=30)[1])
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            logs.append(worker.communicate()[1])
    return logs


def run(workers: int, args) -> dict:
    with throwaway_database(args.postgres) as url, tempfile.TemporaryDirectory() as instance:
        upgrade(url)
        if args.redis:
            import redis

            # A fresh fake API is a fresh WeChat: forget the last run's token and rate.
            client = redis.Redis.from_url(args.redis_url)
            client.delete("shuangyong:rate:wechat_api", f"shuangyong:wechat:{APP_ID}:access_token")
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        fill(sessions, args.messages)
        with FakeWeChatApi(latency=args.latency) as api:
            procs = start_workers(workers, url, api, args, Path(instance))
            deadline = time.monotonic() + args.messages / args.rate * 3 + 60
            try:
                while sent_count(sessions) < args.messages and time.monotonic() < deadline:
                    if any(p.poll() is not None for p in procs):
                        raise RuntimeError("a worker exited early:\n" + "\n".join(stop(procs)))
                    time.sleep(0.5)
            finally:
                logs = stop(procs)
            delivered = api.delivered(TEMPLATE)
            # Calls WeChat accepted: a resend of a message it already has is accepted and dropped.
            calls = sum(1 for c in api.calls(TEMPLATE) if c.answer.get("errcode") == 0)
        with sessions() as session:
            statuses = Counter(str(s) for s in session.scalars(select(OutboxMessage.status)))
        engine.dispose()
    times = sorted(d.at for d in delivered)
    per_person = Counter(d.touser for d in delivered)
    expected = {f"oBench{n:010d}" for n in range(args.messages)}
    elapsed = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {
        "workers": workers,
        "rate": len(times) / elapsed if elapsed else 0.0,
        "elapsed": elapsed,
        "resends": calls - len(delivered),
        "duplicates": sum(n - 1 for n in per_person.values() if n > 1),
        "losses": len(expected - set(per_person)) + (args.messages - statuses.get("sent", 0)),
        "errors": sum("Traceback" in log for log in logs),
        "logs": [log for log in logs if "Traceback" in log],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rate", type=float, default=200.0, help="OUTBOX_SEND_RATE, messages/s for all workers")
    parser.add_argument("--concurrency", type=int, default=24, help="sends in flight per worker")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake API takes per call")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", action="store_true", help="token and send rate in Redis instead of PostgreSQL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    configure_data_key(DATA_KEY)

    print(f"{args.messages} template messages, fake API latency {args.latency * 1000:.0f} ms, "
          f"configured rate {args.rate:g}/s, {args.concurrency} in flight per worker, "
          f"rate and token in {'Redis' if args.redis else 'PostgreSQL'}")
    print(f"{'workers':>7} {'msg/s':>8} {'of rate':>8} {'seconds':>8} {'resends':>8} {'dups':>5} {'lost':>5}")
    ok = True
    for count in args.workers:
        r = run(count, args)
        share = r["rate"] / args.rate
        ok &= share >= 0.8 and r["duplicates"] == 0 and r["losses"] == 0 and r["errors"] == 0
        print(f"{count:>7} {r['rate']:>8.1f} {share:>8.0%} {r['elapsed']:>8.1f} {r['resends']:>8} "
              f"{r['duplicates']:>5} {r['losses']:>5}" + (f"  ({r['errors']} worker tracebacks)" if r["errors"] else ""),
              flush=True)
        for log in r["logs"][:1]:
            print(log[-3000:], file=sys.stderr)
    print("target met: ≥80% of the configured rate, no duplicates, no losses" if ok else "TARGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
