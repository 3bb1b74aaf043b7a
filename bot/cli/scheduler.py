"""Scheduler commands: `scheduler`, `run-jobs --at`, `calendar YEAR`, and the staff edits
of calendar rules and working-day overrides."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone


import click

from bot.cli.root import cli
from bot.cli.root import open_database as _database
from config import Settings

FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little; a run "for now" is never refused


def _batch_options() -> tuple[int, float]:
    return int(os.environ.get("SCHEDULER_BATCH_SIZE", "200")), float(os.environ.get("SCHEDULER_BATCH_PAUSE", "0"))


@cli.command("scheduler")
@click.option("--with-worker", is_flag=True, help="Also deliver the outbox in this process (a single machine).")
def scheduler_command(with_worker: bool) -> None:
    """Run the scheduler (one active per database; others wait as standbys)."""
    from bot.cli.root import prepare_database
    from scheduler.process import SchedulerProcess

    settings = Settings.from_env()
    prepare_database(settings)
    with _database(settings) as (settings, engine, sessions):
        size, pause = _batch_options()
        from services.retention import RetentionPolicy

        process = SchedulerProcess(engine, sessions, settings.redis_url, batch_size=size, batch_pause=pause,
                                   retention=RetentionPolicy.from_settings(settings))
        stop, delivery = threading.Event(), None
        if with_worker:
            from worker.main import build_worker

            worker = build_worker(settings, sessions, engine)
            delivery = threading.Thread(target=worker.run, args=(stop,), name="delivery", daemon=True)
            delivery.start()
        try:
            process.serve_forever()
        finally:
            stop.set()
            if delivery is not None:
                delivery.join(timeout=30)


@cli.command("run-jobs")
@click.option("--at", "at", required=True, help="The moment to run for, ISO time; without offset: Asia/Shanghai.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; change nothing.")
@click.option("--job", "jobs", multiple=True, help="Only this job id (repeatable).")
@click.option("--rehearsal", is_flag=True,
              help="Allow a moment in the future (on a copy of the database: it moves every watermark there).")
def run_jobs(at: str, dry_run: bool, jobs: tuple[str, ...], rehearsal: bool) -> None:
    """Run what is due at a moment, since each job's watermark (catch-up included)."""
    from scheduler.job_table import JOB_IDS
    from scheduler.runner import ensure_seeded, run_due
    from services.local_time import SHANGHAI, parse_instant

    try:
        until = parse_instant(at)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {at!r} (example: 2027-01-20T09:00)", param_hint="--at") from None
    unknown = sorted(set(jobs) - set(JOB_IDS))
    if unknown:
        raise click.BadParameter(f"unknown job {', '.join(unknown)}; jobs: {', '.join(JOB_IDS)}", param_hint="--job")
    if until > datetime.now(timezone.utc) + FUTURE_SLACK and not (dry_run or rehearsal):
        # Running for a future moment moves each job's watermark there: the live scheduler
        # would then skip everything (urgent-request escalation too) until that day.
        raise click.BadParameter(
            f"{at} is in the future: running for it would move every job's watermark there and the scheduler "
            "would skip everything until then. Use --dry-run to see what would be sent, or --rehearsal on a "
            "copy of the database.", param_hint="--at")
    from services.retention import RetentionPolicy

    with _database() as (settings, _engine, sessions):
        ensure_seeded(sessions)
        size, pause = _batch_options()
        results = run_due(sessions, until, dry_run=dry_run, only=jobs or None, batch_size=size, batch_pause=pause,
                          retention=RetentionPolicy.from_settings(settings))
    local = until.astimezone(SHANGHAI).isoformat(timespec="minutes")
    click.echo(f"{'dry run' if dry_run else 'ran'} at {local}: {len(results)} job(s) due")
    failed = False
    for result in results:
        since = result.since.astimezone(SHANGHAI).isoformat(timespec="minutes")
        status = f"error: {result.error}" if result.error else f"{len(result.created)} new, {result.existing} already queued"
        click.echo(f"{result.job_id}\t{since} → {local}\t{status}")
        for push in result.created:
            click.echo(f"  {push.summary()}")
        failed = failed or bool(result.error)
    if failed:
        sys.exit(1)


