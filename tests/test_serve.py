"""The production server from `python -m bot serve`, spoken to over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from handlers import texts, understanding
from tests.conftest import AES_KEY, APP_ID, DATA_KEY, TOKEN
from tests.wechat_peer import INBOUND, WeChatPeer, text_xml

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bot_env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL"))}
    env.update(
        INSTANCE_DIR=str(tmp_path),
        DATA_ENCRYPTION_KEY=DATA_KEY,
        SECRET_KEY="serve-test-secret-key-0123",
        WECHAT_TOKEN=TOKEN,
        WECHAT_APP_ID=APP_ID,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
        **extra,
    )
    return env


class Server:
    def __init__(self, env: dict[str, str], workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(env["INSTANCE_DIR"]) / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60  # a loaded CI machine starts gunicorn slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.output()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.2)
        self.process.kill()  # never leave a server behind for the rest of the run
        self.process.wait(timeout=10)
        raise AssertionError(f"server did not come up: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


@pytest.fixture
def server_factory():
    servers = []

    def start(env, workers=2):
        server = Server(env, workers)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    """One server on the defaults (SQLite in INSTANCE_DIR, 2 workers), shared by the tests that only
    speak to it: starting gunicorn is most of each test's time. HOME points at an empty directory
    so a per-user control socket would show up there."""
    tmp_path = tmp_path_factory.mktemp("serve")
    home = tmp_path / "home"
    home.mkdir()
    server = Server(bot_env(tmp_path, HOME=str(home), XDG_RUNTIME_DIR=str(home)))
    server.instance, server.home = tmp_path, home
    yield server
    server.stop()


def post(server, peer, xml):
    query, body = peer.envelope(xml)
    return requests.post(server.url + "/wechat", params=query, data=body, headers={"Content-Type": "text/xml"}, timeout=10)


def test_serve_on_sqlite_defaults_answers_over_http(default_server):
    server = default_server
    # No per-user control socket that a second instance on the host would share and delete.
    assert list(server.home.rglob("*.ctl")) == []
    health = requests.get(server.url + "/healthz", timeout=5).json()
    assert health["status"] == "ok" and health["schema_revision"]
    peer = WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
    response = post(server, peer, (INBOUND / "event_subscribe.xml").read_text(encoding="utf-8"))
    assert response.status_code == 200
    assert peer.reply_text(response.content) == texts.WELCOME
    echo = requests.get(server.url + "/wechat", params={**peer.sign_query(), "echostr": "424242"}, timeout=5)
    assert echo.text == "424242"
    forged = requests.post(server.url + "/wechat", params={**peer.sign_query(), "signature": "0" * 40}, data=b"<xml/>", timeout=5)
    assert forged.status_code == 403
    big = requests.post(server.url + "/wechat", params=peer.sign_query(), data=b"x" * (1024 * 1024 + 1), timeout=10)
    assert big.status_code == 413
    assert post(server, peer, text_xml("还在吗")).status_code == 200


def test_logs_are_json_without_personal_data(default_server):
    server = default_server
    before = len(server.output())  # the shared server's log so far belongs to other tests
    peer = WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
    post(server, peer, text_xml("我的电话13912345678", openid="oSecretOpenid42"))
    requests.post(server.url + "/wechat", params={**peer.sign_query(), "signature": "0" * 40}, data=b"<xml/>", timeout=5)
    deadline = time.monotonic() + 10  # the log lines are written as the answers go out
    while not all(m in server.output()[before:] for m in ('"webhook: handled"', '"webhook: refused"')):
        assert time.monotonic() < deadline, server.output()[before:]
        time.sleep(0.05)
    output = server.output()
    assert "oSecretOpenid42" not in output and "13912345678" not in output
    entries = [json.loads(line) for line in output[before:].splitlines() if line.startswith("{")]
    handled = [e for e in entries if e.get("msg") == "webhook: handled"]
    assert len(handled) == 1 and handled[0]["openid_hash"] and handled[0]["msg_type"] == "text"
    assert [e["reason"] for e in entries if e.get("msg") == "webhook: refused"] == ["bad signature"]


def test_serve_on_postgresql_after_db_upgrade(tmp_path, server_factory, pg_url):
    from tests.conftest import create_pg_database, drop_pg_database

    url = create_pg_database()
    try:
        env = bot_env(tmp_path, DATABASE_URL=url)
        refused = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "db upgrade" in refused.stderr
        upgraded = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert upgraded.returncode == 0, upgraded.stderr
        server = server_factory(env)
        peer = WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
        assert peer.reply_text(post(server, peer, text_xml("你好")).content) == understanding.GREETING
        server.stop()
    finally:
        drop_pg_database(url)


def test_routes_command_lists_the_webhook(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot", "routes"], cwd=ROOT, env=bot_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "/wechat" in result.stdout and "/healthz" in result.stdout


def test_no_banner_and_security_headers_on_every_answer(default_server):
    """Issue 12: `Server: gunicorn` is not announced; every answer carries the security headers;
    strangers' health answers are minimal (the test is on loopback, so it sees the detail)."""
    server = default_server
    tmp_path = server.instance
    peer = WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
    answers = [
        requests.get(server.url + "/healthz", timeout=5),
        requests.get(server.url + "/console/login", timeout=5),
        requests.get(server.url + "/nowhere", timeout=5),
        post(server, peer, text_xml("你好")),
        requests.post(server.url + "/wechat", params={**peer.sign_query(), "signature": "0" * 40}, data=b"<xml/>", timeout=5),
    ]
    for answer in answers:
        assert "Server" not in answer.headers, answer.url
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["Referrer-Policy"] == "same-origin"
    assert answers[1].headers["Cache-Control"] == "no-store"
    database = tmp_path / "shuangyong.db"
    assert database.stat().st_mode & 0o777 == 0o600
    for sidecar in (tmp_path / "shuangyong.db-wal", tmp_path / "shuangyong.db-shm"):
        if sidecar.exists():
            assert sidecar.stat().st_mode & 0o777 == 0o600
