"""Composing and scheduling a notice in Debian's chromium against `python -m bot serve`
(sandbox): what a clerk does on an office PC. Screenshots go to tests/artifacts/console/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from models import utcnow
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from models.notice import Notice
from models.staff_account import StaffRole
from services import notice_sending, staff_accounts, volunteers
from services.local_time import local_date
from services.volunteers import VolunteerDetails
from tests.browser_kit import stop_soon
from tests.conftest import DATA_KEY
from tests.test_serve import Server, bot_env

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "console"
PASSWORD = "office-pc-2027"
HELPERS = ("oNBvolunteer00001", "oNBvolunteer00002")


class PatientServer(Server):
    """Server, but a slow first /healthz on a busy machine is waited for, and a server that
    never answers is stopped rather than left running."""

    def __init__(self, env: dict[str, str], workers: int = 2):
        try:
            super().__init__(env, workers)
        except requests.Timeout:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(self.url + "/healthz", timeout=5).status_code == 200:
                        return
                except requests.RequestException:
                    time.sleep(0.5)
            self.stop()
            raise


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    configure_data_key(DATA_KEY)
    instance = tmp_path_factory.mktemp("notices-browser")
    srv = PatientServer(bot_env(instance, WECHAT_SANDBOX="1"), workers=1)  # one is enough for a clerk
    engine = make_engine(f"sqlite:///{instance / 'shuangyong.db'}")
    srv.sessions = make_session_factory(engine)
    now = utcnow()
    with srv.sessions.begin() as session:
        staff_accounts.create(session, "wangke", PASSWORD, now, role=StaffRole.OFFICER, display_name="王科长")
        for n, openid in enumerate(HELPERS):
            person = volunteers.register(session, openid, VolunteerDetails(
                ("林晓雨", "赵国强")[n], "1390000111" + str(n), "城关镇", "河口村", ["care"], "any"), now)
            volunteers.approve(session, person, now, actor="staff:seed")
    yield srv
    stop_soon(srv)
    engine.dispose()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_notice_is_composed_previewed_and_scheduled_in_the_browser(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(server.url + "/console/login")
    page.fill("input[name=username]", "wangke")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(server.url + "/console/")

    page.click("nav.mainnav >> text=通知")
    page.click("text=写通知")
    page.fill("input[name=title]", "学雷锋志愿服务集合")
    page.fill("textarea[name=text]", "3月5日上午9点在县退役军人服务站门口集合，请穿志愿者马甲。\n联系电话 0571-88886666。")
    page.check("input[name=audience][value=volunteers]")
    page.check("input[name=when][value=later]")
    day = local_date(utcnow()).replace(year=local_date(utcnow()).year + 1, month=3, day=1)
    page.fill("input[name=day]", day.isoformat())
    page.fill("input[name=time]", "08:30")
    page.click("button:has-text('预览')")
    bubble = page.locator(".phone .bubble-text").first
    assert bubble.inner_text().startswith("【学雷锋志愿服务集合】\n3月5日上午9点")
    assert "共2人" in page.inner_text("aside")
    shot(page, "notice-preview")

    page.click("button:has-text('确认发送')")
    page.wait_for_url("**/console/notices/*")
    assert "通知已安排发送" in page.inner_text("main")
    assert "已安排" in page.inner_text("main")
    shot(page, "notice-scheduled")
    with server.sessions() as session:
        notice = session.scalars(select(Notice).where(Notice.title == "学雷锋志愿服务集合")).one()
        assert {r.recipient for r in notice_sending.rows_of(session, notice.id)} == set(HELPERS)
        assert local_date(notice.published_at) == day

    # The other content pages, for a person to look at.
    for path, name in (("/console/publicity", "publicity"), ("/console/faq", "faq"), ("/console/calendar", "calendar")):
        page.goto(server.url + path)
        shot(page, name)
    page.goto(server.url + "/console/calendar/workdays")
    page.fill("textarea[name=text]", f"{day.year}-02-07 上班\n2月10日至17日放假 春节")
    page.click("button:has-text('预览')")
    assert "星期日" in page.inner_text("main")
    shot(page, "workdays-preview")
    context.close()