@cli.command("calendar")
@click.argument("year", type=int)
def calendar_command(year: int) -> None:
    """Print a year's computed days, one per line: date and name."""
    from scheduler.runner import ensure_seeded
    from services.holiday_calendar import RuleError, days_in_year
    from services.workdays import WorkCalendar

    with _database() as (_settings, _engine, sessions):
        ensure_seeded(sessions)
        with sessions() as session:
            try:
                days = days_in_year(session, year)
            except RuleError as exc:
                raise click.BadParameter(str(exc), param_hint="YEAR") from None
            known = WorkCalendar(session).statutory_known(year)
    for day in days:
        click.echo(day.line())
    if not known:
        click.echo(f"注意：{year} 年调休安排尚未收录，工作日暂按周一至周五（除去法定节假日）计算；"
                   "国务院通知发布后请用 workday 命令录入调休。", err=True)


@cli.command("publicity-plan")
@click.argument("year", type=int)
def publicity_plan_command(year: int) -> None:
    """Print a year's planned mass sends by month, against the monthly budget."""
    from scheduler.runner import ensure_seeded
    from services.publicity_calendar import plan_lines

    with _database() as (_settings, _engine, sessions):
        ensure_seeded(sessions)
        with sessions() as session:
            lines = plan_lines(session, year)
    click.echo("\n".join(lines))


@cli.group("visit-campaign")
def visit_campaign() -> None:
    """走访慰问 campaigns: windows, lead days, who is visited; 元旦 and 春节 as one or two rounds."""


@visit_campaign.command("list")
@click.option("--year", type=int, default=None, help="Also print the plans of this year.")
def visit_campaign_list(year: int | None) -> None:
    from services.holiday_calendar import RuleError

    with _campaign_session() as session:
        _print_campaigns(session)
        try:
            _print_plans(session, year)
        except RuleError as exc:
            raise click.ClickException(str(exc)) from None


@visit_campaign.command("separate")
def visit_campaign_separate() -> None:
    """元旦 and 春节 as two rounds (they still merge when their windows nearly meet)."""
    _switch_rounds(True)


@visit_campaign.command("together")
def visit_campaign_together() -> None:
    """One 两节 (元旦春节) campaign: one round, one 慰问金 per household (the default)."""
    _switch_rounds(False)


