"""The sandbox demo: `seed-demo` (invented data), `demo` (everything in one command) and
`chat` (talk to a running server's /wechat from the terminal, as WeChat would)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import click

from bot.cli.root import prepare_database, cli, open_database
from config import Settings

ADMIN_USERNAME = "admin"
POLL_SECONDS = 0.5


def _seed(settings: Settings, sessions, force: bool):
    from models import utcnow
    from services import demo_data
    from services.areas import towns

    with sessions.begin() as session:
        areas = [(t.name, t.villages) for t in towns(session, settings)]  # the area table, as the chat offers
        return demo_data.seed(session, areas, utcnow(), force=force)


@cli.command("seed-demo")
@click.option("--force", is_flag=True, help="Also delete people data that is not demo data.")
def seed_demo(force: bool) -> None:
    """Re-create the invented demo data (households, volunteers, activities, requests, pairs)."""
    from scheduler.runner import ensure_seeded
    from services.demo_data import NotDemoData

    settings = Settings.from_env()
    prepare_database(settings)
    with open_database(settings) as (settings, _engine, sessions):
        ensure_seeded(sessions)  # the built-in calendar and the publicity calendar
        started = time.monotonic()
        try:
            summary = _seed(settings, sessions, force)
        except NotDemoData as found:
            raise click.ClickException(
                f"this database has data that is not demo data ({found}); seed-demo would delete it: add --force"
            ) from None
    click.echo(f"{summary.line()} ({time.monotonic() - started:.1f} s)")


def _create_admin(sessions) -> str | None:
    """The console's demo admin with a fresh password, returned once; None if it already exists."""
    from models import utcnow
    from models.staff_account import StaffRole
    from services import staff_accounts

    with sessions.begin() as session:
        if staff_accounts.by_username(session, ADMIN_USERNAME) is not None:
            return None
        password = f"{secrets.token_urlsafe(9)}-{secrets.randbelow(90) + 10}"  # letters and digits, as the policy asks
        staff_accounts.create(session, ADMIN_USERNAME, password, utcnow(), role=StaffRole.ADMIN, display_name="演示管理员")
    return password


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def demo(host: str, port: int) -> None:
    """Migrate, seed the demo data if empty, and run web + scheduler + delivery in the sandbox."""
    from scheduler.runner import ensure_seeded
    from services.demo_data import has_people

    if os.environ.get("WECHAT_APP_ID") or Settings.from_env().wechat_app_id:
        raise click.ClickException("WECHAT_APP_ID is set: the demo runs only in the sandbox, it must never message real people")
    settings = Settings.from_env()
    prepare_database(settings)
    with open_database(settings) as (settings, _engine, sessions):
        ensure_seeded(sessions)
        with sessions() as session:
            empty = not has_people(session)
        if empty:
            click.echo(_seed(settings, sessions, force=False).line())
        password = _create_admin(sessions)
    if password:
        click.echo(f"demo admin for the console: {ADMIN_USERNAME} / {password}  (shown only now)")
    else:
        click.echo(f"demo admin for the console: {ADMIN_USERNAME} (password shown when it was created; "
                   f"set a new one with `python -m bot staff-user passwd {ADMIN_USERNAME}`)")
    base = f"http://{host}:{port}"
    click.echo(
        f"双拥助手 demo (sandbox: nothing is sent to WeChat)\n"
        f"  webhook    {base}/wechat\n  health     {base}/healthz\n"
        f"  simulator  {base}/simulator/\n  console    {base}/console/  (sign in as {ADMIN_USERNAME})\n"
        f"  terminal   .venv/bin/python -m bot chat --url {base}\n"
        "Ctrl-C stops everything."
    )
    os.environ["DEMO_MODE"] = "1"  # the server opens the simulator to loopback visitors
    sys.exit(_run_children([
        [sys.executable, "-m", "bot", "serve", "--host", host, "--port", str(port), "--workers", "1"],
        [sys.executable, "-m", "bot", "scheduler", "--with-worker"],
    ]))


