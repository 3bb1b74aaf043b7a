"""统计 for 述职 and 年终总结: the figures on a small known dataset (people by category and village,
visits per plan and team with 慰问金, requests by category with the median time to 办结 and
satisfaction, volunteer hours once the database holds them), the page with its charts, a
township's own figures, and the Excel copy."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from models.help_request import Urgency
from services import help_requests, statistics
from services.help_requests import RequestDetails
from services.local_time import local_instant
from tests.console_kit import add_staff
from tests.scheduler_helpers import seeded_sessions
from tests.test_exports import build_world

JAN = local_instant(date(2027, 1, 4), "09:00")


def request(s, town, category, *, resolved_after: timedelta | None = None, rating: int | None = None,
            created=JAN, openid="oAsker"):
    details = RequestDetails(category, "需要帮助", Urgency.NORMAL, "self", "张三", "13912345678", town=town)
    r = help_requests.submit(s, openid, details, created)
    if resolved_after is not None:
        help_requests.resolve(s, r, "已办好", created + resolved_after, actor="staff:officer")
        if rating:
            help_requests.follow_up(s, r, rating, None, created + resolved_after + timedelta(days=1), actor="staff:officer")
    return r


def add_requests(sessions) -> None:
    """living: 办结 after 2, 4 and 30 hours (median 4 hours), ratings 5 and 2; housing: one open,
    one 办结 after 3 days; one from last year, one 人工 chat: neither counts."""
    with sessions.begin() as s:
        request(s, "城关镇", "living", resolved_after=timedelta(hours=2), rating=5)
        request(s, "城关镇", "living", resolved_after=timedelta(hours=4), rating=2)
        request(s, "青石镇", "living", resolved_after=timedelta(hours=30))
        request(s, "城关镇", "housing")
        request(s, "青石镇", "housing", resolved_after=timedelta(days=3), rating=4)
        request(s, "城关镇", "living", created=JAN - timedelta(days=30))


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as made:
        build_world(made)
        add_requests(made)
        yield made


def figures(sessions, town=None) -> statistics.YearFigures:
    with sessions() as s:
        return statistics.year_figures(s, 2027, town)


def test_people_by_category_and_village(sessions):
    f = figures(sessions)
    assert (f.people, f.households) == (5, 3)  # verified, not ended
    assert [(c.label, c.count) for c in f.by_category] == [
        ("现役军人", 1), ("军人家属", 1), ("烈士遗属", 2), ("在乡复员军人", 1)]
    assert [(v.town, v.village, v.people, v.households) for v in f.by_village] == [
        ("城关镇", "柳营村", 1, 1), ("城关镇", "河口村", 2, 1), ("青石镇", "石桥村", 2, 1)]


def test_visits_money_and_goods_per_plan_and_team(sessions):
    with sessions.begin() as s:  # an amount typed ahead for a visit not made yet: not distributed
        s.execute(text("UPDATE planned_visit SET money_cents = 99900, goods = '大米' WHERE status = 'planned'"))
    f = figures(sessions)
    [plan] = [p for p in f.plans if p.name == "2027年元旦春节走访慰问"]
    assert (plan.planned, plan.done, plan.money_cents, plan.goods, plan.percent) == (3, 2, 80050, 1, 67)
    teams = {(t.team, t.planned, t.done, t.money_cents) for t in f.teams}
    assert teams == {("城关镇走访组", 2, 1, 50000), ("青石镇走访组", 1, 1, 30050)}


def test_requests_median_time_to_resolve_and_satisfaction(sessions):
    f = figures(sessions)
    by = {r.label: r for r in f.requests}
    assert list(by) == ["生活困难", "住房"]
    living, housing = by["生活困难"], by["住房"]
    assert (living.submitted, living.closed, living.median_hours) == (3, 3, 4.0)
    assert (living.rated, living.average_rating, living.satisfied_percent) == (2, 3.5, 50)
    assert (housing.submitted, housing.closed, housing.median_hours, housing.satisfied_percent) == (2, 1, 72.0, 100)
    total = f.requests_total
    assert (total.submitted, total.closed, total.median_hours) == (5, 4, 17.0)  # 2, 4, 30, 72 hours
    assert (total.rated, total.satisfied_percent) == (3, 67)
    assert statistics.duration_words(4.0) == "4小时" and statistics.duration_words(72) == "3天"
    assert statistics.duration_words(None) == "暂无"


def test_a_township_gets_its_own_figures(sessions):
    f = figures(sessions, "青石镇")
    assert (f.people, f.households) == (2, 1)
    assert [(p.planned, p.done, p.money_cents) for p in f.plans] == [(1, 1, 30050), (0, 0, 0)]  # 八一: none yet
    assert (f.requests_total.submitted, f.requests_total.closed) == (2, 2)


def test_volunteer_hours_are_the_approved_ones_of_the_year(sessions):
    from datetime import datetime, timezone

    from models.activity import Activity, ActivitySignup, SignupStatus

    assert not figures(sessions).hours  # nothing approved yet: the page says 暂无
    with sessions.begin() as s:
        held = Activity(code="a1", title="敬老", starts_at=datetime(2027, 3, 5, 1, tzinfo=timezone.utc),
                        capacity=10, town="城关镇")
        s.add(held)
        s.flush()
        for n, (minutes, approved) in enumerate(((120, True), (90, True), (60, False)), start=1):
            s.add(ActivitySignup(activity_id=held.id, openid=f"oVolunteer{n:04d}", status=SignupStatus.REGISTERED,
                                 queue_no=n, service_minutes=minutes,
                                 hours_approved_at=datetime(2027, 3, 6, tzinfo=timezone.utc) if approved else None))
    hours = figures(sessions).hours
    assert (hours.signups, hours.minutes, str(hours.hours)) == (2, 210, "3.5")
    assert not figures(sessions, "青石镇").hours


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def site(console, sqlite_url):
    app, sessions, client_for = console(sqlite_url)
    build_world(sessions)
    add_requests(sessions)
    for username, role, town in (("viewer", "viewer", None), ("qingshi", "viewer", "青石镇")):
        add_staff(sessions, username, role, town)
    return sessions, client_for


def chart(html: str, chart_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html, re.S)
    assert found, chart_id
    return json.loads(found.group(1))


def test_every_role_sees_the_page_with_charts_matching_the_tables(site):
    sessions, client_for = site
    html = client_for("viewer").get("/console/statistics?year=2027").get_data(as_text=True)
    assert "2027年双拥工作统计 · 全县" in html and '<option value="2027" selected>2027年</option>' in html
    assert re.search(r'data-figure="people"><span class="count">5<', html)
    assert re.search(r'data-figure="money"><span class="count">800.50<', html)
    assert chart(html, "chart-category")["values"] == [1, 1, 2, 1]
    assert chart(html, "chart-area") == {"type": "bar", "label": "人数", "labels": ["城关镇", "青石镇"], "values": [3, 2]}
    assert chart(html, "chart-visits")["values"] == [2, 0]  # 元旦春节 2 visited, 八一 nothing yet
    assert "4小时" in html and "50%" in html and "暂无志愿服务时长记录" in html
    assert '<tfoot><tr><th>合计</th><th class="num">5件</th><th class="num">4件</th><th class="num">17小时</th>' in html
    assert "vendor/chart.umd.min.js" in html


def test_a_township_account_sees_its_own_town(site):
    sessions, client_for = site
    html = client_for("qingshi").get("/console/statistics?year=2027").get_data(as_text=True)
    assert "· 青石镇" in html and "城关镇走访组" not in html and "柳营村" not in html
    assert re.search(r'data-figure="people"><span class="count">2<', html)


def test_the_excel_copy_has_each_table_and_is_audited(site):
    sessions, client_for = site
    response = client_for("viewer").get("/console/statistics.xlsx?year=2027")
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.data))
    assert book.sheetnames == ["优抚对象", "按村（社区）", "走访慰问", "求助办理", "志愿服务"]
    visits = [[c.value for c in row] for row in book["走访慰问"].iter_rows(min_row=4)]
    assert ["2027年元旦春节走访慰问", "全部", 3, 2, "67%", 800.5, 1] in visits
    assert book["志愿服务"]["B4"].value == "暂无"
    with sessions() as s:
        detail = s.execute(text("SELECT detail FROM audit_log WHERE action = 'export'")).scalar_one()
    assert "双拥工作统计" in detail and "2027年" in detail


def test_an_unknown_year_falls_back_to_this_year(site):
    sessions, client_for = site
    html = client_for("viewer").get("/console/statistics?year=abc").get_data(as_text=True)
    assert "2026年双拥工作统计" in html and "2026年暂无走访计划" in html
