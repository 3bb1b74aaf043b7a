"""The sandbox demo: `seed-demo` (in this process, through the cli fixture), and `demo` (web +
scheduler + delivery in one command) and `chat`, each run as a real `python -m bot` process."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter as Tally
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from werkzeug.security import check_password_hash

from models.activity import Activity, ActivitySignup, SignupStatus
from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
from models.care_pair import CarePair, PairStatus
from models.help_request import HelpRequest, RequestStatus
from models.staff_account import StaffAccount
from models.status_event import StatusEvent
from models.visits import VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from tests.conftest import DATA_KEY, TOKEN
from tests.test_serve import ROOT, free_port

SUMMARY = "demo data: 200 households, 50 volunteers in 3 visit teams, 5 activities, 30 help requests, 12 care pairs (定点定人)"


def demo_env(tmp_path, database_url: str | None = None) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL"))}
    env.update(INSTANCE_DIR=str(tmp_path), DATA_ENCRYPTION_KEY=DATA_KEY, SECRET_KEY="demo-test-secret-key-0123",
               WECHAT_TOKEN=TOKEN, OUTBOX_SEND_RATE="50")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def bot(env, *args, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def seeded(cli, env):
    """`seed-demo` in this process (the cli fixture): the command itself, without a process start."""
    result = cli(["seed-demo"], env=env)
    assert result.exit_code == 0, result.stderr[-2000:]
    return result


def database_url(tmp_path, db_url: str | None) -> str:
    return db_url or f"sqlite:///{tmp_path / 'shuangyong.db'}"


def test_seed_demo_makes_the_demo_county_on_postgresql(pg_url, tmp_path, cli):
    """On SQLite (the demo's default) the same county is checked by the test below, which seeds it."""
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    env = demo_env(tmp_path, pg_url)
    assert SUMMARY in seeded(cli, env).stdout
    _assert_demo_county(pg_url)


def _assert_demo_county(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        count = lambda model, *where: conn.scalar(select(func.count()).select_from(model).where(*where))  # noqa: E731
        assert count(Household) == 200 and count(Beneficiary) == 200
        statuses = dict(conn.execute(select(Beneficiary.status, func.count()).group_by(Beneficiary.status)).all())
        assert statuses[RegistrationStatus.VERIFIED] > 100 and statuses[RegistrationStatus.PENDING] > 10
        assert conn.scalar(select(func.count(func.distinct(BeneficiaryStatus.category)))) >= 10
        towns = {town for (town,) in conn.execute(select(Household.town).distinct())}
        assert {"城关镇", "青石镇", "东湖街道"} <= towns  # the areas of deploy/areas.toml
        assert conn.scalar(select(func.count(func.distinct(Household.village)))) == 12

        assert count(Volunteer, Volunteer.status == VolunteerStatus.APPROVED) == 50 == count(Volunteer)
        openids = [o for (o,) in conn.execute(select(Volunteer.openid))] + [
            o for (o,) in conn.execute(select(Beneficiary.registered_by))]
        assert all(o.startswith("oDEMO") for o in openids)
        assert count(VisitTeam) == 3
        members = Tally(t for (t,) in conn.execute(select(VisitTeamMember.team_id).where(VisitTeamMember.volunteer_id.isnot(None))))
        assert len(members) == 3 and sum(members.values()) == 50 and min(members.values()) >= 10

        assert count(Activity) == 5
        signups = Tally(conn.execute(select(ActivitySignup.activity_id, ActivitySignup.status)).all())
        full = [a for a, cap in conn.execute(select(Activity.id, Activity.capacity))
                if signups[(a, SignupStatus.REGISTERED)] == cap]
        assert len(full) == 1 and signups[(full[0], SignupStatus.WAITLISTED)] == 3

        requests_ = conn.execute(select(HelpRequest.id, HelpRequest.status).where(HelpRequest.category != "handover")).all()
        assert len(requests_) == 30 and {s for _, s in requests_} == set(RequestStatus)
        assert count(HelpRequest, HelpRequest.waiting_since.isnot(None)) == 3  # 人工 chats waiting for staff
        for request_id, status in requests_:  # every change has its event row, the last one is the status now
            events = conn.execute(select(StatusEvent.to_status).where(
                StatusEvent.subject == "help_request", StatusEvent.subject_id == request_id).order_by(StatusEvent.id)).all()
            assert events[0][0] == RequestStatus.SUBMITTED and events[-1][0] == status

        assert count(CarePair, CarePair.status == PairStatus.ACTIVE) == 12
        assert conn.scalar(text("SELECT count(*) FROM calendar_rule")) > 10
        assert conn.scalar(text("SELECT count(*) FROM publicity_item")) > 5
    engine.dispose()


def test_seed_demo_makes_the_demo_county_and_recreates_it_and_refuses_real_data(tmp_path, cli):
    env = demo_env(tmp_path)
    engine = create_engine(database_url(tmp_path, None))

    def people():
        with engine.connect() as conn:
            return conn.execute(select(Volunteer.number, Volunteer.name).order_by(Volunteer.number)).all()

    seeded(cli, env)
    _assert_demo_county(database_url(tmp_path, None))
    first = people()
    again = seeded(cli, env)
    assert SUMMARY in again.stdout and people() == first  # re-created, not added to: same numbers, same people

    assert cli(["staff", "add", "oRealStaff01"], env=env).exit_code == 0
    refused = cli(["seed-demo"], env=env)
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: this database has data that is not demo data (1 staff openids); seed-demo would delete it: add --force"]
    assert people() == first

    forced = cli(["seed-demo", "--force"], env=env)
    assert forced.exit_code == 0 and SUMMARY in forced.stdout and people() == first
    engine.dispose()


def test_demo_refuses_a_real_account(tmp_path):
    result = bot({**demo_env(tmp_path), "WECHAT_APP_ID": "wx1234567890abcdef"}, "demo", "--port", str(free_port()))
    assert result.returncode == 1
    assert "WECHAT_APP_ID is set" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "shuangyong.db").exists()


class Lines:
    """A process's stdout, line by line, read in the background."""

    def __init__(self, stream):
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self._queue.put(line) for line in stream], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.seen:
                if found := re.search(pattern, line):
                    return found
            try:
                self.seen.append(self._queue.get(timeout=0.2).rstrip("\n"))
            except queue.Empty:
                pass
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.seen[-40:]))


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory):
    instance = tmp_path_factory.mktemp("demo")
    env, port = demo_env(instance), free_port()
    errors = open(instance / "demo-stderr.log", "w")  # the processes' log lines, shown when a test fails
    process = subprocess.Popen([sys.executable, "-m", "bot", "demo", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=errors, text=True)
    output = Lines(process.stdout)
    url = f"http://127.0.0.1:{port}"
    try:
        output.wait_for("Ctrl-C stops everything", timeout=90)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a loaded machine
                pass
            assert time.monotonic() < deadline and process.poll() is None, "demo did not come up"
            time.sleep(0.3)
        yield env, url, output, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        errors.close()


def problems(env) -> str:
    """Warnings, errors and tracebacks the demo's processes logged (no personal data is logged)."""
    text = (Path(env["INSTANCE_DIR"]) / "demo-stderr.log").read_text(errors="replace")
    return "\n".join(line for line in text.splitlines() if '"level": "info"' not in line)[-4000:]


@pytest.mark.slow
def test_demo_seeds_prints_addresses_and_password_and_answers(running_demo):
    env, url, output, _process = running_demo
    assert requests.get(url + "/healthz", timeout=5).json()["status"] == "ok"
    output.wait_for(re.escape(SUMMARY))
    output.wait_for(re.escape(f"simulator  {url}/simulator/"))
    output.wait_for(re.escape(f"console    {url}/console/  (sign in as admin)"))
    password = output.wait_for(r"demo admin for the console: admin / (\S+)").group(1)
    engine = create_engine(f"sqlite:///{env['INSTANCE_DIR']}/shuangyong.db")
    with engine.connect() as conn:
        stored = conn.execute(select(StaffAccount.username, StaffAccount.password_hash)).all()
    engine.dispose()
    assert len(stored) == 1 and stored[0][0] == "admin"
    assert check_password_hash(stored[0][1], password) and password not in stored[0][1]
    # The printed address and password open the console over real HTTP.
    browser = requests.Session()
    login_page = browser.get(url + "/console/login", timeout=5).text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login_page).group(1)
    signed_in = browser.post(url + "/console/login", data={"username": "admin", "password": password, "csrf_token": token},
                             timeout=5)
    assert signed_in.status_code == 200 and "工作台" in signed_in.text and "演示管理员" in signed_in.text