def _run_children(commands: list[list[str]]) -> int:
    """Run the commands side by side; when one ends or we are told to stop, stop them all."""
    children = [subprocess.Popen(command) for command in commands]
    stopping = threading.Event()

    def stop(_signum, _frame):
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.is_set() and all(child.poll() is None for child in children):
            stopping.wait(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [child.returncode for child in children if child.returncode not in (0, -signal.SIGTERM)]
    return 0 if stopping.is_set() or not failed else 1


# --- chat --------------------------------------------------------------------------------

def _menu_items(settings: Settings):
    from handlers.site import menu

    return [item for button in menu(settings) for item in button.items]


class _Chat:
    def __init__(self, settings: Settings, url: str, openid: str, sessions):
        from wechat.peer import WeChatPeer

        self.peer = WeChatPeer.from_settings(settings)
        self.url = url.rstrip("/") + "/wechat"
        self.openid = openid
        self.sessions = sessions
        self.lock = threading.Lock()  # one printer at a time: replies and pushes interleave

    def say(self, text: str) -> None:
        with self.lock:
            click.echo(text)
            sys.stdout.flush()

    def send(self, xml: str) -> None:
        query, body = self.peer.envelope(xml, self.openid)
        request = urllib.request.Request(
            f"{self.url}?{urllib.parse.urlencode(query)}", data=body, headers={"Content-Type": "text/xml"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                reply = self.peer.reply_text(response.read())
        except (urllib.error.URLError, OSError) as error:
            self.say(f"（连接失败：{getattr(error, 'reason', error)}）")
            return
        if reply is not None:
            self.say(f"公众号：{reply}")

    def watch_pushes(self, stop: threading.Event, seen: int) -> None:
        while not stop.wait(POLL_SECONDS):
            seen = self._pushes_after(seen)

    def _pushes_after(self, seen: int | None) -> int:
        """Print what the sandbox delivered to this user after outbox row `seen` (None: only note the last)."""
        from sqlalchemy import func, select

        from models.outbox import Channel, OutboxMessage, OutboxStatus, Recipient
        from services.delivery_policy import text_of

        mine = (OutboxMessage.addressed_to(Recipient.person(self.openid)), OutboxMessage.channel == Channel.SANDBOX,
                OutboxMessage.status == OutboxStatus.SENT)
        with self.sessions() as session:
            if seen is None:
                return session.scalar(select(func.max(OutboxMessage.id)).where(*mine)) or 0
            for row in session.scalars(select(OutboxMessage).where(*mine, OutboxMessage.id > seen).order_by(OutboxMessage.id)):
                seen = row.id
                self.say(f"公众号（推送）：{text_of(row.payload or {}) or '（一条图文或模板消息）'}")
        return seen


@cli.command("chat")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running server.")
@click.option("--openid", default=None, help="Chat as this user (default: a new follower, who first subscribes).")
@click.option("--linger", default=1.0, show_default=True, type=click.FloatRange(0, 600),
              help="Seconds to keep showing pushes after the input ends.")
def chat(url: str, openid: str | None, linger: float) -> None:
    """Chat with the account from the terminal; /menu, /menu N, /scan SCENE, /quit."""
    from wechat.peer import event_xml, text_xml

    with open_database() as (settings, _engine, sessions):
        new = openid is None
        openid = openid or f"oDEMOnew{secrets.token_hex(6)}"
        session = _Chat(settings, url, openid, sessions)
        items = _menu_items(settings)
        stop = threading.Event()
        watcher = threading.Thread(target=session.watch_pushes, args=(stop, session._pushes_after(None)), daemon=True)
        watcher.start()
        session.say(f"以 {openid} 的身份聊天。/menu 查看菜单，/menu N 点菜单，/scan 场景 扫码，/quit 退出。")
        if new:
            session.send(event_xml(openid, "subscribe"))
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            if line == "/quit":
                break
            if line == "/menu":
                session.say("\n".join(f"{n} {item.name}" for n, item in enumerate(items, start=1)))
            elif line.startswith("/menu "):
                choice = line[6:].strip()
                if not choice.isdigit() or not 1 <= int(choice) <= len(items):
                    session.say(f"（请输入 /menu 1 到 /menu {len(items)}）")
                    continue
                session.send(event_xml(openid, "CLICK", items[int(choice) - 1].key))
            elif line.startswith("/scan "):
                session.send(event_xml(openid, "SCAN", line[6:].strip()))
            else:
                session.send(text_xml(openid, line))
        time.sleep(linger)
        stop.set()
        watcher.join(timeout=5)
