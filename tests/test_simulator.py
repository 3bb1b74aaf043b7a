"""/simulator/ in Debian's chromium (Playwright), against a real `python -m bot serve` in the
sandbox with safe mode on: every click and typed line goes through /wechat signed and encrypted."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import utcnow
from models.activity import Activity, ActivitySignup
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key
from models.outbound import StaffOpenid
from models.outbox import Channel, OutboxMessage, OutboxStatus
from models.volunteer import Volunteer, VolunteerStatus
from services import activities, volunteers
from services.volunteers import VolunteerDetails
from tests.browser_kit import stop_soon
from tests.conftest import DATA_KEY
from tests.test_serve import Server, bot_env

pytestmark = pytest.mark.slow
STAFF_OPENID = "oDEMOstaff0001"
CHECKIN_OPENID = "oDEMOvolunteer01"
ACTIVITY_CODE = "sim_spring_visit"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    configure_data_key(DATA_KEY)  # module-scoped: before the autouse fixture runs
    instance = tmp_path_factory.mktemp("simulator")
    srv = Server(bot_env(instance, WECHAT_SANDBOX="1", DEMO_MODE="1"), workers=1)  # one is enough for a page
    engine = make_engine(f"sqlite:///{instance / 'shuangyong.db'}")
    srv.sessions = make_session_factory(engine)
    _seed(srv.sessions)
    yield srv
    stop_soon(srv)
    engine.dispose()


def _seed(sessions) -> None:
    """A staff member, and an approved volunteer signed up for an activity starting soon."""
    now = utcnow()
    with sessions() as session:
        session.add(StaffOpenid(role="staff", openid=STAFF_OPENID, label=None))
        details = VolunteerDetails("林晓雨", "13900001111", "城关镇", "河口村", ["care"], "any")
        volunteer = volunteers.register(session, CHECKIN_OPENID, details, now)
        volunteers.change_status(session, volunteer, VolunteerStatus.APPROVED, now, actor="test")
        activity = Activity(code=ACTIVITY_CODE, title="春节走访慰问（模拟）", starts_at=now + timedelta(hours=1), capacity=5)
        session.add(activity)
        session.flush()
        assert activities.sign_up(session, activity.id, CHECKIN_OPENID, volunteer.id, now).signup is not None
        session.commit()



@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1000, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(server.url + "/simulator/")
    yield page
    context.close()


def account_bubbles(page):
    return page.locator(".msg.account .bubble")


def choose(page, openid: str) -> None:
    page.locator("#user option[value='%s']" % openid).wait_for(state="attached")
    page.select_option("#user", openid)


def say(page, text: str, expect: str) -> None:
    """Type a line as the user and wait for the account's answer containing `expect`."""
    before = account_bubbles(page).count()
    page.fill("#text", text)
    page.click("#send")
    page.locator(".msg.user .bubble", has_text=text).last.wait_for()
    account_bubbles(page).nth(before).wait_for()
    assert expect in account_bubbles(page).nth(before).inner_text()


def test_a_new_follower_signs_up_as_volunteer_from_the_menu(page, server):
    page.select_option("#user", "__new__")
    welcome = account_bubbles(page).first
    welcome.wait_for()
    assert "欢迎关注双拥助手" in welcome.inner_text()
    openid = page.eval_on_selector("#user", "select => select.value")
    assert openid.startswith("oSIM")

    page.click("text=我要报名")
    page.click(".sub-button:text('志愿者报名')")
    account_bubbles(page).nth(1).wait_for()
    assert "请问您的姓名？" in account_bubbles(page).nth(1).inner_text()

    page.click("#to-keyboard")
    say(page, "张伟民", "请输入您的手机号")
    say(page, "13912345678", "您所在的乡镇/街道")
    say(page, "1", "您所在的村/社区")
    say(page, "3", "您能提供哪些服务")
    say(page, "4 7", "您方便的服务时间")
    say(page, "2", "回复“同意”继续")
    say(page, "同意", "请核对")
    say(page, "1", "报名成功")

    with server.sessions() as session:
        volunteer = session.scalars(select(Volunteer).where(Volunteer.openid == openid)).one()
        assert (volunteer.name, volunteer.town, volunteer.village, volunteer.status) == (
            "张伟民", "城关镇", "河口村", VolunteerStatus.PENDING)
    assert volunteer.number in account_bubbles(page).last.inner_text()


def test_b_scanning_the_activity_qr_checks_the_volunteer_in(page, server):
    choose(page, CHECKIN_OPENID)
    page.select_option("#activity", ACTIVITY_CODE)
    page.click("#scan")
    reply = page.locator(".msg.account .bubble", has_text="签到成功")
    reply.wait_for()
    assert "春节走访慰问（模拟）" in reply.inner_text()
    with server.sessions() as session:
        signup = session.scalars(select(ActivitySignup).where(ActivitySignup.openid == CHECKIN_OPENID)).one()
        assert signup.checked_in_at is not None


def test_b_a_stranger_scanning_the_qr_follows_and_is_told_to_sign_up_first(page, server):
    page.locator("#activity option[value='%s']" % ACTIVITY_CODE).wait_for(state="attached")
    page.select_option("#activity", ACTIVITY_CODE)
    page.click("#scan")  # no user chosen: WeChat sends subscribe with qrscene_checkin:<code>
    reply = account_bubbles(page).first
    reply.wait_for()
    assert "欢迎关注双拥助手" in reply.inner_text() and "您还没有报名“春节走访慰问（模拟）”" in reply.inner_text()
    stranger = page.eval_on_selector("#user", "select => select.value")
    with server.sessions() as session:
        assert session.scalars(select(ActivitySignup).where(ActivitySignup.openid == stranger)).all() == []


def test_c_time_travel_to_2027_01_20_shows_the_spring_festival_reminder(page, server):
    choose(page, STAFF_OPENID)
    page.fill("#travel-date", "2027-01-20")
    page.click("#travel")
    page.locator("#status", has_text="已跳转到 2027-01-20").wait_for()
    push = page.locator(".msg.account .bubble", has_text="春节（2月6日）")  # not the 元旦春节 visit plan
    push.first.wait_for()  # the page polls the pushes every 2 s
    text = push.first.inner_text()
    assert text.startswith("推送") and "还有17天" in text and "走访慰问" in text

    with server.sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == STAFF_OPENID,
                                                           OutboxMessage.kind == "holiday_reminder")).all()
    assert [(r.status, r.channel) for r in rows] == [(OutboxStatus.SENT, Channel.SANDBOX)]

    # Jumping to the same day again runs nothing twice.
    page.click("#travel")
    page.locator("#status", has_text=re.compile(r"新增 0 条待发消息")).wait_for()
    with server.sessions() as session:
        again = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == STAFF_OPENID,
                                                            OutboxMessage.kind == "holiday_reminder")).all()
    assert len(again) == 1
