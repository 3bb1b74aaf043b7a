"""A fake WeChat API server: a real threaded HTTP server on loopback.

The real wechatpy client talks to it through WECHAT_API_BASE_URL. It checks what
WeChat checks (wechat-platform.md §5–§11): the access token on every call, the
stable_token credentials, the documented JSON body of each send, template field
lengths; it drops a resend with a known client_msg_id / clientmsgid as WeChat
does. Tests script it: queued answers per endpoint (errcodes, HTTP errors),
latency, token expiry and revocation; and read back what it received.

    with FakeWeChatApi() as api:
        api.respond("/cgi-bin/message/template/send", 45015)
        ... settings with WECHAT_API_BASE_URL=api.base_url ...
        assert api.delivered("/cgi-bin/message/template/send")
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-app-secret-0123456789abcdef"
CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"
BIZSEND = "/cgi-bin/message/subscribe/bizsend"
MASS = "/cgi-bin/message/mass/sendall"
STABLE_TOKEN = "/cgi-bin/stable_token"
PLAIN_TOKEN = "/cgi-bin/token"
QRCODE = "/cgi-bin/qrcode/create"
QR_MAX_EXPIRE = 2_592_000  # 30 days, the most a temporary code lives
FIELD_LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "phrase": 5, "name": 10,
                "phone_number": 17, "time": 20, "date": 20, "amount": 32}


@dataclass
class Received:
    path: str
    token: str | None
    body: Any
    at: float
    answer: dict = field(default_factory=dict)


@dataclass
class Delivery:
    """A message WeChat would actually show to someone (after its own dedupe)."""

    path: str
    touser: Any
    client_msg_id: str | None
    body: dict
    msgid: int
    at: float


class FakeWeChatApi:
    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET, latency: float = 0.0, token_ttl: int = 7200):
        self.app_id, self.secret = app_id, secret
        self.latency = latency
        self.token_ttl = token_ttl
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.deliveries: list[Delivery] = []
        self.token_fetches = 0
        self.forced_fetches = 0
        self.plain_token_fetches = 0
        self.stale_stable_token = False  # normal-mode stable_token keeps returning a refused token
        self._scripts: dict[str, deque] = {}
        self._token: str | None = None
        self._token_expires = 0.0
        self._expired: set[str] = set()
        self._revoked: set[str] = set()
        self._sent_ids: dict[tuple, int] = {}
        self.qr_codes: list[dict] = []  # codes issued by qrcode/create: scene, ticket, url, expire_seconds
        self._msgids = itertools.count(3057208134587392001)
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> "FakeWeChatApi":
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeWeChatApi":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- scripting -------------------------------------------------------------

    def respond(self, path: str, *answers: int | dict | tuple) -> None:
        """Queue answers for the next calls to `path`: an errcode, a JSON dict, or ("http", status)."""
        with self.lock:
            self._scripts.setdefault(path, deque()).extend(answers)

    def expire_token(self) -> None:
        """The current token expires now: calls get 42001, the next fetch issues a new one."""
        with self.lock:
            if self._token:
                self._expired.add(self._token)
            self._token = None

    def revoke_token(self) -> None:
        """Someone force-refreshed: the current token gets 40001 from now on."""
        with self.lock:
            if self._token:
                self._revoked.add(self._token)
                if not self.stale_stable_token:
                    self._token = None

    @property
    def token(self) -> str | None:
        return self._token

    # --- reading back ----------------------------------------------------------

    def calls(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def delivered(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if path is None or d.path == path]

    # --- the endpoints ---------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], raw: bytes) -> tuple[int, dict]:
        if self.latency:
            time.sleep(self.latency)
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = ValueError
        with self.lock:
            record = Received(path, query.get("access_token"), None if body is ValueError else body, time.time())
            self.received.append(record)
            status, answer = self._answer(method, path, query, body)
            record.answer = answer
        return status, answer

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict]:
        if path == STABLE_TOKEN:
            return 200, self._stable_token(body)
        if path == PLAIN_TOKEN:
            self.plain_token_fetches += 1
            return 200, _error(40164, "plain /cgi-bin/token must not be used")
        token_error = self._check_token(query.get("access_token"))
        if token_error:
            return 200, token_error
        scripted = self._scripts.get(path)
        if scripted:
            answer = scripted.popleft()
            if isinstance(answer, tuple) and answer[0] == "http":
                return answer[1], {"error": "scripted HTTP status"}
            return 200, answer if isinstance(answer, dict) else _error(answer, f"scripted errcode {answer}")
        if method != "POST":
            return 200, _error(43002, "require POST method")
        if body is ValueError or not isinstance(body, dict):
            return 200, _error(47001, "data format error: body is not a JSON object")
        endpoint = {CUSTOM: self._custom, TEMPLATE: self._template, BIZSEND: self._bizsend, MASS: self._mass,
                    QRCODE: self._qrcode}.get(path)
        if endpoint is None:
            return 404, {"errcode": 404, "errmsg": f"fake API has no {path}"}
        return 200, endpoint(path, body)

    def _stable_token(self, body: Any) -> dict:
        if not isinstance(body, dict) or body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if body.get("appid") != self.app_id:
            return _error(40013, "invalid appid")
        if body.get("secret") != self.secret:
            return _error(40125, "invalid appsecret")
        self.token_fetches += 1
        force = bool(body.get("force_refresh"))
        self.forced_fetches += force
        now = time.time()
        if force or self._token is None or self._token_expires <= now:
            if force and self._token:
                self._revoked.add(self._token)
            self._token = "FAKE_" + secrets.token_hex(24)
            self._token_expires = now + self.token_ttl
        return {"access_token": self._token, "expires_in": int(self._token_expires - now)}

    def _check_token(self, token: str | None) -> dict | None:
        if not token:
            return _error(41001, "access_token missing")
        if token in self._expired or (token == self._token and self._token_expires <= time.time()):
            return _error(42001, "access_token expired")
        if token in self._revoked or token != self._token:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        return None

    def _custom(self, path: str, body: dict) -> dict:
        if not _openid(body.get("touser")):
            return _error(40003, "invalid openid")
        if body.get("msgtype") != "text":
            return _error(40008, "invalid message type")
        content = (body.get("text") or {}).get("content") if isinstance(body.get("text"), dict) else None
        if not isinstance(content, str) or not content:
            return _error(44003, "empty news data")
        return self._deliver(path, body["touser"], None, body)

    def _template(self, path: str, body: dict) -> dict:
        if not _openid(body.get("touser")):
            return _error(40003, "invalid openid")
        if not isinstance(body.get("template_id"), str) or not body["template_id"]:
            return _error(40037, "invalid template_id")
        problem = _check_data(body.get("data"))
        if problem:
            return _error(47003, f"argument invalid! data.{problem}")
        return self._deliver(path, body["touser"], body.get("client_msg_id"), body)

    def _bizsend(self, path: str, body: dict) -> dict:
        if not _openid(body.get("touser")):
            return _error(40003, "invalid openid")
        if not isinstance(body.get("template_id"), str) or not body["template_id"]:
            return _error(40037, "invalid template_id")
        problem = _check_data(body.get("data"))
        if problem:
            return _error(47003, f"argument invalid! data.{problem}")
        return self._deliver(path, body["touser"], None, body)

    def _mass(self, path: str, body: dict) -> dict:
        audience = body.get("filter")
        if not isinstance(audience, dict) or not isinstance(audience.get("is_to_all"), bool):
            return _error(40130, "invalid filter")
        if not audience["is_to_all"] and not isinstance(audience.get("tag_id"), int):
            return _error(40050, "invalid tag_id")
        msgtype = body.get("msgtype")
        content = body.get(msgtype) if isinstance(body.get(msgtype), dict) else None
        if msgtype not in ("text", "mpnews") or not content:
            return _error(40008, "invalid message type")
        clientmsgid = body.get("clientmsgid")
        if clientmsgid is not None and ("mass", clientmsgid) in self._sent_ids:
            return _error(45065, "clientmsgid exist")
        target = "all" if audience["is_to_all"] else f"tag:{audience['tag_id']}"
        answer = self._deliver(path, target, None, body)
        if clientmsgid is not None:
            self._sent_ids[("mass", clientmsgid)] = answer["msgid"]
        return {"errcode": 0, "errmsg": "send job submission success", "msg_id": answer["msgid"], "msg_data_id": 2247483684}

    def _qrcode(self, path: str, body: dict) -> dict:
        """qrcode/create as documented (wechat-platform.md §10): temporary codes expire in ≤30 days
        (60 s when not given); string scenes are 1–64 characters; a ticket and the code's content url."""
        action = body.get("action_name")
        scene = ((body.get("action_info") or {}).get("scene") or {}) if isinstance(body.get("action_info"), dict) else {}
        if action in ("QR_STR_SCENE", "QR_LIMIT_STR_SCENE"):
            value = scene.get("scene_str")
            if not isinstance(value, str) or not 1 <= len(value) <= 64:
                return _error(40097, "invalid args: scene_str")
        elif action in ("QR_SCENE", "QR_LIMIT_SCENE"):
            value = scene.get("scene_id")
            if not isinstance(value, int) or value <= 0:
                return _error(40097, "invalid args: scene_id")
        else:
            return _error(40097, "invalid action_name")
        answer: dict[str, Any] = {"ticket": "gQH47joAAAAAAAAAASxodHRwOi8v" + secrets.token_urlsafe(24),
                                  "url": "http://weixin.qq.com/q/" + secrets.token_urlsafe(16)}
        if action in ("QR_SCENE", "QR_STR_SCENE"):
            seconds = body.get("expire_seconds", 60)
            if not isinstance(seconds, int) or seconds <= 0:
                return _error(40097, "invalid args: expire_seconds")
            answer["expire_seconds"] = min(seconds, QR_MAX_EXPIRE)
        self.qr_codes.append({"scene": value, **answer})
        return answer

    def _deliver(self, path: str, touser: Any, client_msg_id: str | None, body: dict) -> dict:
        if client_msg_id is not None and (touser, client_msg_id) in self._sent_ids:
            # WeChat sends an openid + client_msg_id once (within 10 minutes) and says ok.
            return {"errcode": 0, "errmsg": "ok", "msgid": self._sent_ids[(touser, client_msg_id)]}
        msgid = next(self._msgids)
        if client_msg_id is not None:
            self._sent_ids[(touser, client_msg_id)] = msgid
        self.deliveries.append(Delivery(path, touser, client_msg_id, body, msgid, time.time()))
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


def _error(code: int, message: str) -> dict:
    return {"errcode": code, "errmsg": message}


def _openid(value: Any) -> bool:
    return isinstance(value, str) and 6 <= len(value) <= 64 and value.replace("_", "").replace("-", "").isalnum()


def _check_data(data: Any) -> str | None:
    if not isinstance(data, dict) or not data:
        return "data must be an object"
    for key, entry in data.items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str):
            return f"{key}.value missing"
        kind = key.rstrip("0123456789")
        if len(value) > FIELD_LIMITS.get(kind, 20) or "\n" in value or "\r" in value:
            return f"{key}.value invalid"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        # A client killed mid-request (the SIGKILL test) breaks the pipe: expected, not news.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    api: FakeWeChatApi
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, answer = self.api.handle(method, url.path, query, raw)
        payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args) -> None:  # quiet
        pass
