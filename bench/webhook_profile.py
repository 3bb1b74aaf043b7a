"""Where a webhook message's time goes: cProfile of the real app, in-process, one message at a time.

The app is built as `serve` builds it (safe mode, the full route table) on a fresh SQLite file
or a throwaway PostgreSQL database, and the webhook bench's signed, AES-encrypted text messages
("帮助" and "你好" from 8 senders) go through Flask's test client. The handler pool is replaced
by one that runs the handler in the calling thread, so the profile sees the whole message;
what the pool hop itself costs is not in it (the webhook bench measures it).

    .venv/bin/python bench/webhook_profile.py --db sqlite --messages 2000
    .venv/bin/python bench/webhook_profile.py --db postgresql --top 30
    .venv/bin/python bench/webhook_profile.py --db postgresql --redis
    .venv/bin/python bench/webhook_profile.py --db sqlite --no-profile   # CPU per message only

Prints CPU milliseconds per message and the top functions by own time and by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import Future
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import webhook_bench as wb  # noqa: E402
from wechatpy.crypto import WeChatCrypto  # noqa: E402


def conversation_requests(_crypto, token: str, count: int, msg_ids) -> list[tuple[str, bytes, str]]:
    """Whole 志愿者报名 conversations, plaintext, one user after another."""
    import conversation_bench as cb

    out = []
    for _ in range(max(1, count // 9)):
        n = next(msg_ids) % 10**7
        openid = f"oProfConv{n:018d}"
        for said, _expected in cb.turns(n):
            ts, nonce = str(int(time.time())), "n0nce"
            path = f"/wechat?signature={wb.sign(token, ts, nonce)}&timestamp={ts}&nonce={nonce}&openid={openid}"
            out.append((path, cb.text_xml(openid, said, next(msg_ids)).encode(), openid))
    return out


class InlinePool:
    """Runs a submitted call at once, in the caller's thread."""

    def submit(self, fn, *args):
        future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as error:  # noqa: BLE001 (handed to the caller, as a pool would)
            future.set_exception(error)
        return future

    def shutdown(self, wait=True):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true",
                        help="only the CPU per message, without the profiler's own cost (best of 3 runs)")
    parser.add_argument("--conversation", action="store_true",
                        help="志愿者报名 turns (bench/conversation_bench.py's), --messages / 9 users, plaintext")
    parser.add_argument("--redis", nargs="?", const="redis://127.0.0.1:6379/12", default="", help="with REDIS_URL")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    credentials = wb.new_credentials()
    token = credentials["WECHAT_TOKEN"]
    crypto = WeChatCrypto(token, credentials["WECHAT_ENCODING_AES_KEY"], credentials["WECHAT_APP_ID"])
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="webhook-profile-")))
        url = stack.enter_context(wb.database(args.db, tmp, args.pg_server))
        env = wb.server_env(url, tmp, credentials)
        env["LOG_LEVEL"] = "WARNING"
        env["REDIS_URL"] = args.redis
        if args.conversation:  # plaintext mode, as the conversation bench
            env.pop("WECHAT_ENCODING_AES_KEY")
            env.pop("WECHAT_APP_ID")
        subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=wb.ROOT, env=env, check=True,
                       capture_output=True)
        from sqlalchemy import event

        from bot import create_app
        from bot.runtime import EXTENSION
        from config import Settings

        app = create_app(Settings.from_env(env, env_file=None))
        runtime = app.extensions[EXTENSION]
        runtime.handlers_pool.shutdown()
        runtime.handlers_pool = InlinePool()
        client = app.test_client()
        statements = Counter()
        event.listen(runtime.engine, "before_cursor_execute",
                     lambda _c, _cur, sql, *_a: statements.update([" ".join(sql.split())[:90]]))
        msg_ids = itertools.count(random.randrange(10**16, 9 * 10**16))  # never a retry of an earlier run

        def send(requests) -> None:
            for path, body, _openid in requests:
                query = dict(parse_qsl(path.split("?", 1)[1]))
                response = client.post("/wechat", query_string=query, data=body, content_type="text/xml")
                assert response.status_code == 200, response.status_code

        build = conversation_requests if args.conversation else wb.build_requests
        send(build(crypto, token, 200, msg_ids))  # warm-up: followers, compiled statements
        if args.no_profile:
            runs = []
            for _ in range(3):
                requests = build(crypto, token, args.messages, msg_ids)
                cpu = time.process_time()
                send(requests)
                runs.append(time.process_time() - cpu)
            runtime.close()
            print(f"{args.db}{'+redis' if args.redis else ''}: {args.messages} messages, "
                  f"{min(runs) / args.messages * 1000:.2f} ms CPU each (best of 3, no profiler)")
            return 0
        requests = build(crypto, token, args.messages, msg_ids)
        statements.clear()
        profile = cProfile.Profile()
        cpu = time.process_time()
        profile.enable()
        send(requests)
        profile.disable()
        cpu = time.process_time() - cpu
        runtime.close()

    print(f"{args.db}{'+redis' if args.redis else ''}: {args.messages} messages, {cpu / args.messages * 1000:.2f} ms CPU each (profiler included)")
    print("statements per message:")
    for sql, n in statements.most_common(20):
        print(f"  {n / args.messages:5.2f}  {sql}")
    stats = pstats.Stats(profile)
    if os.environ.get("PROFILE_DUMP"):
        stats.dump_stats(os.environ["PROFILE_DUMP"])
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top * 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
