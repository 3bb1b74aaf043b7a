"""Webhook benchmark: the production server against a bare Flask+wechatpy handler.

Both are served by gunicorn (gthread) with the same workers and threads on
free loopback ports, and measured in turn (`--rounds` alternates them, which
evens out a machine that is busy with something else). Each gets the same load:
signed, AES-encrypted text messages with distinct MsgIds, built before the clock
starts and sent over persistent connections from several client processes.
Every reply must be 200 with an encrypted text reply addressed to the sender.

    .venv/bin/python bench/webhook_bench.py --requests 4000 --concurrency 16 --db sqlite --workers 4
    .venv/bin/python bench/webhook_bench.py --db postgresql --rounds 3

    .venv/bin/python bench/webhook_bench.py --db postgresql --redis --grow
    .venv/bin/python bench/webhook_bench.py --db postgresql --spy /tmp/real.spy   # where its CPU goes

Targets (issue 16): real/bare throughput >= 0.35 on SQLite, >= 0.3 on PostgreSQL, >= 0.5
with REDIS_URL; real p99 < 50 ms; the same with --grow (1,000,000 dedupe rows, 100,000
followers, 100,000 conversations already stored).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import math
import multiprocessing
import os
import random
import re
import secrets
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlencode

import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

from spy import Spy, report as spy_report  # bench/spy.py: py-spy on the live server (--spy)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ACCOUNT = "gh_0123456789ab"
OPENIDS = [f"oBench{n:022d}" for n in range(8)]  # synthetic senders
CONTENTS = ("帮助", "你好")  # the help route and the fallback route
TEXT_XML = (
    "<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
    "<FromUserName><![CDATA[{openid}]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
)
ENVELOPE = re.compile(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>\s*<MsgSignature><!\[CDATA\[(\w+)\]\]>", re.S)
HEADERS = {"Content-Type": "text/xml"}
MAX_REQUESTS = 200_000


# --- servers -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """A gunicorn process group on a loopback port, stopped on exit whatever happens."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.env, self.log_path = name, env, log_path
        self.port = free_port()
        self.argv = [*argv, "--port", str(self.port)]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        with open(self.log_path, "ab") as log:
            # A session of its own: Ctrl-C reaches us, not gunicorn; we stop it ourselves.
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except (OSError, HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes: the master and its
        workers, all in the process group the server was started in. Unlike req/s, CPU per
        request hardly moves with what else the machine is doing."""
        total, tick = 0, os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            if int(fields[2]) == self.proc.pid:  # field 5, pgrp (after pid and comm)
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __exit__(self, *_exc) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


@contextmanager
def database(kind: str, instance_dir: Path, pg_server: str):
    """A fresh database URL; a PostgreSQL one is a throwaway database, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{instance_dir / 'bench.db'}"
        return
    name = f"bench_{secrets.token_hex(4)}"
    psql(f"{pg_server}/postgres", f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_server}/{name}"
    finally:
        psql(f"{pg_server}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(database_url: str, instance_dir: Path, credentials: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        credentials,
        DATABASE_URL=database_url,
        INSTANCE_DIR=str(instance_dir),
        SECRET_KEY=secrets.token_urlsafe(32),
        DATA_ENCRYPTION_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        APP_ENV="production",
        LOG_LEVEL="WARNING",
        WECHAT_SANDBOX="1",  # nothing may reach the real WeChat API
        REDIS_URL="",  # database dedupe, whatever the caller's environment says
    )
    return env


# --- requests ----------------------------------------------------------------


def new_credentials() -> dict[str, str]:
    alnum = string.ascii_letters + string.digits
    return {
        "WECHAT_TOKEN": secrets.token_hex(16),
        "WECHAT_ENCODING_AES_KEY": "".join(secrets.choice(alnum) for _ in range(43)),
        "WECHAT_APP_ID": "wx" + secrets.token_hex(8),
    }


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def build_requests(crypto: WeChatCrypto, token: str, count: int, msg_ids) -> list[tuple[str, bytes, str]]:
    """(path with query, body, sender openid) per request; timestamps are now, MsgIds unique."""
    ts = str(int(time.time()))
    out = []
    for i in range(count):
        openid, nonce = OPENIDS[i % len(OPENIDS)], secrets.token_hex(8)
        xml = TEXT_XML.format(account=ACCOUNT, openid=openid, ts=ts, content=CONTENTS[i % 2], msg_id=next(msg_ids))
        encrypt, msg_signature = ENVELOPE.search(crypto.encrypt_message(xml, nonce, ts)).groups()
        query = urlencode(
            {
                "signature": sign(token, ts, nonce),
                "timestamp": ts,
                "nonce": nonce,
                "openid": openid,
                "encrypt_type": "aes",
                "msg_signature": msg_signature,
            }
        )
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        out.append((f"/wechat?{query}", body.encode(), openid))
    return out


# --- load --------------------------------------------------------------------


def _client_process(port, requests, threads, barrier, deadline, results) -> None:
    """One client process: `threads` keep-alive connections, each sending its share in turn."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills us
    shares = [requests[i::threads] for i in range(threads)]
    rows: list[list] = [[] for _ in range(threads)]
    spans: list[tuple[float, float] | None] = [None] * threads

    def run(i: int) -> None:
        conn = HTTPConnection(HOST, port, timeout=30)
        try:
            conn.connect()
        except OSError:
            pass  # http.client tries again on the first request; a failure is counted there
        barrier.wait(timeout=60)
        start = time.monotonic()
        for path, body, openid in shares[i]:
            if time.monotonic() > deadline:
                rows[i].append((0.0, 0, b"not sent: time limit", openid))
                continue
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, HEADERS)
                response = conn.getresponse()
                status, data = response.status, response.read()
            except (OSError, HTTPException) as exc:
                conn.close()  # http.client reconnects on the next request
                status, data = 0, f"{type(exc).__name__}".encode()
            rows[i].append((time.perf_counter() - t0, status, data, openid))
        if shares[i]:
            spans[i] = (start, time.monotonic())
        conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(([row for share in rows for row in share], [span for span in spans if span]))


def drive(port: int, requests: list, concurrency: int, processes: int, max_seconds: float) -> tuple[list, float]:
    """Send all requests over `concurrency` connections; return the rows and the wall time."""
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(concurrency), ctx.Queue()
    deadline = time.monotonic() + max_seconds
    per_process = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    clients, offset = [], 0
    for threads in per_process:
        # Hand each process whole connection shares so the split matches the thread count.
        share = [r for i, r in enumerate(requests) if offset <= i % concurrency < offset + threads]
        offset += threads
        clients.append(
            ctx.Process(target=_client_process, args=(port, share, threads, barrier, deadline, results), daemon=True)
        )
    try:
        for client in clients:
            client.start()
        rows, spans = [], []
        for _ in clients:
            part_rows, part_spans = results.get(timeout=max_seconds + 60)
            rows += part_rows
            spans += part_spans
        for client in clients:
            client.join()
    finally:
        for client in clients:
            if client.is_alive():
                client.kill()
    return rows, max(end for _, end in spans) - min(start for start, _ in spans)


def check_reply(crypto: WeChatCrypto, status: int, data: bytes, openid: str, busy_text: str) -> str | None:
    """None when the reply is a proper encrypted text reply to `openid`, else the reason."""
    if status != 200:
        return f"HTTP {status}" if status else data.decode(errors="replace")
    try:
        envelope = xmltodict.parse(data)["xml"]
        xml = crypto.decrypt_message(envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        reply = parse_message(xml)
    except Exception:
        return f"200 but not an encrypted reply: {data[:40]!r}"
    if reply.target != openid or reply.type != "text":
        return "reply to the wrong user or not text"
    if reply._data.get("Content") == busy_text:
        return "handler failed (busy reply)"
    return None


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def summarize(server: Server, rows: list, wall: float, crypto: WeChatCrypto, busy_text: str) -> dict:
    reasons = Counter(
        reason for _, status, data, openid in rows if (reason := check_reply(crypto, status, data, openid, busy_text))
    )
    if reasons:
        print(f"{server.name}: errors {dict(reasons.most_common(5))}; log tail:\n{server.log_tail(5)}", file=sys.stderr)
    latencies = sorted(latency for latency, status, *_ in rows if status)
    return {
        "name": server.name,
        "requests": len(rows),
        "errors": sum(reasons.values()),
        "rps": len(latencies) / wall,
        "p50": percentile(latencies, 50) * 1000 if latencies else float("nan"),
        "p99": percentile(latencies, 99) * 1000 if latencies else float("nan"),
    }


# --- main --------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, and whether the working tree differs from it."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark /wechat against a bare Flask+wechatpy handler.")
    parser.add_argument("--requests", type=int, default=4000, help="measured requests per server and round")
    parser.add_argument("--rounds", type=int, default=1, help="measure real, bare, real, bare … this many times")
    parser.add_argument("--warmup", type=int, default=400, help="unmeasured requests sent first")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--processes", type=int, default=2, help="client processes sharing the connections")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432", help="local PostgreSQL")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (serve's default)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (serve's default)")
    parser.add_argument("--redis", nargs="?", const="redis://127.0.0.1:6379/12", default="",
                        help="serve with REDIS_URL (default: database 12; MsgIds are random, so keys never repeat)")
    parser.add_argument("--floor", action="store_true",
                        help="also measure the floor: the bare handler plus the least storage work (bench/floor.py)")
    parser.add_argument("--grow", action="store_true",
                        help="fill 1,000,000 dedupe rows, 100,000 followers, 100,000 conversations first")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop sending after this long")
    parser.add_argument("--spy", type=Path, metavar="FILE",
                        help="sample the real server with py-spy during its last round (raw stacks to FILE) "
                             "and print where its CPU went (bench/spy.py)")
    args = parser.parse_args()
    if not 1 <= args.requests * args.rounds <= MAX_REQUESTS or args.rounds < 1 or args.warmup < 0:
        parser.error(f"--requests x --rounds must be 1..{MAX_REQUESTS}, --warmup >= 0")
    if not 1 <= args.processes <= args.concurrency:
        parser.error("--processes must be between 1 and --concurrency")
    # SIGTERM unwinds like Ctrl-C so the servers and the database are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sys.path.insert(0, str(ROOT))
    from handlers.texts import BUSY  # the reply the real server sends when a handler fails

    credentials = new_credentials()
    token = credentials["WECHAT_TOKEN"]
    crypto = WeChatCrypto(token, credentials["WECHAT_ENCODING_AES_KEY"], credentials["WECHAT_APP_ID"])
    msg_ids = itertools.count(random.randrange(10**16, 9 * 10**16))
    python = sys.executable
    serve_opts = ["--host", HOST, "--workers", str(args.workers), "--threads", str(args.threads)]
    load = (args.concurrency, args.processes, args.max_seconds)

    print(
        f"machine: {os.cpu_count()} CPU cores ({len(os.sched_getaffinity(0))} usable), load average "
        f"{os.getloadavg()[0]:.2f}; code: {code_version()}"
    )
    print(
        f"load: {args.rounds} x {args.requests} requests (+{args.warmup} warm-up) per server, "
        f"{args.concurrency} keep-alive connections from {args.processes} client processes; "
        f"gunicorn gthread {args.workers} workers x {args.threads} threads; database {args.db}"
        f"{' + Redis' if args.redis else ''}{' (grown)' if args.grow else ''}"
    )
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="webhook-bench-")))
        database_url = stack.enter_context(database(args.db, tmp, args.pg_server))
        env = server_env(database_url, tmp, credentials)
        if args.redis:
            env["REDIS_URL"] = args.redis
        if args.db == "postgresql" or args.grow:
            subprocess.run([python, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        if args.grow:
            from grow import prefill

            print(prefill(database_url, env["DATA_ENCRYPTION_KEY"]))
        servers = [
            stack.enter_context(Server(name, argv, env, tmp / f"{name}.log"))
            for name, argv in (
                ("real", [python, "-m", "bot", "serve", *serve_opts]),
                ("bare", [python, str(ROOT / "bench" / "bare_app.py"), *serve_opts]),
                ("floor", [python, str(ROOT / "bench" / "bare_app.py"), "--floor", *serve_opts]),
            )
            if name != "floor" or args.floor
        ]
        for server in servers:
            server.wait_ready()
            drive(server.port, build_requests(crypto, token, args.warmup, msg_ids), *load)
        rows, walls = {s.name: [] for s in servers}, {s.name: 0.0 for s in servers}
        cpu = {s.name: 0.0 for s in servers}
        for round_number in range(1, args.rounds + 1):
            for server in servers:
                # Built just before use: the timestamps must be within 300 s when they arrive.
                requests = build_requests(crypto, token, args.requests, msg_ids)
                spying = args.spy and server.name == "real" and round_number == args.rounds
                spy = Spy(server.proc.pid, args.spy) if spying else None
                before = server.cpu_seconds()
                part, wall = drive(server.port, requests, *load)
                cpu[server.name] += server.cpu_seconds() - before
                if spy:
                    spy.stop()
                rows[server.name] += part
                walls[server.name] += wall
        results = [summarize(s, rows[s.name], walls[s.name], crypto, BUSY) for s in servers]
        for r in results:
            r["cpu_ms"] = cpu[r["name"]] * 1000 / max(1, r["requests"])

    print(f"\n{'server':<26}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms':>8}")
    for r in results:
        store = f"({args.db}{'+redis' if args.redis else ''})"
        label = r['name'] if r['name'] == 'bare' else f"{r['name']} {store}"
        print(f"{label:<26}{r['requests']:>9}{r['errors']:>8}{r['rps']:>9.1f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['cpu_ms']:>8.2f}")
    real, bare = results[:2]
    ratio = real["rps"] / bare["rps"]
    # Issue 16's targets: 0.35 on SQLite (the default), 0.3 on PostgreSQL, 0.5 with Redis.
    target = 0.5 if args.redis else 0.35 if args.db == "sqlite" else 0.3
    checks = {
        f"throughput ratio real/bare >= {target}": ratio >= target,
        "real p99 < 50 ms": real["p99"] < 50,
        "no errors": real["errors"] == 0 and bare["errors"] == 0,
    }
    print(f"\nthroughput ratio real/bare: {ratio:.2f}")
    if args.floor:
        floor = results[2]
        print(f"floor/bare: {floor['rps'] / bare['rps']:.2f} (the most this storage allows); real/floor: "
              f"{real['rps'] / floor['rps']:.2f}")
    for label, ok in checks.items():
        print(f"  {'MET   ' if ok else 'MISSED'} {label}")
    if args.spy:
        print(spy_report(args.spy))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
