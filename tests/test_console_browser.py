"""The console in Debian's chromium (Playwright) against a real `python -m bot serve` in safe mode.

What a staff member does on an office PC, end to end: a request sent over WeChat's real
protocol is 受理, 指派 and 办结 in the browser and the requester hears about each step;
a pending volunteer is approved; a 人工 chat is answered. Screenshots of the main pages
go to tests/artifacts/console/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from models import utcnow
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from models.help_request import HandoverMessage, HelpRequest, RequestStatus
from models.outbox import OutboxMessage, OutboxStatus
from models.staff_account import StaffRole
from models.volunteer import Volunteer, VolunteerStatus
from services import help_requests, staff_accounts, volunteers
from services.volunteers import VolunteerDetails
from tests.browser_kit import sign_in, stop_soon
from tests.conftest import AES_KEY, APP_ID, DATA_KEY, TOKEN
from tests.test_serve import Server, bot_env
from tests.wechat_peer import WeChatPeer, text_xml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
PASSWORD = "office-pc-2027"
REQUESTER = "oE2Erequester0001"
ASKER = "oE2Easker00000001"
HELPER = "oE2Evolunteer0001"
NEWCOMER = "oE2Enewcomer00001"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    configure_data_key(DATA_KEY)  # module-scoped: before the autouse fixture runs
    instance = tmp_path_factory.mktemp("console-browser")
    srv = Server(bot_env(instance, WECHAT_SANDBOX="1"), workers=1)  # one is enough for an office PC
    srv.env = bot_env(instance, WECHAT_SANDBOX="1")
    srv.engine = make_engine(f"sqlite:///{instance / 'shuangyong.db'}")
    srv.sessions = make_session_factory(srv.engine)
    _seed(srv.sessions)
    yield srv
    stop_soon(srv)
    srv.engine.dispose()


def _seed(sessions) -> None:
    now = utcnow()
    with sessions.begin() as session:
        staff_accounts.create(session, "wangke", PASSWORD, now, role=StaffRole.ADMIN, display_name="王科长")
        helper = volunteers.register(session, HELPER, VolunteerDetails(
            "林晓雨", "13900001111", "城关镇", "河口村", ["care"], "any"), now)
        volunteers.approve(session, helper, now, actor="staff:seed")
        volunteers.register(session, NEWCOMER, VolunteerDetails(
            "赵国强", "13900002222", "城关镇", "柳营村", ["repair"], "weekend"), now)



@pytest.fixture(scope="module")
def signed_in(browser, server):
    """王科长 signs in on the login page once; each test's context starts with those cookies."""
    return sign_in(browser, server.url, "wangke", PASSWORD)


@pytest.fixture
def office_screen(browser, signed_in):
    """A blank page on a 1366×768 office screen, signed in, in a context (cookies) of this test's own."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", storage_state=signed_in)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def page(office_screen, server):
    """A signed-in staff member on the console's first page."""
    office_screen.goto(server.url + "/console/")
    assert office_screen.url == server.url + "/console/"  # signed in: not sent to the login page
    return office_screen


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


class Phone:
    """A WeChat user talking to the server over the real protocol (signed, AES)."""

    def __init__(self, server, openid: str):
        import requests

        self.server, self.openid, self.http = server, openid, requests.Session()
        self.peer = WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
        self.msg_id = int.from_bytes(openid.encode()[-4:], "big") * 1000

    def say(self, text: str) -> str:
        self.msg_id += 1
        query, body = self.peer.envelope(text_xml(text, openid=self.openid, msg_id=self.msg_id))
        response = self.http.post(self.server.url + "/wechat", params=query, data=body, timeout=10,
                                  headers={"Content-Type": "text/xml"})
        assert response.status_code == 200
        return self.peer.reply_text(response.content) or ""


def told(server, openid: str) -> list[str]:
    with server.sessions() as session:
        return [row.payload["text"] for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == openid).order_by(OutboxMessage.id))]


def open_action(page, title: str) -> None:
    page.click(f"details.action summary:text-is('{title}')")


