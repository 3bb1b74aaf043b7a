"""The baseline for bench/webhook_bench.py: Flask + wechatpy and nothing else.

POST /wechat verifies the URL signature, decrypts the AES envelope, parses the
message and answers a fixed text reply, encrypted. No database, no dedupe, no
handlers, no logging. It is served like `python -m bot serve` (gunicorn,
gthread workers, the options of bot/server.py).

    WECHAT_TOKEN=… WECHAT_ENCODING_AES_KEY=… WECHAT_APP_ID=… \\
        python bench/bare_app.py --port 8001 --workers 4 --threads 4
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from bench/
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bot.server import GunicornServer, gunicorn_options  # noqa: E402

REPLY = "已收到，谢谢您！"


def create_app(token: str, aes_key: str, app_id: str, floor=None) -> Flask:
    """`floor`: a bench/floor.Floor, whose storage work each message then does (the floor server)."""
    app = Flask(__name__)
    crypto = WeChatCrypto(token, aes_key, app_id)

    @app.get("/healthz")
    def healthz():
        return Response("ok", content_type="text/plain")

    @app.post("/wechat")
    def receive():
        args = request.args
        try:
            check_signature(token, args["signature"], args["timestamp"], args["nonce"])
            if abs(time.time() - int(args["timestamp"])) > 300:
                raise ValueError("timestamp outside tolerance")
            xml = crypto.decrypt_message(request.get_data(), args["msg_signature"], args["timestamp"], args["nonce"])
        except Exception:
            return Response("forbidden", status=403, content_type="text/plain")
        message = parse_message(xml)
        text = REPLY
        if floor is not None:
            key = hashlib.sha256(f"msg|{message.source}|{message.id}".encode()).hexdigest()
            text = floor.handle(key, message.source, REPLY) or REPLY
        now = int(time.time())
        reply = TextReply(message=message, content=text, time=now).render()
        body = crypto.encrypt_message(reply, args["nonce"], str(now))
        return Response(body, content_type="application/xml; charset=utf-8")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--floor", action="store_true",
                        help="do the least storage work a correct webhook must (bench/floor.py) on DATABASE_URL (+ REDIS_URL)")
    args = parser.parse_args()
    floor = None
    if args.floor:
        from floor import Floor

        floor = Floor(os.environ["DATABASE_URL"], os.environ.get("REDIS_URL", ""))
        floor.create_tables()
    app = create_app(os.environ["WECHAT_TOKEN"], os.environ["WECHAT_ENCODING_AES_KEY"], os.environ["WECHAT_APP_ID"], floor)
    name = "bench-floor" if args.floor else "bench-bare"
    options = gunicorn_options(args.host, args.port, args.workers, args.threads, "warning", name)
    GunicornServer(lambda: app, options).run()


if __name__ == "__main__":
    main()
