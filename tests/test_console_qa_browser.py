"""Regression tests in Debian's chromium for what a QA pass of the console found: the printed
request list was empty, 我的账号 scrolled sideways at 1366 px, a double click sent an action
twice, and what a clerk typed was lost when the session timed out while the form was open."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import utcnow
from models.help_request import Urgency
from models.status_event import StatusEvent
from services import help_requests
from services.help_requests import RequestDetails
from tests.test_console_browser import (PASSWORD, office_screen, open_action, server, shot,  # noqa: F401  (fixtures)
                                        signed_in)

pytestmark = pytest.mark.slow


@pytest.fixture
def page(office_screen):
    """Signed in, on a blank page: each test opens the page it is about."""
    return office_screen


def _request(server, openid: str, description: str = "家里屋顶漏雨") -> int:
    details = RequestDetails("living", description, Urgency.NORMAL, "self", "周建国", "13911112222", [],
                             town="城关镇")
    with server.sessions.begin() as session:
        return help_requests.submit(session, openid, details, utcnow(), source="chat").id


def _actions(server, request_id: int) -> list[str]:
    with server.sessions() as session:
        return [e.action for e in session.scalars(select(StatusEvent).where(
            StatusEvent.subject == "help_request", StatusEvent.subject_id == request_id).order_by(StatusEvent.id))]


def test_the_printed_request_list_shows_the_table(page, server):
    _request(server, "oQAprint000000001")
    page.goto(server.url + "/console/requests")
    page.emulate_media(media="print")
    assert page.locator("table.list tbody tr").first.is_visible()
    assert not page.locator("table.list .select-col").first.is_visible()  # no checkboxes on paper
    assert not page.locator("#bulk .toolbar").is_visible()
    shot(page, "qa-print-requests")
    page.emulate_media(media="screen")


def test_my_account_fits_an_office_screen(page, server):
    page.goto(server.url + "/console/me")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_a_long_unbroken_text_wraps_instead_of_being_cut_off(page, server):
    link = "https://example.com/" + "a" * 300  # a pasted link: one "word" wider than the card
    request_id = _request(server, "oQAlonglink000001", description=link)
    page.goto(server.url + f"/console/requests/{request_id}")
    block = page.locator("dd.text-block").first
    assert block.evaluate("e => e.scrollWidth <= e.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_a_double_click_sends_an_action_once(page, server):
    request_id = _request(server, "oQAdouble00000001")
    page.goto(server.url + f"/console/requests/{request_id}")
    open_action(page, "备注")
    page.fill("form[action$='/note'] textarea[name=note]", "电话联系了周建国")
    page.locator("form[action$='/note'] button[type=submit]").dblclick()
    page.locator(".flash", has_text="备注已保存").wait_for()  # answered (networkidle alone can come before the POST)
    page.wait_for_load_state("networkidle")
    assert _actions(server, request_id).count("note") == 1


def test_text_typed_before_the_session_timed_out_comes_back_after_signing_in(page, server):
    request_id = _request(server, "oQAexpired0000001")
    page.goto(server.url + f"/console/requests/{request_id}")
    open_action(page, "办结")
    page.fill("form[action$='/resolve'] textarea[name=resolution]", "已联系民政所，临时救助下月到账。")
    kept = [c for c in page.context.cookies() if c["name"] != "sy_console"]
    page.context.clear_cookies()  # the session timed out over lunch (the browser dropped its cookie)
    page.context.add_cookies(kept)
    page.click("form[action$='/resolve'] button[type=submit]")
    page.wait_for_url(lambda url: "/console/login" in url)
    assert f"next=/console/requests/{request_id}" in page.url
    assert "登录已过期，请重新登录" in page.inner_text("main")
    assert "登录后会自动填回" in page.inner_text("main")
    page.fill("input[name=username]", "wangke")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(server.url + f"/console/requests/{request_id}")
    field = page.locator("form[action$='/resolve'] textarea[name=resolution]")
    assert field.is_visible() and field.input_value() == "已联系民政所，临时救助下月到账。"
    assert "已填回您登录前填写的内容" in page.inner_text("main")
    assert "resolve" not in _actions(server, request_id)  # filled in, not sent: the clerk checks and sends
    page.reload()
    assert page.locator("form[action$='/resolve'] textarea[name=resolution]").input_value() == ""  # forgotten