def test_a_request_from_wechat_is_taken_up_assigned_and_resolved_in_the_browser(page, server):
    phone = Phone(server, REQUESTER)
    for said in ("提交求助", "2", "老人住房漏雨，需要维修", "1", "2", "王大山", "13811110000", "同意"):
        phone.say(said)
    receipt = phone.say("1")
    assert "已收到您的求助" in receipt
    number = receipt.split("\n")[1]

    page.reload()
    assert page.locator(".tile", has_text="新求助待受理").locator(".count").inner_text() == "1"
    shot(page, "01-dashboard")
    page.click("text=新求助待受理")
    page.click(f"a:text-is('{number}')")
    assert page.locator("text=老人住房漏雨，需要维修").count() == 1
    assert page.locator("text=138****0000").count() >= 1 and page.locator("text=13811110000").count() == 0
    shot(page, "02-request-detail")

    open_action(page, "受理")
    page.click("details.action[open] button:text-is('受理')")
    page.locator(".flash").first.wait_for()
    open_action(page, "指派")
    page.select_option("details.action[open] select[name=assignee]", value=f"volunteer:{_volunteer_id(server)}")
    page.click("details.action[open] button:text-is('指派')")
    page.locator(".flash").first.wait_for()
    open_action(page, "办结")
    page.fill("details.action[open] textarea[name=resolution]", "已联系村里安排维修，屋顶已修好。")
    page.click("details.action[open] button:text-is('办结')")
    page.locator(".flash").first.wait_for()
    shot(page, "03-request-resolved")

    with server.sessions() as session:
        request = session.scalars(select(HelpRequest).where(HelpRequest.number == number)).one()
        assert request.status == RequestStatus.RESOLVED and request.resolution == "已联系村里安排维修，屋顶已修好。"
        assert [e.action for e in help_requests.timeline(session, request)] == [None, "accept", "assign", "resolve"]
        expected = [
            help_requests.accept_notice(request),
            help_requests.assign_notice(request),
            help_requests.resolve_notice(request, "已联系村里安排维修，屋顶已修好。"),
        ]
    assert told(server, REQUESTER) == expected
    assert any(number in text for text in told(server, HELPER))  # the volunteer was asked to help

    # The sandbox delivery pass sends them (in the demo they appear in the simulator).
    subprocess.run([sys.executable, "-m", "bot", "worker", "--once"], cwd=ROOT, env=server.env, check=True,
                   capture_output=True, timeout=60)
    with server.sessions() as session:
        statuses = {row.status for row in session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == REQUESTER))}
    assert statuses == {OutboxStatus.SENT}

    # 回访: staff call the requester back and record it, still in the browser.
    open_action(page, "回访")
    page.select_option("details.action[open] select[name=score]", label="非常满意")
    page.fill("details.action[open] textarea[name=note]", "老人说修得很好。")
    page.click("details.action[open] button:text-is('记录回访')")
    page.locator(".flash").first.wait_for()
    assert page.locator(".badge", has_text="已回访").count() >= 1
    shot(page, "03b-request-followed-up")
    with server.sessions() as session:
        request = session.scalars(select(HelpRequest).where(HelpRequest.number == number)).one()
        assert (request.status, request.rating) == (RequestStatus.VISITED, 5)
    # The requester can still ask about it in WeChat and sees the whole way.
    assert "已办结：已联系村里安排维修，屋顶已修好。" in phone.say(f"进度 {number}")


def _volunteer_id(server) -> int:
    with server.sessions() as session:
        return session.scalars(select(Volunteer.id).where(Volunteer.openid == HELPER)).one()


def test_a_pending_volunteer_is_approved(page, server):
    page.click("nav.mainnav a:text-is('登记审核')")
    page.click("main a:has-text('志愿者')")  # the tab, not the menu's 志愿者
    shot(page, "04-registrations")
    page.locator("table.list a", has_text="ZY").first.click()
    assert page.locator("text=赵*强").count() + page.locator("text=赵国强").count() >= 1
    page.click("button:has-text('通过并通知')")
    page.locator(".flash").first.wait_for()
    with server.sessions() as session:
        newcomer = session.scalars(select(Volunteer).where(Volunteer.openid == NEWCOMER)).one()
        assert newcomer.status == VolunteerStatus.APPROVED
        expected = [volunteers.approve_notice(newcomer)]
    assert told(server, NEWCOMER) == expected


def test_a_person_asking_for_a_person_gets_an_answer(page, server):
    phone = Phone(server, ASKER)
    assert "已为您转接人工服务" in phone.say("人工")
    assert "已转给工作人员" in phone.say("请问今年的优待金什么时候发？")

    page.click("nav.mainnav a:text-is('人工会话')")
    page.locator("table.list a").first.click()
    assert page.locator("text=请问今年的优待金什么时候发？").count() == 1
    page.fill("textarea[name=text]", "您好，今年的优待金预计12月底前发放到账，请留意。")
    page.click("button:has-text('发送回复')")
    page.locator(".flash").first.wait_for()
    assert page.locator(".thread", has_text="预计12月底前发放到账").count() == 1
    shot(page, "05-handover-thread")
    with server.sessions() as session:
        [answer] = session.scalars(select(HandoverMessage).where(HandoverMessage.direction == "out"))
        assert answer.text == "您好，今年的优待金预计12月底前发放到账，请留意。"
    assert told(server, ASKER)[-1] == "工作人员回复：\n您好，今年的优待金预计12月底前发放到账，请留意。"
    # The user's next message lands in the same thread.
    assert "已转给工作人员" in phone.say("好的，谢谢！")
    page.reload()
    assert page.locator("text=好的，谢谢！").count() == 1


def test_the_other_pages_render_for_the_record(page, server):
    for name, label in (("06-requests", "求助"), ("07-deliveries", "推送记录"), ("08-audit-log", "操作日志"),
                        ("09-accounts", "账号管理")):
        page.click(f"nav.mainnav a:text-is('{label}')")
        page.wait_for_load_state()
        assert page.locator("h1").count() >= 1
        shot(page, name)
