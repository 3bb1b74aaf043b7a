"""Conversation benchmark: simulated users completing 志愿者报名 through a real server.

`python -m bot serve` (gunicorn, gthread) runs on a free loopback port against a
fresh SQLite file or a throwaway PostgreSQL database. N users, C at a time, each
walk the whole form (9 turns: 志愿者报名, name, mobile, town, village, skills,
availability, consent, confirm) over a keep-alive connection, every turn a signed
WeChat text message. Each reply is checked against what that step must answer, and
at the end the database must hold exactly N pending volunteers.

    .venv/bin/python bench/conversation_bench.py --db sqlite
    .venv/bin/python bench/conversation_bench.py --db postgresql --users 200 --concurrency 16
    .venv/bin/python bench/conversation_bench.py --db postgresql --grow   # with 1,000,000 dedupe rows …

Target (conversations issue): p99 per turn < 100 ms at 16 concurrent users.
Plaintext mode (no AES) so the client, on the same small machine, costs little;
bench/webhook_bench.py measures the crypto path.
"""

from __future__ import annotations

import argparse
import itertools
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import webhook_bench as wb  # noqa: E402  (servers and databases, shared with the webhook bench)

ACCOUNT = "gh_0123456789ab"
SURNAMES = "王李张刘陈杨黄赵周吴"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚"


def turns(n: int) -> list[tuple[str, str]]:
    """What user n says at each step, and a fragment the answer must contain."""
    name = SURNAMES[n % 10] + GIVEN[(n // 10) % 20] + GIVEN[(n // 200) % 20]
    return [
        ("志愿者报名", "请问您的姓名？"),
        (name, "请输入您的手机号"),
        (f"139{n:08d}", "乡镇/街道"),
        ("1", "村/社区"),
        ("3", "您能提供哪些服务"),
        ("4 7", "服务时间"),
        ("2", "回复“同意”继续"),
        ("同意", "请核对："),
        ("1", "报名成功！编号ZY"),
    ]


def text_xml(openid: str, content: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


class Users:
    """Client threads, each with one keep-alive connection, taking users from a queue."""

    def __init__(self, port: int, token: str, users: int, concurrency: int):
        self.port, self.token, self.concurrency = port, token, concurrency
        self.todo: queue.Queue[int] = queue.Queue()
        for n in range(users):
            self.todo.put(n)
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.msg_ids = itertools.count(int(time.time()) * 1000)
        self.lock = threading.Lock()

    def run(self) -> float:
        threads = [threading.Thread(target=self._worker) for _ in range(self.concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started

    def _worker(self) -> None:
        conn = HTTPConnection(wb.HOST, self.port, timeout=30)
        try:
            while True:
                try:
                    n = self.todo.get_nowait()
                except queue.Empty:
                    return
                self._converse(conn, n)
        finally:
            conn.close()

    def _converse(self, conn: HTTPConnection, n: int) -> None:
        openid = f"oBenchConv{n:018d}"
        for said, expected in turns(n):
            with self.lock:
                msg_id = next(self.msg_ids)
            ts, nonce = str(int(time.time())), secrets.token_hex(8)
            query = urlencode({"signature": wb.sign(self.token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid})
            body = text_xml(openid, said, msg_id).encode()
            started = time.perf_counter()
            conn.request("POST", f"/wechat?{query}", body=body, headers=wb.HEADERS)
            response = conn.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - started
            answer = ET.fromstring(data).findtext("Content") if response.status == 200 and data.startswith(b"<xml") else None
            with self.lock:
                self.latencies.append(elapsed)
                if answer is None or expected not in answer:
                    self.failures.append(f"user {n}, turn {said!r}: status {response.status}, answer {answer!r}")
            if answer is None or expected not in answer:
                return  # this conversation is off the rails; the failure is counted


def count_volunteers(database_url: str) -> int:
    from sqlalchemy import text

    from models.database import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT COUNT(*) FROM volunteer WHERE status = 'pending'")).scalar_one()
    engine.dispose()
    return value


def run_once(kind: str, users: int, concurrency: int, workers: int, threads: int, pg_server: str,
             grow: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="conv-bench-") as tmp, wb.database(kind, Path(tmp), pg_server) as url:
        instance = Path(tmp)
        credentials = {"WECHAT_TOKEN": secrets.token_hex(16)}  # plaintext mode: no AppID, no AES key
        env = wb.server_env(url, instance, credentials)
        if kind == "postgresql" or grow:
            subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=wb.ROOT, env=env, check=True, capture_output=True)
        if grow:
            from grow import prefill

            print(prefill(url, env["DATA_ENCRYPTION_KEY"]))
        argv = [sys.executable, "-m", "bot", "serve", "--workers", str(workers), "--threads", str(threads)]
        with wb.Server(f"serve ({kind})", argv, env, instance / "server.log") as server:
            server.wait_ready()
            load = Users(server.port, credentials["WECHAT_TOKEN"], users, concurrency)
            wall = load.run()
            stored = count_volunteers(url)
        lat = sorted(load.latencies)
        return {
            "db": kind,
            "users": users,
            "concurrency": concurrency,
            "turns": len(lat),
            "wall_s": wall,
            "conversations_per_s": users / wall,
            "turns_per_s": len(lat) / wall,
            "p50_ms": wb.percentile(lat, 50) * 1000,
            "p95_ms": wb.percentile(lat, 95) * 1000,
            "p99_ms": wb.percentile(lat, 99) * 1000,
            "max_ms": lat[-1] * 1000,
            "failures": load.failures,
            "volunteers_stored": stored,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--grow", action="store_true",
                        help="fill 1,000,000 dedupe rows, 100,000 followers, 100,000 conversations first")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    ok = True
    print(f"code: {wb.code_version()}  users: {args.users}  concurrency: {args.concurrency}  "
          f"server: --workers {args.workers} --threads {args.threads}")
    for kind in kinds:
        r = run_once(kind, args.users, args.concurrency, args.workers, args.threads, args.pg_server, args.grow)
        print(
            f"{r['db']:<10} {r['users']} conversations ({r['turns']} turns) in {r['wall_s']:.1f} s: "
            f"{r['conversations_per_s']:.1f} conversations/s, {r['turns_per_s']:.0f} turns/s; per turn "
            f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms; "
            f"failures {len(r['failures'])}; volunteers stored {r['volunteers_stored']}"
        )
        for failure in r["failures"][:5]:
            print("   ", failure)
        good = not r["failures"] and r["volunteers_stored"] == args.users and r["p99_ms"] < 100
        print(f"    target p99 < 100 ms, no failures, {args.users} stored: {'met' if good else 'NOT met'}")
        ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
