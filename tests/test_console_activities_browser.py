"""活动 in Debian's chromium (Playwright) against a real `python -m bot serve` in the sandbox: a clerk
creates an activity (a mistake first, the form comes back filled in), sees it in the list, raises
its capacity and opens the printable sign-in sheet with its check-in code. Screenshots go to
tests/artifacts/console/ for a person to look at."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import select

from models import utcnow
from models.activity import Activity
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from models.staff_account import StaffRole
from services import activities, staff_accounts, volunteers
from services.local_time import local_date
from services.volunteers import VolunteerDetails
from tests.browser_kit import stop_soon
from tests.conftest import DATA_KEY
from tests.test_serve import ROOT, Server, bot_env, free_port

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "console"
PASSWORD = "office-pc-2027"


class PatientServer(Server):
    """tests.test_serve.Server, waiting out a slow first /healthz on a busy machine (a read
    timeout is not a failure to start) and stopping the process if it never comes up."""

    def __init__(self, env: dict[str, str], workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(env["INSTANCE_DIR"]) / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        output = self.output()
        self.stop()
        raise AssertionError(f"server did not come up: {output}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    configure_data_key(DATA_KEY)  # module-scoped: before the autouse fixture runs
    instance = tmp_path_factory.mktemp("console-activities-browser")
    srv = PatientServer(bot_env(instance, WECHAT_SANDBOX="1"), workers=1)  # one is enough for a clerk
    srv.engine = make_engine(f"sqlite:///{instance / 'shuangyong.db'}")
    srv.sessions = make_session_factory(srv.engine)
    with srv.sessions.begin() as session:
        staff_accounts.create(session, "liuke", PASSWORD, utcnow(), role=StaffRole.OFFICER, display_name="刘干事")
        for n, name in enumerate(("林晓雨", "赵国强", "孙红梅")):
            v = volunteers.register(session, f"oBrowserAct{n:04d}", VolunteerDetails(
                name, f"1390000{n:04d}", "城关镇", "河口村", ["care"], "any"), utcnow())
            volunteers.approve(session, v, utcnow(), actor="staff:seed")
    yield srv
    stop_soon(srv)
    srv.engine.dispose()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_clerk_creates_an_activity_and_prints_its_sign_in_sheet(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(server.url + "/console/login")
    page.fill("input[name=username]", "liuke")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(server.url + "/console/")

    page.click("nav.mainnav a:has-text('活动')")
    page.click("a:has-text('新建活动')")
    day = (local_date(utcnow()) + timedelta(days=10)).isoformat()
    page.fill("input[name=title]", "学雷锋 为军属家庭上门维修")
    page.fill("input[name=day]", day)
    page.fill("input[name=start]", "09:00")
    page.fill("input[name=end]", "08:30")  # a slip: the end before the start
    page.fill("input[name=place]", "城关镇城东社区")
    page.fill("textarea[name=description]", "检修水电、修补门窗，请自带工具。")
    page.fill("input[name=capacity]", "2")
    page.click("button:has-text('新建活动')")
    assert page.locator(".error", has_text="结束时间要晚于开始时间").is_visible()
    assert page.input_value("input[name=place]") == "城关镇城东社区"  # nothing typed is lost
    shot(page, "activity-form-error")

    page.fill("input[name=end]", "11:30")
    page.click("button:has-text('新建活动')")
    page.wait_for_selector("h1:has-text('学雷锋 为军属家庭上门维修')")
    assert page.locator(".flash-success", has_text="已新建活动").is_visible()

    with server.sessions.begin() as session:  # three volunteers sign up in the chat; the third waits
        activity = session.scalars(select(Activity)).one()
        assert (activity.place, activity.capacity, activity.town) == ("城关镇城东社区", 2, None)
        for n in range(3):
            openid = f"oBrowserAct{n:04d}"
            activities.sign_up(session, activity.id, openid, volunteers.find(session, openid).id, utcnow())
        activity_id = activity.id

    page.reload()
    page.click("summary:has-text('修改名额')")
    page.fill("input[name=capacity]", "3")
    page.click("button:has-text('保存名额')")
    assert page.locator(".flash-success", has_text="候补的1人已按报名先后转为正式报名").is_visible()
    shot(page, "activity-detail")

    page.click("nav.mainnav a:has-text('活动')")
    assert page.locator("table.list td a", has_text="学雷锋 为军属家庭上门维修").is_visible()
    shot(page, "activity-list")

    page.goto(f"{server.url}/console/activities/{activity_id}/sheet")
    image = page.locator(".qr img")
    image.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", image.element_handle())
    assert page.locator("table.sign tbody tr", has_text="孙红梅").count() == 1  # promoted: on the sheet
    shot(page, "activity-sheet")
    page.emulate_media(media="print")
    assert not page.locator("nav.mainnav").is_visible()  # the print stylesheet hides the menu
    shot(page, "activity-sheet-print")
    page.emulate_media(media="screen")

    page.goto(server.url + "/console/teams")
    page.fill("input[name=name]", "城关镇老兵志愿服务队")
    page.fill("input[name=flag_date]", "2027-05-20")
    page.click("button:has-text('新建队伍')")
    page.fill("input[name=number]", "ZY2026-0001")
    page.click("button:has-text('添加')")
    assert page.locator("table.list td", has_text="林*雨").is_visible()
    shot(page, "volunteer-team")
    page.click("nav.mainnav a:has-text('志愿者')")
    assert page.locator("a", has_text="导出").first.is_visible()
    shot(page, "volunteer-list")
    context.close()