@visit_campaign.command("set")
@click.argument("code")
@click.option("--start", "start_expr", default=None, help="e.g. 'min(laba, 01-15)', 'bayi-12', '07-20'")
@click.option("--end", "end_expr", default=None, help="e.g. yuanxiao, bayi")
@click.option("--lead-days", type=int, default=None, help="days before the window the plan is made")
@click.option("--categories", default=None, help="comma list, e.g. MARTYR_F,DISABLED,FAMILY,VETERAN")
@click.option("--enable/--disable", "enabled", default=None)
def visit_campaign_set(code, start_expr, end_expr, lead_days, categories, enabled) -> None:
    """Change a campaign; refused with the reason when an expression or category is wrong."""
    from services.holiday_calendar import RuleError
    from services.visit_campaigns import change_campaign

    changes = {k: v for k, v in dict(start_expr=start_expr, end_expr=end_expr, lead_days=lead_days,
                                     categories=categories, enabled=enabled).items() if v is not None}
    try:
        with _campaign_session() as session:
            change_campaign(session, code, **changes)
            _print_campaigns(session)
    except (RuleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _switch_rounds(separate: bool) -> None:
    from services.visit_campaigns import use_separate_rounds

    with _campaign_session() as session:
        use_separate_rounds(session, separate)
        _print_campaigns(session)


@contextmanager
def _campaign_session():
    """A seeded database and one transaction for a campaign command (committed at the end)."""
    from scheduler.runner import ensure_seeded

    with _database() as (_settings, _engine, sessions):
        ensure_seeded(sessions)
        with sessions.begin() as session:
            yield session


def _print_campaigns(session) -> None:
    from sqlalchemy import select

    from models.visits import VisitCampaign

    for c in session.scalars(select(VisitCampaign).order_by(VisitCampaign.id)):
        state = "启用" if c.enabled else "停用"
        click.echo(f"{c.code}\t{c.name}\t{state}\t{c.start_expr} → {c.end_expr}\t提前 {c.lead_days} 天生成名单")


def _print_plans(session, year: int | None) -> None:
    from services.visit_campaigns import plan_specs

    for spec in plan_specs(session, year) if year else []:
        click.echo(f"{spec.name}\t{spec.window_start}至{spec.window_end}\t{spec.generate_on}生成名单")


@cli.command("workday")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("kind", type=click.Choice(["work", "rest", "clear"]))
@click.option("--note", default=None, help="e.g. 春节调休上班")
def workday_command(day, kind: str, note: str | None) -> None:
    """Mark DAY as a working day (work), a day off (rest), or remove the mark (clear)."""
    from services.workdays import clear_override, set_override

    with _database() as (_settings, _engine, sessions):
        with sessions.begin() as session:
            if kind == "clear":
                removed = clear_override(session, day.date())
                click.echo(f"{day.date().isoformat()} {'已恢复默认' if removed else '没有手动设置'}")
                return
            set_override(session, day.date(), kind == "work", note)
    click.echo(f"{day.date().isoformat()} 已设为{'工作日' if kind == 'work' else '休息日'}")


@cli.group("calendar-rule")
def calendar_rule() -> None:
    """Staff edits of the calendar rules (add, enable, disable, list)."""


@calendar_rule.command("list")
def calendar_rule_list() -> None:
    from sqlalchemy import select

    from models.calendar import CalendarRule
    from scheduler.runner import ensure_seeded

    with _database() as (_settings, _engine, sessions):
        ensure_seeded(sessions)
        with sessions() as session:
            for rule in session.scalars(select(CalendarRule).order_by(CalendarRule.id)):
                state = "启用" if rule.enabled else "停用"
                click.echo(f"{rule.code}\t{rule.name}\t{rule.kind}\t{state}")


@calendar_rule.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--solar", "solar", metavar="M-D", help="Gregorian month-day, e.g. 3-5")
@click.option("--lunar", "lunar", metavar="M-D", help="lunar month-day, day -1 = last day, e.g. 12--1")
@click.option("--leap", type=click.Choice(["regular", "leap", "both"]), default="regular", show_default=True)
@click.option("--term", help="solar term, e.g. 清明")
@click.option("--weekday", "weekday", metavar="M-N-W", help="month, nth, weekday (0=Mon), e.g. 9-3-5")
@click.option("--range", "range_", metavar="M-D:M-D", help="Gregorian range, e.g. 7-20:8-20")
@click.option("--category", default="holiday", show_default=True)
def calendar_rule_add(code, name, solar, lunar, leap, term, weekday, range_, category) -> None:
    """Add a rule: exactly one of --solar, --lunar, --term, --weekday, --range."""
    from services.holiday_calendar import RuleError, add_rule

    fields = _rule_fields(solar, lunar, leap, term, weekday, range_)
    with _database() as (_settings, _engine, sessions):
        try:
            with sessions.begin() as session:
                rule = add_rule(session, code=code, name=name, category=category, enabled=True, builtin=False, **fields)
                click.echo(f"已添加 {rule.code} {rule.name}")
        except RuleError as exc:
            raise click.ClickException(str(exc)) from None


def _rule_fields(solar, lunar, leap, term, weekday, range_) -> dict:
    given = [v for v in (solar, lunar, term, weekday, range_) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --solar, --lunar, --term, --weekday, --range")
    try:
        if solar:
            month, day = _ints(solar)
            return dict(kind="solar", month=month, day=day)
        if lunar:
            month, day = int(lunar.split("-", 1)[0]), int(lunar.split("-", 1)[1])
            return dict(kind="lunar", month=month, day=day, leap=leap)
        if term:
            return dict(kind="term", term=term)
        if weekday:
            month, nth, wd = _ints(weekday)
            return dict(kind="weekday", month=month, nth=nth, weekday=wd)
        start, end = range_.split(":")
        (month, day), (end_month, end_day) = _ints(start), _ints(end)
        return dict(kind="range", month=month, day=day, end_month=end_month, end_day=end_day)
    except ValueError:
        raise click.UsageError("dates are numbers joined by '-', e.g. --solar 3-5 or --range 7-20:8-20") from None


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-"))


@calendar_rule.command("disable")
@click.argument("code")
def calendar_rule_disable(code: str) -> None:
    _toggle(code, False)


@calendar_rule.command("enable")
@click.argument("code")
def calendar_rule_enable(code: str) -> None:
    _toggle(code, True)


def _toggle(code: str, enabled: bool) -> None:
    from scheduler.runner import ensure_seeded
    from services.holiday_calendar import RuleError, set_enabled

    with _database() as (_settings, _engine, sessions):
        ensure_seeded(sessions)
        try:
            with sessions.begin() as session:
                set_enabled(session, code, enabled)
        except RuleError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{code} 已{'启用' if enabled else '停用'}")


