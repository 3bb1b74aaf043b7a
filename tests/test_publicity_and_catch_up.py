"""The publicity calendar (the city 实施方案's items rewritten for the public, with 春节, 征兵,
八一 and the 建军100周年; at most 3 of the 4 monthly mass sends) and catch-up: after a week
with no scheduler, what fell due and is still valid goes out once."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import select

from models import Recipient
from models.notice import Notice
from models.publicity import PublicityCampaign, PublicityItem
from models.scheduler_state import JobWatermark
from scheduler.job_table import job_by_id
from scheduler.runner import run_due, run_job
from services.publicity_calendar import MONTHLY_MASS_BUDGET, PLANNED_PER_MONTH, planned_mass_sends
from tests.scheduler_helpers import at, cli_env, outbox_rows, run_days, seeded_sessions, send_days


@pytest.fixture
def sessions(db_url):
    with seeded_sessions(db_url) as s:
        yield s


# Plan wording that must never reach the public by mass send (internal instructions, troops' affairs).
INTERNAL = ("成员单位", "认真学习", "落实", "救助", "困难官兵", "请各", "部队番号", "驻地", "座谈会", "军事生活日",
            "实施意见", "印发", "赴基层部队")


def test_builtin_publicity_is_written_for_the_public(sessions):
    with sessions() as s:
        items = list(s.scalars(select(PublicityItem)))
    assert len(items) >= 12
    for item in items:
        for word in INTERNAL:
            assert word not in item.title + item.content, (item.code, word)
        assert len(item.content) <= 80, item.code  # short, for elderly readers


def test_seeded_city_calendar_leaves_room_in_every_month(sessions):
    with sessions() as s:
        for year in range(2026, 2036):
            months = planned_mass_sends(s, year)
            assert max(months.values()) <= PLANNED_PER_MONTH < MONTHLY_MASS_BUDGET, (year, months)
            assert months[4] == 2 and months[8] == 2  # 清明 and 4/15; 八一 and 征兵


def test_the_year_has_chunjie_conscription_bayi_and_the_centenary(sessions):
    run_days(sessions, date(2027, 1, 1), date(2027, 12, 31), hhmm="10:00", only=("publicity",))
    rows = outbox_rows(sessions, kind="publicity")
    sent = [(str(d), r.payload["title"]) for r, d in zip(rows, send_days(rows))]
    assert sent == [
        ("2027-02-06", "新春问候"), ("2027-02-15", "征兵宣传"), ("2027-03-05", "学雷锋志愿服务"),
        ("2027-04-02", "清明缅怀先烈"), ("2027-04-15", "人人支持拥军"), ("2027-05-15", "双拥志愿者授旗"),
        ("2027-05-25", "社区双拥工作站"), ("2027-06-15", "“共沐书香”送书进军营"), ("2027-07-20", "双拥展示月"),
        ("2027-08-01", "建军100周年"), ("2027-08-15", "征兵宣传"), ("2027-09-18", "全民国防教育日"),
        ("2027-09-30", "烈士纪念日")]
    assert {r.channel for r in rows} == {"mass"} and {r.to for r in rows} == {Recipient.everyone()}
    assert rows[9].payload["text"].startswith("【建军100周年】今天是中国人民解放军建军100周年。")
    with sessions() as s:  # each published item is also a 最新通知 in the chat
        assert {n.title for n in s.scalars(select(Notice))} == {title for _, title in sent}


def test_bayi_is_the_usual_greeting_in_other_years(sessions):
    run_days(sessions, date(2028, 7, 31), date(2028, 8, 1), hhmm="10:00", only=("publicity",))
    assert [r.payload["text"] for r in outbox_rows(sessions, kind="publicity")] == [
        "【八一建军节】今天是八一建军节。向人民子弟兵致敬！向全县退役军人和军属致以节日的问候！"]


def test_publicity_plan_command_prints_the_year_by_month(sqlite_url, tmp_path, cli):
    result = cli(["publicity-plan", "2027"], cli_env(sqlite_url, tmp_path))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "2027年群发计划（每月最多4次，日历占用不超过3次）"
    assert "8月：2次，余2次" in lines
    assert "  2027-08-01 建军100周年（宣传日历）" in lines and "超出" not in result.stdout


def _add_april_items(sessions, *days):
    with sessions.begin() as s:
        campaign = s.scalars(select(PublicityCampaign)).first()
        for day in days:
            s.add(PublicityItem(campaign_id=campaign.id, code=f"extra{day}", title=f"四月加推{day}", content="内容",
                                month=4, day=day, audience="all", channel="mass", enabled=True, offset_days=0,
                                publish_time="10:00", valid_days=1))


def test_an_item_over_the_monthly_budget_is_skipped(sessions, caplog):
    _add_april_items(sessions, 20, 25, 28)  # April holds 2 seeded items (清明−3, 4/15)
    run_days(sessions, date(2027, 3, 30), date(2027, 4, 30), hhmm="10:00", only=("publicity",))
    titles = [r.payload["title"] for r in outbox_rows(sessions, kind="publicity")]
    assert len(titles) == MONTHLY_MASS_BUDGET and "四月加推28" not in titles
    assert any("budget" in r.getMessage() for r in caplog.records)


def test_disabling_an_item_makes_room_in_the_month(sessions):
    _add_april_items(sessions, 20, 25, 28)
    with sessions.begin() as s:
        s.scalars(select(PublicityItem).where(PublicityItem.code == "city_knowledge")).one().enabled = False
    run_days(sessions, date(2027, 3, 30), date(2027, 4, 30), hhmm="10:00", only=("publicity",))
    titles = [r.payload["title"] for r in outbox_rows(sessions, kind="publicity")]
    assert "四月加推28" in titles and "人人支持拥军" not in titles and len(titles) == MONTHLY_MASS_BUDGET


def test_catch_up_after_a_week_of_downtime_runs_what_fell_due_once(sessions):
    run_due(sessions, at("2027-03-28T10:00"))
    before = {r.idempotency_key for r in outbox_rows(sessions)}
    # No scheduler from 03-28 10:00 to 04-04 10:00. Due meanwhile: the 清明 reminder to staff
    # (7 days before 04-05 = Mon 03-29) and the 清明 item of 04-02 (valid to 04-04).
    run_due(sessions, at("2027-04-04T10:00"))
    new = [r for r in outbox_rows(sessions) if r.idempotency_key not in before]
    assert sorted((r.kind, str(d)) for r, d in zip(new, send_days(new))) == sorted([
        ("holiday_reminder", "2027-03-29"), ("publicity", "2027-04-02")])
    reminder = next(r for r in new if r.kind == "holiday_reminder")
    assert reminder.payload["text"] == "清明（烈士祭扫）（4月5日）还有1天，请组织烈士祭扫活动。"  # said on 04-04
    with sessions() as s:
        marks = {w.job_id: w.covered_until for w in s.scalars(select(JobWatermark))}
    assert marks["publicity"] == marks["calendar_reminders"] == at("2027-04-04T10:00")
    run_due(sessions, at("2027-04-04T10:00"))  # the same moment again: nothing new
    run_due(sessions, at("2027-04-04T11:00"))
    assert len(outbox_rows(sessions)) == len(before) + 2


def test_a_run_that_finishes_after_a_later_one_does_not_move_the_watermark_back(empty_pg_url):
    # An operator's run-jobs up to 04-04 finishes while the scheduler's run up to 04-02 is still
    # working on the same job: when the scheduler's run ends, the watermark stays at 04-04.
    # (PostgreSQL: on SQLite the second writer cannot commit over the first's snapshot at all.)
    spec = job_by_id("publicity")
    with seeded_sessions(empty_pg_url) as sessions:
        run_due(sessions, at("2027-03-28T10:00"))

        def operator_runs_meanwhile(run):
            assert run_job(sessions, spec, at("2027-04-04T10:00")).error is None

        slow = dataclasses.replace(spec, run=operator_runs_meanwhile)
        assert run_job(sessions, slow, at("2027-04-02T10:00")).error is None
        with sessions() as s:
            mark = s.scalars(select(JobWatermark).where(JobWatermark.job_id == "publicity")).one()
    assert mark.covered_until == at("2027-04-04T10:00")
    assert mark.last_error is None and mark.last_finished_at >= mark.last_started_at


def test_run_jobs_dry_run_prints_and_changes_nothing(db_url, tmp_path, cli):
    env = cli_env(db_url, tmp_path)
    result = cli(["run-jobs", "--at", "2027-04-02T10:00", "--dry-run"], env)
    assert result.exit_code == 0, result.stderr
    assert "dry run at 2027-04-02T10:00+08:00" in result.stdout
    assert "publicity\tall\t2027-04-02T10:00+08:00\t清明缅怀先烈" in result.stdout
    with seeded_sessions(db_url) as sessions:
        assert outbox_rows(sessions) == []
        with sessions() as s:
            assert s.scalars(select(JobWatermark)).first() is None
    refused = cli(["run-jobs", "--at", "2027-04-02T10:00"], env)  # the future, for real: the live
    assert refused.exit_code == 2 and "in the future" in refused.stderr  # scheduler would skip until then
    with seeded_sessions(db_url) as sessions, sessions() as s:
        assert s.scalars(select(JobWatermark)).first() is None
    real = cli(["run-jobs", "--at", "2027-04-02T10:00", "--rehearsal"], env)
    assert real.exit_code == 0 and "publicity" in real.stdout
    with seeded_sessions(db_url) as sessions:
        assert [r.payload["title"] for r in outbox_rows(sessions, kind="publicity")] == ["清明缅怀先烈"]


@pytest.mark.parametrize("args, message", [
    (["run-jobs", "--at", "yesterday"], "not an ISO time"),
    (["run-jobs", "--at", "2027-04-01T10:00", "--job", "nope"], "unknown job"),
])
def test_run_jobs_rejects_bad_input(sqlite_url, tmp_path, args, message, cli):
    result = cli(args, cli_env(sqlite_url, tmp_path))
    assert result.exit_code == 2 and message in result.stderr
    with seeded_sessions(sqlite_url) as sessions:
        assert outbox_rows(sessions) == []


def test_a_failing_job_keeps_its_window_and_does_not_stop_the_others(sessions):
    from models.visits import VisitCampaign

    with sessions.begin() as s:
        s.scalars(select(VisitCampaign).where(VisitCampaign.code == "bayi")).one().holidays = "gone"
    results = {r.job_id: r for r in run_due(sessions, at("2027-04-02T10:00"))}
    assert "visit_plans" in results and "日历规则" in results["visit_plans"].error
    assert results["publicity"].error is None and len(results["publicity"].created) == 1
    with sessions() as s:
        marks = {w.job_id: w for w in s.scalars(select(JobWatermark))}
    assert "visit_plans" not in marks  # its window stays open: the next run retries it
    assert marks["publicity"].covered_until == at("2027-04-02T10:00")
    with sessions.begin() as s:  # staff fix the campaign; the retry covers the same window
        s.scalars(select(VisitCampaign).where(VisitCampaign.code == "bayi")).one().holidays = "bayi"
    assert run_due(sessions, at("2027-04-02T10:00"), only=("visit_plans",))[0].error is None