@pytest.mark.slow
def test_chat_talks_to_the_server_and_shows_pushes(running_demo):
    env, url, _output, _process = running_demo
    chat = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--url", url, "--openid", "oDEMOchatter01"],
                            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    lines = Lines(chat.stdout)
    try:
        chat.stdin.write("帮助\n")
        chat.stdin.flush()
        lines.wait_for("公众号：双拥助手使用说明")
        chat.stdin.write("联系我们\n/menu\n")
        chat.stdin.flush()
        lines.wait_for("办公时间")
        lines.wait_for("^9 联系我们$")
        queued = bot(env, "notify", "--openid", "oDEMOchatter01", "--text", "明天上午九点社区有拥军慰问活动")
        assert queued.returncode == 0, queued.stderr
        try:
            lines.wait_for("^公众号（推送）：明天上午九点社区有拥军慰问活动$", timeout=60)
        except AssertionError as missing:
            raise AssertionError(f"{missing}\n--- the demo's processes logged:\n{problems(env)}") from None
        chat.stdin.write("/menu 99\n")
        chat.stdin.flush()
        lines.wait_for(r"请输入 /menu 1 到 /menu 9")
    finally:
        chat.stdin.close()
        chat.wait(timeout=30)
    assert chat.returncode == 0


@pytest.mark.slow
def test_demo_stops_everything_on_sigterm(running_demo):
    env, url, _output, process = running_demo
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, problems(env)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)
