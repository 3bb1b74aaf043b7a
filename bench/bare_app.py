"""The baseline for bench/webhook_bench.py: Flask + wechatpy and nothing else.

POST /wechat verifies the URL signature, decrypts the AES envelope, parses the
message and answers a fixed text reply, encrypted. No database, no dedupe, no
handlers, no logging. It is served like `python -m bot serve` (gunicorn,
gthread workers; options copied from bot/server.py).

    WECHAT_TOKEN=… WECHAT_ENCODING_AES_KEY=… WECHAT_APP_ID=… \\
        python bench/bare_app.py --port 8001 --workers 2 --threads 8
"""

from __future__ import annotations

import argparse
import os
import time

from flask import Flask, Response, request
from gunicorn.app.base import BaseApplication
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

REPLY = "已收到，谢谢您！"


def create_app(token: str, aes_key: str, app_id: str) -> Flask:
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
        now = int(time.time())
        reply = TextReply(message=message, content=REPLY, time=now).render()
        body = crypto.encrypt_message(reply, args["nonce"], str(now))
        return Response(body, content_type="application/xml; charset=utf-8")

    return app


class _Server(BaseApplication):
    def __init__(self, app: Flask, options: dict):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app = create_app(os.environ["WECHAT_TOKEN"], os.environ["WECHAT_ENCODING_AES_KEY"], os.environ["WECHAT_APP_ID"])
    # Same options as bot/server.py's run_gunicorn (the access log is off there too).
    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "worker_class": "gthread",
        "threads": args.threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "bench-bare",
    }
    _Server(app, options).run()


if __name__ == "__main__":
    main()
