"""/simulator/: a WeChat-like chat page for the sandbox (registered only when
settings.simulator_available: the sandbox, with no AppSecret that could reach WeChat).

Who may use it: a signed-in console admin, or, when `python -m bot demo` runs it
(DEMO_MODE), a visitor on this machine's loopback. It speaks only as sandbox
identities (openids starting oDEMO or oSIM), never as a real follower, and time
travel refuses a database holding anything but demo data.

The page never calls the handlers: every message goes over real HTTP to this
server's /wechat, signed (and sealed in safe mode) as WeChat would send it, via
wechat.peer. Pushes are read back from the outbox rows the sandbox delivered.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import date

import requests
from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from bot.console.access import can
from bot.runtime import runtime
from bot.simulator import data
from wechat.protocol import Rejected
from wechat.peer import WeChatPeer, event_xml, text_xml
from handlers.site import menu
from scheduler.time_travel import TravelError, travel

blueprint = Blueprint(
    "simulator", __name__, url_prefix="/simulator", template_folder="templates", static_folder="static"
)
log = logging.getLogger(__name__)

SANDBOX_OPENID = re.compile(r"(?:oDEMO|oSIM)[A-Za-z0-9_-]{1,59}")  # the only identities it may speak as
KEY = re.compile(r"[A-Za-z0-9_:-]{1,64}")
LOOPBACK = ("127.0.0.1", "::1")
MAX_TEXT = 600  # WeChat caps a text message at 600 characters
WEBHOOK_TIMEOUT = 10  # seconds; the webhook answers within 5


def _from_loopback() -> bool:
    """The visitor is on this machine, with no proxy in between (a proxy adds X-Forwarded-For)."""
    return request.remote_addr in LOOPBACK and "X-Forwarded-For" not in request.headers


@blueprint.before_request
def _only_admins():
    settings = runtime().settings
    if settings.demo_mode and _from_loopback():
        return None
    if can(current_user, "staff.manage"):
        _release_console_session()
        return None
    if request.endpoint == "simulator.page" and not current_user.is_authenticated:
        return redirect(url_for("console.login", next=request.path))
    return jsonify(error="请以管理员身份登录控制台后使用模拟器"), 403


def _release_console_session() -> None:
    """Signing in looked the account up in the console's session; end that transaction now
    (SQLite takes its write lock at BEGIN) so the simulator's own sessions can proceed."""
    session = g.pop("console_db", None)
    if session is not None:
        session.close()


@blueprint.get("/")
def page():
    return render_template("simulator.html", menu=menu(runtime().settings))


@blueprint.get("/api/users")
def users():
    with runtime().sessions() as session:
        return jsonify(users=data.users(session), activities=data.activities(session))


@blueprint.get("/api/pushes")
def pushes():
    openid = request.args.get("openid", "")
    after = request.args.get("after", "0")
    if not SANDBOX_OPENID.fullmatch(openid) or not after.isdigit() or len(after) > 18:
        return _bad("openid 或 after 参数不正确")
    with runtime().sessions() as session:
        return jsonify(pushes=data.pushes(session, openid, int(after)))


@blueprint.post("/api/send")
def send():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad("请求内容应为 JSON 对象")
    kind = body.get("type")
    openid = body.get("openid") or (f"oSIM{secrets.token_hex(8)}" if kind == "subscribe" else "")
    if not isinstance(openid, str) or not SANDBOX_OPENID.fullmatch(openid):
        return _bad("请先选择一位用户")
    try:
        xml = _inbound_xml(openid, kind, body)
    except ValueError as problem:
        return _bad(str(problem))
    try:
        reply = _post_as_wechat(openid, xml)
    except (requests.RequestException, Rejected) as error:
        log.warning("simulator: webhook exchange failed", extra={"error": type(error).__name__})
        return jsonify(error="公众号没有正常回复，请稍后再试"), 502
    return jsonify(openid=openid, reply=reply)


@blueprint.post("/api/time-travel")
def time_travel():
    body = request.get_json(silent=True)
    try:
        day = date.fromisoformat(body["date"]) if isinstance(body, dict) and isinstance(body.get("date"), str) else None
    except ValueError:
        day = None
    if day is None:
        return _bad("请选择日期，例如 2027-01-20")
    rt = runtime()
    try:
        summary = travel(rt.sessions, rt.settings, day)
    except TravelError as problem:
        return _bad(str(problem))
    return jsonify(date=day.isoformat(), jobs=summary.jobs, queued=summary.queued,
                   delivered=summary.delivered, errors=list(summary.errors))


def _inbound_xml(openid: str, kind, body: dict) -> str:
    """The XML WeChat would post for what the user did on the page."""
    if kind == "text":
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ValueError("请输入要发送的文字")
        if len(content) > MAX_TEXT:
            raise ValueError(f"文字不能超过 {MAX_TEXT} 个字")
        return text_xml(openid, content)
    key = body.get("key")
    if key is not None and (not isinstance(key, str) or not KEY.fullmatch(key)):
        raise ValueError("key 参数不正确")
    if kind == "click" and key:
        return event_xml(openid, "CLICK", key)
    if kind == "scan" and key:
        return event_xml(openid, "SCAN", f"checkin:{key}")
    if kind == "subscribe":
        return event_xml(openid, "subscribe", f"qrscene_checkin:{key}" if key else None)
    raise ValueError("type 应为 text、click、scan 或 subscribe（click 和 scan 需要 key）")


def _post_as_wechat(openid: str, xml: str) -> str | None:
    peer = WeChatPeer.from_settings(runtime().settings)
    envelope = peer.envelope(xml, openid)
    response = requests.post(
        _own_webhook_url(), params=envelope.query, data=envelope.body,
        headers={"Content-Type": "text/xml"}, timeout=WEBHOOK_TIMEOUT,
    )
    if response.status_code != 200:
        raise Rejected(502, f"webhook answered {response.status_code}")
    return peer.reply_text(response.content)


def _own_webhook_url() -> str:
    """This server's own /wechat, from the socket it listens on — never from the Host
    header, which the browser (or anyone) controls."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return request.host_url + "wechat"  # Flask's test client or development server
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/wechat" if ":" in host else f"http://{host}:{port}/wechat"


def _bad(message: str):
    return jsonify(error=message), 400
