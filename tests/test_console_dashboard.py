"""工作台: counts that match what came in, tiles that link to the filtered lists, the 乡镇 scope,
the oldest waiting requests and chats, the visit-plan progress and charts whose data the tables repeat."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from models import Recipient
from models import OutboxStatus
from models.beneficiary import Beneficiary
from models.help_request import HelpRequest, Urgency
from models.visits import PlannedVisit, VisitPlan
from services import beneficiaries, dashboard_stats, handover, help_requests, outbox, visit_campaigns, visit_plans, volunteers
from services.beneficiaries import BeneficiaryDetails
from services.help_requests import RequestDetails
from services.volunteers import VolunteerDetails
from tests.console_kit import NOW, add_staff

EAST, WEST = "东镇", "西镇"
_n = iter(range(1, 100_000))



def submit(s, town, *, category="living", days_ago=0, urgent=False):
    n = next(_n)
    return help_requests.submit(
        s, f"oRequester{n:05d}",
        RequestDetails(category=category, description=f"测试求助{n}", urgency=Urgency.URGENT if urgent else Urgency.NORMAL,
                       for_whom="self", contact_name="王大妈", contact_phone="13900001111", town=town),
        NOW - timedelta(days=days_ago))


def volunteer(s, town):
    n = next(_n)
    return volunteers.register(s, f"oVolunteer{n:05d}", VolunteerDetails(
        name=f"志愿者{n}", mobile=f"1390000{n:04d}", town=town, village="一村", skills=[], availability="weekend"), NOW)


def beneficiary(s, town, category="VETERAN"):
    n = next(_n)
    return beneficiaries.register(s, f"oFamily{n:05d}", BeneficiaryDetails(
        relation="self", name=f"对象{n}", categories=[category], mobile=f"1380000{n:04d}", town=town,
        village="一村", address=f"虚构路{n}号", id_number=None), NOW)


def chat(s, town, minutes_ago):
    at = NOW - timedelta(minutes=minutes_ago)
    thread, _ = handover.open_thread(s, f"oChat{next(_n):05d}", at, during=None, contact={}, town=town)
    handover.record_incoming(s, thread, at, msg_type="text", text="请问优待证怎么办？")
    return thread


@pytest.fixture
def world():
    """What came in: requests (old ones overdue), registrations, 人工 chats, one failed push."""
    def fill(sessions):
        with sessions.begin() as s:
            ids = {
                "east_old": [submit(s, EAST, days_ago=5, category=c).id for c in ("living", "housing", "medical")],
                "west_old": submit(s, WEST, days_ago=6, category="card").id,
                "east_new": [submit(s, EAST, category="living").id, submit(s, EAST, category="policy").id],
            }
            taken = submit(s, WEST, days_ago=3, category="legal")
            help_requests.accept(s, taken, NOW, actor="staff:test")
            ids["accepted"] = taken.id
            for town in (EAST, EAST, WEST):
                volunteer(s, town)
            beneficiary(s, EAST)
            ids["east_chat"] = chat(s, EAST, minutes_ago=90).id
            ids["west_chat"] = chat(s, WEST, minutes_ago=30).id
            row = outbox.enqueue(s, kind="request_update", recipient=Recipient.person("oSomebody0001"), payload={"text": "进度"},
                                 idempotency_key="test:failed")
            outbox.transition(s, row, OutboxStatus.FAILED, NOW, errcode=43004)
        return ids
    return fill


def tiles(html: str) -> dict[str, tuple[str, int, str]]:
    """data-tile → (the tile's opening tag, its count, its href or '')."""
    found = {}
    for match in re.finditer(r'(<(?:a|div) class="tile[^"]*"[^>]*data-tile="(\w+)"[^>]*>)(.*?)</(?:a|div)>', html, re.S):
        tag, name, body = match.groups()
        count = int(re.search(r'<span class="count">(\d+)</span>', body).group(1))
        href = re.search(r'href="([^"]+)"', tag)
        found[name] = (tag, count, unescape(href.group(1)) if href else "")
    return found


def chart(html: str, chart_id: str) -> tuple[dict, list[tuple[str, int]]]:
    data = json.loads(re.search(rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', html, re.S).group(1))
    table = re.search(rf'<table class="list" id="{chart_id}-table".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = [(label, int(count)) for label, count in
            re.findall(r'<tr><td>(.*?)</td><td class="num">(\d+)</td></tr>', table)]
    return data, rows


def test_counts_match_what_came_in_and_tiles_link_to_filtered_lists(settings, console, world):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    world(sessions)
    html = client_for("boss").get("/console/").get_data(as_text=True)
    found = tiles(html)
    assert found["new"][1:] == (6, "/console/requests?status=submitted&source=requests")
    assert found["overdue"][1:] == (4, "/console/requests?overdue=1&source=requests")
    # The list a tile opens shows as many requests as the tile counts (人工 chats have their own tile).
    for tile in ("new", "overdue"):
        listed = client_for("boss").get(found[tile][2]).get_data(as_text=True)
        assert f"共{found[tile][1]}条" in listed
    assert 'class="tile alert"' in found["overdue"][0]
    assert found["registrations"][1] == 4  # 3 volunteers + 1 优抚对象
    assert 'href="/console/registrations?kind=volunteer">志愿者3</a>' in html
    assert 'href="/console/registrations?kind=beneficiary">优抚对象1</a>' in html
    assert found["handover"][1:] == (2, "/console/handover")
    assert found["failed"][1:] == (1, "/console/deliveries?status=failed")
    assert 'class="tile alert"' in found["failed"][0]


def test_oldest_waiting_requests_and_chats_come_first(sqlite_url, console, world):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    ids = world(sessions)
    html = client_for("boss").get("/console/").get_data(as_text=True)
    requests_part = html.split("等待受理最久的求助")[1].split("等待回复最久的人工会话")[0]
    linked = [int(i) for i in re.findall(r'href="/console/requests/(\d+)"', requests_part)]
    assert linked[0] == ids["west_old"]  # 6 days: overdue the longest
    assert set(linked[1:4]) == set(ids["east_old"]) and len(linked) == 5
    assert ids["accepted"] not in linked and ids["east_chat"] not in linked
    assert "6天" in requests_part and "已超时" in requests_part and "生活困难" in requests_part
    chats_part = html.split("等待回复最久的人工会话")[1].split("走访慰问进度")[0]
    assert re.findall(r'href="/console/handover/(\d+)"', chats_part) == [str(ids["east_chat"]), str(ids["west_chat"])]
    assert "1小时" in chats_part and "30分钟" in chats_part


def test_township_officer_counts_only_their_township(settings, console, world):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "east", "officer", town=EAST)
    ids = world(sessions)
    html = client_for("east").get("/console/").get_data(as_text=True)
    found = tiles(html)
    assert (found["new"][1], found["overdue"][1], found["registrations"][1], found["handover"][1]) == (5, 3, 3, 1)
    assert "failed" not in found and "推送失败" not in html  # an officer does not see the delivery log
    assert f"/console/requests/{ids['west_old']}" not in html
    assert f"/console/handover/{ids['west_chat']}" not in html
    data, rows = chart(html, "chart-status")
    assert dict(rows)["待受理"] == 5 and dict(rows)["已受理"] == 0  # the accepted one is 西镇's


def test_viewer_sees_the_queue_but_no_failed_push_tile(sqlite_url, console, world):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "look", "viewer")
    world(sessions)
    html = client_for("look").get("/console/").get_data(as_text=True)
    found = tiles(html)
    assert found["new"][1] == 6 and "failed" not in found
    assert "/console/deliveries" not in html


def test_charts_carry_the_same_numbers_as_their_tables(sqlite_url, console, world):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    world(sessions)
    with sessions.begin() as s:
        last_year = submit(s, EAST, category="living", days_ago=400)  # 2025: not in this year's chart
        help_requests.accept(s, last_year, NOW, actor="staff:test")
    html = client_for("boss").get("/console/").get_data(as_text=True)
    assert "vendor/chart.umd.min.js" in html and "<script>" not in html  # no inline script (CSP)
    assert html.index("console.js") < html.index("chart.umd.min.js")

    status, rows = chart(html, "chart-status")
    assert list(zip(status["labels"], status["values"])) == rows
    assert rows == [("待受理", 6), ("已受理", 2), ("已转办", 0), ("办理中", 0)]

    category, rows = chart(html, "chart-category")
    assert list(zip(category["labels"], category["values"])) == rows
    by_label = dict(rows)
    assert by_label["生活困难"] == 2 and by_label["住房"] == 1 and by_label["法律援助/司法救助"] == 1
    assert sum(by_label.values()) == 7  # this year's 7 requests; the 人工 chats are not requests
    assert "人工服务" not in by_label and "2026年求助（按类别）" in html


def test_visit_plan_progress_for_the_next_holiday(settings, console):
    app, sessions, client_for = console(settings.database_url)
    add_staff(sessions, "boss", "admin")
    add_staff(sessions, "east", "officer", town=EAST)
    assert "暂无进行中的走访计划" in client_for("boss").get("/console/").get_data(as_text=True)
    with sessions.begin() as s:
        people = [beneficiary(s, EAST, "MARTYR_F"), beneficiary(s, EAST, "DISABLED"), beneficiary(s, WEST, "MARTYR_F")]
        for person in people:
            beneficiaries.verify(s, person, NOW, actor="staff:test")
        spec = visit_campaigns.plan_specs(s, 2027)[0]  # the 两节 (元旦春节) campaign
        plan = visit_plans.generate_plan(s, spec).plan
        east_first = s.scalars(select(PlannedVisit).join(Beneficiary, Beneficiary.household_id == PlannedVisit.household_id)
                               .where(Beneficiary.id == people[0].id)).one()
        visit_plans.record_visit(s, east_first.id, actor="staff:test")
        visit_plans.flag_overdue(s, plan)
        name = plan.name
    html = client_for("boss").get("/console/").get_data(as_text=True)
    assert name in html and "2027-01-15至2027-02-20" in html
    figures = dict(re.findall(r'data-visit="(\w+)">(?:<span[^>]*>)?(\d+)户', html))
    assert figures == {"planned": "3", "visited": "1", "remaining": "2", "overdue": "2"}
    html = client_for("east").get("/console/").get_data(as_text=True)
    figures = dict(re.findall(r'data-visit="(\w+)">(?:<span[^>]*>)?(\d+)户', html))
    assert figures == {"planned": "2", "visited": "1", "remaining": "1", "overdue": "1"}


def test_a_plan_whose_window_ended_is_not_shown(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    with sessions.begin() as s:
        s.add(VisitPlan(season="bayi", year=2026, name="2026年八一走访慰问", holiday_date=date(2026, 8, 1),
                        window_start=date(2026, 7, 20), window_end=date(2026, 7, 31)))
        assert dashboard_stats.visit_progress(s, date(2026, 12, 1)) is None
        assert dashboard_stats.visit_progress(s, date(2026, 7, 31)).name == "2026年八一走访慰问"


def test_an_empty_county_shows_zeros_and_nothing_waiting(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    response = client_for("boss").get("/console/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert {name: count for name, (_, count, _) in tiles(html).items()} == {
        "new": 0, "overdue": 0, "registrations": 0, "handover": 0, "failed": 0}
    assert 'class="tile alert"' not in html
    assert "没有待受理的求助" in html and "没有等待回复的人工会话" in html


def test_signed_out_visitors_go_to_the_login_page(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    response = app.test_client().get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_waited_words():
    assert dashboard_stats.waited_words(NOW - timedelta(days=3, hours=2, minutes=5), NOW) == "3天2小时"
    assert dashboard_stats.waited_words(NOW - timedelta(days=1), NOW) == "1天"
    assert dashboard_stats.waited_words(NOW - timedelta(hours=5), NOW) == "5小时"
    assert dashboard_stats.waited_words(NOW - timedelta(minutes=20), NOW) == "20分钟"
    assert dashboard_stats.waited_words(NOW, NOW) == "刚刚"


def test_counts_are_group_by_queries_not_rows(sqlite_url, console, world):
    """The dashboard never loads a HelpRequest row to count it (it runs with 100,000 of them)."""
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    world(sessions)
    loaded = []
    from sqlalchemy import event

    def on_load(target, context):
        loaded.append(type(target).__name__)

    event.listen(HelpRequest, "load", on_load)
    try:
        assert client_for("boss").get("/console/").status_code == 200
    finally:
        event.remove(HelpRequest, "load", on_load)
    assert loaded == []
