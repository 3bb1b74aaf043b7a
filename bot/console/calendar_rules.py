"""日历提醒: the 双拥 calendar's dates this year and next, its rules and reminder lead times,
and the 国务院 放假调休 notice entered in one form (parsed, previewed, then saved).

Edits are county-wide: a township account may look but not change (404 on the forms).
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.console import blueprint, db
from bot.console.access import check_scope, require
from bot.console.common import commit, now, record
from models.calendar import CalendarRule, LeapPolicy, RuleKind
from models.reminders import ReminderRule
from services.calendar_seed import seed_all
from services import holiday_calendar, reminder_rules, workday_notice
from services.holiday_calendar import SOLAR_TERMS, RuleError
from services.local_time import local_date
from services.workdays import WorkCalendar, clear_override

SUBJECT_RULE, SUBJECT_REMINDER, SUBJECT_WORKDAY = "calendar_rule", "reminder_rule", "workday"
KIND_LABELS = {RuleKind.SOLAR: "公历日期", RuleKind.LUNAR: "农历日期", RuleKind.TERM: "节气",
               RuleKind.WEEKDAY: "某月第几个星期几", RuleKind.RANGE: "公历日期范围"}
AUDIENCE_LABELS = {"staff": "工作人员", "visit_teams": "走访组成员", "volunteers": "志愿者",
                   "all": "全体关注者（群发）", "tag": "标签（群发）"}
WEEKDAY_NAMES = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


def ensure_calendar() -> None:
    """The built-in calendar and publicity items exist before a page lists them (a fresh install whose
    scheduler has not run yet); seeding only inserts what is missing, as the scheduler and CLI do."""
    try:
        with db().begin_nested():  # in the request's own session: SQLite allows one writer
            seed_all(db())
    except IntegrityError:
        pass  # another process seeded the same rows just now
    commit()


def _years() -> tuple[int, int]:
    this = local_date(now()).year
    return this, this + 1


@blueprint.route("/calendar")
@require("view")
def calendar():
    ensure_calendar()
    years = _years()
    session = db()
    work = WorkCalendar(session)
    rules = list(session.scalars(select_rules()))
    reminders = list(session.scalars(select_reminders()))
    return render_template(
        "console/calendar/index.html", years=years,
        days={y: holiday_calendar.days_in_year(session, y) for y in years},
        rules=rules, reminders=reminders, kind_labels=KIND_LABELS, audience_labels=AUDIENCE_LABELS,
        sends={r.id: [s for s in reminder_rules.upcoming(session, work, r, years) if s[1] >= local_date(now())][:3]
               for r in reminders},
        swaps={y: workday_notice.status_of_year(session, y) for y in years},
    )


def select_rules():
    return select(CalendarRule).order_by(CalendarRule.category, CalendarRule.id)


def select_reminders():
    return select(ReminderRule).order_by(ReminderRule.id)


# --- a calendar rule ---------------------------------------------------------------------------


def _rule(code: str) -> CalendarRule:
    rule = holiday_calendar.rule_by_code(db(), code)
    if rule is None:
        abort(404)
    return rule


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value and value.strip() else None
    except ValueError:
        return -999  # validate() names the field


def _rule_changes(rule: CalendarRule) -> dict:
    f = request.form
    changes = {"name": f.get("name", "").strip()[:64], "enabled": bool(f.get("enabled"))}
    kind = RuleKind(rule.kind)
    if kind in (RuleKind.SOLAR, RuleKind.RANGE, RuleKind.LUNAR, RuleKind.WEEKDAY):
        changes["month"] = _int(f.get("month"))
    if kind in (RuleKind.SOLAR, RuleKind.RANGE, RuleKind.LUNAR):
        changes["day"] = _int(f.get("day"))
    if kind is RuleKind.RANGE:
        changes.update(end_month=_int(f.get("end_month")), end_day=_int(f.get("end_day")))
    if kind is RuleKind.LUNAR:
        changes["leap"] = f.get("leap") if f.get("leap") in {p.value for p in LeapPolicy} else LeapPolicy.REGULAR
    if kind is RuleKind.TERM:
        changes["term"] = f.get("term", "").strip()
    if kind is RuleKind.WEEKDAY:
        changes.update(nth=_int(f.get("nth")), weekday=_int(f.get("weekday")))
    return changes


def _rule_page(rule: CalendarRule, error: str | None = None, status: int = 200):
    years = _years()
    return render_template("console/calendar/rule.html", rule=rule, error=error, kind_label=KIND_LABELS[RuleKind(rule.kind)],
                           terms=SOLAR_TERMS, weekdays=WEEKDAY_NAMES, years=years,
                           dates=[o for y in years for o in _safe_occurrences(rule, y)]), status


def _safe_occurrences(rule: CalendarRule, year: int):
    try:
        return holiday_calendar.occurrences_in_year(rule, year)
    except Exception:  # noqa: BLE001 - a rule being edited may be invalid; the page says so
        return []


@blueprint.route("/calendar/rules/<code>", methods=["GET", "POST"])
@require("calendar.edit")
def calendar_rule(code: str):
    check_scope(None)
    rule = _rule(code)
    if request.method == "GET":
        return _rule_page(rule)
    changes = _rule_changes(rule)
    if not changes["name"]:
        return _rule_page(rule, "请填写名称", 400)
    try:
        holiday_calendar.change_rule(db(), code, **changes)
    except RuleError as error:
        db().rollback()
        return _rule_page(_rule(code), str(error), 400)
    record("calendar.rule", subject=SUBJECT_RULE, subject_id=rule.id, detail=rule.name)
    commit(f"“{rule.name}”已保存。")
    return redirect(url_for("console.calendar"))


# --- a reminder rule ---------------------------------------------------------------------------


@blueprint.route("/calendar/reminders/<int:rule_id>", methods=["GET", "POST"])
@require("calendar.edit")
def reminder_rule(rule_id: int):
    check_scope(None)
    rule = db().get(ReminderRule, rule_id)
    if rule is None:
        abort(404)
    error, status = None, 200
    values = {"lead_days": rule.lead_days, "message": rule.message, "send_time": rule.send_time, "enabled": rule.enabled}
    if request.method == "POST":
        f = request.form
        values = {"lead_days": f.get("lead_days", ""), "message": f.get("message", ""),
                  "send_time": f.get("send_time", ""), "enabled": bool(f.get("enabled"))}
        try:
            reminder_rules.change_reminder_rule(db(), rule, **values)
        except RuleError as exc:
            db().rollback()
            error, status = str(exc), 400
        else:
            record("calendar.reminder", subject=SUBJECT_REMINDER, subject_id=rule.id, detail=rule.calendar_rule.name)
            commit(f"“{rule.calendar_rule.name}”的提醒已保存。")
            return redirect(url_for("console.calendar"))
    rule = db().get(ReminderRule, rule_id)
    sends = reminder_rules.upcoming(db(), WorkCalendar(db()), rule, _years()) if error is None else []
    return render_template("console/calendar/reminder.html", rule=rule, values=values, error=error,
                           audience_labels=AUDIENCE_LABELS, sends=sends), status


# --- 放假调休 --------------------------------------------------------------------------------------


def _workday_year() -> int:
    this, following = _years()
    year = _int(request.values.get("year")) or following
    return year if this - 1 <= year <= this + 2 else following


def _workdays_page(year: int, text: str = "", parsed=None):
    this, following = _years()
    return render_template("console/calendar/workdays.html", year=year, years=(this, following), text=text,
                           parsed=parsed, saved=workday_notice.overrides_in_year(db(), year),
                           status=workday_notice.status_of_year(db(), year),
                           weekdays=WEEKDAY_NAMES), 400 if parsed and parsed.errors else 200


@blueprint.route("/calendar/workdays")
@require("view")
def workdays():
    return _workdays_page(_workday_year())


@blueprint.route("/calendar/workdays", methods=["POST"])
@require("calendar.edit")
def workdays_save():
    """预览 parses and shows the days; 保存 writes them (only when every line was understood)."""
    check_scope(None)
    year, text = _workday_year(), request.form.get("text", "")
    parsed = workday_notice.parse(text, year)
    if request.form.get("op") == "save" and not parsed.errors:
        count = workday_notice.save(db(), parsed.days)
        work = sum(1 for d in parsed.days if d.is_workday)
        record("calendar.workdays", subject=SUBJECT_WORKDAY, subject_id=year,
               detail=f"{year}年：{work}个上班日，{count - work}个放假日")
        commit(f"已保存{year}年的放假调休：{work}天上班，{count - work}天放假。")
        return redirect(url_for("console.workdays", year=year))
    return _workdays_page(year, text, parsed)


@blueprint.route("/calendar/workdays/<day>/clear", methods=["POST"])
@require("calendar.edit")
def workday_clear(day: str):
    check_scope(None)
    try:
        value = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if clear_override(db(), value):
        record("calendar.workday_clear", subject=SUBJECT_WORKDAY, subject_id=value.year, detail=value.isoformat())
        commit(f"{value.isoformat()} 已恢复为默认安排。")
    else:
        flash(f"{value.isoformat()} 没有录入过。", "warning")
    return redirect(url_for("console.workdays", year=value.year))
