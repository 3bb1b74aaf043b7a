"""The publicity calendar (seeded from the city 实施方案, inside 4 mass sends a month) and
catch-up: after a week with no scheduler, what fell due goes out once."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from models.notice import Notice
from models.publicity import PublicityCampaign, PublicityItem
from models.scheduler_state import JobWatermark
from scheduler.runner import run_due
from services.publicity_calendar import MONTHLY_MASS_BUDGET, planned_mass_sends
from tests.scheduler_helpers import at, cli_env, outbox_rows, run_cli, run_days, seeded_sessions, send_days


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


def test_seeded_city_calendar_fits_the_mass_send_budget_every_year(sessions):
    with sessions() as s:
        for year in range(2026, 2036):
            months = planned_mass_sends(s, year)
            assert max(months.values()) <= MONTHLY_MASS_BUDGET, (year, months)
            assert months[4] >= 3 and months[7] >= 2  # the 4月 and 7月 items of the seed are there


def test_items_are_published_at_their_time_as_mass_sends(sessions):
    run_days(sessions, date(2027, 3, 30), date(2027, 8, 2), hhmm="10:00", only=("publicity",))
    rows = outbox_rows(sessions, kind="publicity")
    by_title = {r.payload["title"]: r for r in rows}
    assert send_days([by_title["推进双拥社会化实施意见印发"]]) == [date(2027, 4, 1)]
    assert send_days([by_title["双拥展示月"]]) == [date(2027, 7, 20)]
    assert send_days([by_title["清明缅怀先烈"]]) == [date(2027, 4, 2)]  # 清明 2027-04-05 minus 3 days
    assert send_days([by_title["八一建军节"]]) == [date(2027, 8, 1)]
    assert {r.channel for r in rows} == {"mass"} and {r.recipient for r in rows} == {"all"}
    with sessions() as s:  # each published item is also a 最新通知 in the chat
        assert {n.title for n in s.scalars(select(Notice))} == set(by_title)


def _add_april_item(sessions):
    with sessions.begin() as s:
        campaign = s.scalars(select(PublicityCampaign)).first()
        s.add(PublicityItem(campaign_id=campaign.id, code="extra", title="四月加推", content="内容", month=4, day=25,
                            audience="all", channel="mass", enabled=True, offset_days=0, publish_time="10:00"))


def test_an_item_over_the_monthly_budget_is_skipped(sessions, caplog):
    _add_april_item(sessions)  # April already holds 4 seeded items (4/1, 清明−3, 4/15, 4/21)
    run_days(sessions, date(2027, 3, 30), date(2027, 4, 30), hhmm="10:00", only=("publicity",))
    titles = [r.payload["title"] for r in outbox_rows(sessions, kind="publicity")]
    assert len(titles) == MONTHLY_MASS_BUDGET and "四月加推" not in titles
    assert any("budget" in r.getMessage() for r in caplog.records)


def test_disabling_an_item_makes_room_in_the_month(sessions):
    _add_april_item(sessions)
    with sessions.begin() as s:
        s.scalars(select(PublicityItem).where(PublicityItem.code == "city_knowledge")).one().enabled = False
    run_days(sessions, date(2027, 3, 30), date(2027, 4, 30), hhmm="10:00", only=("publicity",))
    titles = [r.payload["title"] for r in outbox_rows(sessions, kind="publicity")]
    assert "四月加推" in titles and "社会化拥军知识宣传" not in titles and len(titles) == MONTHLY_MASS_BUDGET


def test_catch_up_after_a_week_of_downtime_runs_what_fell_due_once(sessions):
    run_due(sessions, at("2027-03-28T10:00"))
    before = {r.idempotency_key for r in outbox_rows(sessions)}
    # No scheduler from 03-28 10:00 to 04-04 10:00. Due meanwhile: the 清明 reminder to staff
    # (7 days before 04-05 = Mon 03-29), the 04-01 and 04-02 publicity items.
    run_due(sessions, at("2027-04-04T10:00"))
    new = [r for r in outbox_rows(sessions) if r.idempotency_key not in before]
    assert sorted((r.kind, str(d)) for r, d in zip(new, send_days(new))) == sorted([
        ("holiday_reminder", "2027-03-29"), ("publicity", "2027-04-01"), ("publicity", "2027-04-02")])
    with sessions() as s:
        marks = {w.job_id: w.covered_until for w in s.scalars(select(JobWatermark))}
    assert marks["publicity"] == marks["calendar_reminders"] == at("2027-04-04T10:00")
    run_due(sessions, at("2027-04-04T10:00"))  # the same moment again: nothing new
    run_due(sessions, at("2027-04-04T11:00"))
    assert len(outbox_rows(sessions)) == len(before) + 3


def test_run_jobs_dry_run_prints_and_changes_nothing(db_url, tmp_path):
    env = cli_env(db_url, tmp_path)
    result = run_cli(["run-jobs", "--at", "2027-04-01T10:00", "--dry-run"], env)
    assert result.returncode == 0, result.stderr
    assert "dry run at 2027-04-01T10:00+08:00" in result.stdout
    assert "publicity\tall\t2027-04-01T10:00+08:00\t推进双拥社会化实施意见印发" in result.stdout
    with seeded_sessions(db_url) as sessions:
        assert outbox_rows(sessions) == []
        with sessions() as s:
            assert s.scalars(select(JobWatermark)).first() is None
    real = run_cli(["run-jobs", "--at", "2027-04-01T10:00"], env)
    assert real.returncode == 0 and "publicity" in real.stdout
    with seeded_sessions(db_url) as sessions:
        assert [r.payload["title"] for r in outbox_rows(sessions, kind="publicity")] == ["推进双拥社会化实施意见印发"]


@pytest.mark.parametrize("args, message", [
    (["run-jobs", "--at", "yesterday"], "not an ISO time"),
    (["run-jobs", "--at", "2027-04-01T10:00", "--job", "nope"], "unknown job"),
])
def test_run_jobs_rejects_bad_input(sqlite_url, tmp_path, args, message):
    result = run_cli(args, cli_env(sqlite_url, tmp_path))
    assert result.returncode == 2 and message in result.stderr
    with seeded_sessions(sqlite_url) as sessions:
        assert outbox_rows(sessions) == []


def test_a_failing_job_keeps_its_window_and_does_not_stop_the_others(sessions):
    from models.visits import VisitSeason

    with sessions.begin() as s:
        s.scalars(select(VisitSeason).where(VisitSeason.code == "bayi")).one().anchor_rule = "gone"
    results = {r.job_id: r for r in run_due(sessions, at("2027-04-01T10:00"))}
    assert "visit_plans" in results and "日历规则" in results["visit_plans"].error
    assert results["publicity"].error is None and len(results["publicity"].created) == 1
    with sessions() as s:
        marks = {w.job_id: w for w in s.scalars(select(JobWatermark))}
    assert "visit_plans" not in marks  # its window stays open: the next run retries it
    assert marks["publicity"].covered_until == at("2027-04-01T10:00")
    with sessions.begin() as s:  # staff fix the season; the retry covers the same window
        s.scalars(select(VisitSeason).where(VisitSeason.code == "bayi")).one().anchor_rule = "bayi"
    assert run_due(sessions, at("2027-04-01T10:00"), only=("visit_plans",))[0].error is None
