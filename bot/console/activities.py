"""活动: the list, create and edit, cancel, capacity (the waitlist moves up), the sign-ups with
their check-in, check-out and hours, the printable sign-in sheet and its check-in QR code.

Views parse the form, call one service function (services.activity_admin,
services.service_hours, services.checkin_qr), write the audit row, commit and redirect.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from requests import RequestException
from sqlalchemy import func, select
from wechatpy.exceptions import WeChatClientException

from bot.console import access, blueprint, db
from bot.console.access import check_scope, require
from bot.console.common import PER_PAGE, Page, actor, commit, now, page_number, parse_id, record
from bot.runtime import runtime
from handlers import site
from models.activity import Activity, ActivitySignup, ActivityStatus, SignupStatus
from services import activities, activity_admin, checkin_qr, service_hours
from services.activity_admin import ActivityDetails
from services.delivery_policy import ApiError
from services.local_time import SHANGHAI
from services.workflow import TransitionError

SUBJECT = "activity"
SIGNUP_SUBJECT = "activity_signup"
PERIODS = {"upcoming": "未结束的", "past": "已结束的", "all": "全部"}
CLIENT_KEY = "shuangyong.wechat_client"


# --- the list ------------------------------------------------------------------------


@blueprint.route("/activities")
@require("view")
def activities_list():
    period = request.args.get("period") if request.args.get("period") in PERIODS else "upcoming"
    town = request.args.get("town") or ""
    moment, number = now(), page_number()
    query = select(Activity)
    if (scope := access.scope_filter(Activity.town)) is not None:
        query = query.where(scope)
    if town:
        query = query.where(Activity.town == (None if town == "county" else town))
    if period == "upcoming":
        query = query.where(func.coalesce(Activity.ends_at, Activity.starts_at) >= moment)
    elif period == "past":
        query = query.where(func.coalesce(Activity.ends_at, Activity.starts_at) < moment)
    total = db().scalar(select(func.count()).select_from(query.subquery())) or 0
    order = Activity.starts_at.asc() if period == "upcoming" else Activity.starts_at.desc()
    items = list(db().scalars(query.order_by(order, Activity.id).limit(PER_PAGE).offset((number - 1) * PER_PAGE)))
    return render_template(
        "console/activities/list.html", page=Page(items, total, number), period=period, periods=PERIODS,
        town=town, town_options=_town_filter_options(),
        counts=activity_admin.counts(db(), [a.id for a in items]), Signup=SignupStatus,
        pending=service_hours.pending_counts(db(), [a.id for a in items], moment),
    )


def _town_options() -> list[tuple[str, str]]:
    """Where an activity can belong: the county office or a 乡镇 (a township account: its own)."""
    if current_user.town:
        return [(current_user.town, current_user.town)]
    return [("", "县双拥办（全县）")] + [(t.name, t.name) for t in site.towns(runtime().settings)]


def _town_filter_options() -> list[tuple[str, str]]:
    if current_user.town:
        return [(current_user.town, current_user.town)]
    return [("county", "县双拥办（全县）")] + [(t.name, t.name) for t in site.towns(runtime().settings)]


# --- create and edit -------------------------------------------------------------------


@dataclass
class ActivityForm:
    """What was typed, kept as text so a refused form comes back exactly as it was."""

    title: str = ""
    day: str = ""
    start: str = "09:00"
    end: str = "11:00"
    place: str = ""
    description: str = ""
    capacity: str = "20"
    town: str = ""

    @classmethod
    def from_request(cls) -> "ActivityForm":
        f = request.form
        return cls(**{k: (f.get(k) or "").strip() for k in cls.__dataclass_fields__})

    @classmethod
    def of(cls, a: Activity) -> "ActivityForm":
        start = a.starts_at.astimezone(SHANGHAI)
        end = activities.ends_at(a).astimezone(SHANGHAI)
        return cls(a.title, start.date().isoformat(), f"{start:%H:%M}", f"{end:%H:%M}", a.place,
                   a.description, str(a.capacity), a.town or "")

    def parse(self) -> tuple[ActivityDetails | None, dict[str, str]]:
        errors = {}
        try:
            day = date.fromisoformat(self.day)
        except ValueError:
            day, errors["day"] = None, "请选择活动日期。"
        start, end = _clock(self.start), _clock(self.end)
        if start is None:
            errors["start"] = "开始时间请写成 时:分，例如09:00。"
        if end is None:
            errors["end"] = "结束时间请写成 时:分，例如11:30。"
        capacity = _whole_number(self.capacity)
        if capacity is None:
            errors["capacity"] = "名额请填整数，例如20。"
        if current_user.town:
            town = current_user.town  # a township account runs activities of its own 乡镇 only
        else:
            town = self.town if self.town in {v for v, _ in _town_options()} else None
            if self.town and town is None:
                errors["town"] = "请选择列表中的乡镇。"
        if errors:
            return None, errors
        details = ActivityDetails(
            self.title, _instant(day, start), _instant(day, end), capacity, self.place, self.description, town or None)
        errors = activity_admin.check(details)
        return (None, errors) if errors else (details, {})


def _clock(text: str) -> time | None:
    text = unicodedata.normalize("NFKC", text).replace(".", ":")  # ９：００ and 9.00 as typed on a Chinese IME
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(hour, minute)
    except ValueError:
        return None


def _whole_number(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None


def _instant(day: date, clock: time) -> datetime:
    """A date and a clock time typed in Shanghai time, as the aware UTC instant stored."""
    return datetime.combine(day, clock, SHANGHAI).astimezone(timezone.utc)


@blueprint.route("/activities/new", methods=["GET", "POST"])
@require("activity.manage")
def activity_new():
    form = ActivityForm(town=current_user.town or "")
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = ActivityForm.from_request()
        details, errors = form.parse()
        if details is not None:
            activity = activity_admin.create(db(), details, now())
            record("activity.create", subject=SUBJECT, subject_id=activity.id)
            commit(f"已新建活动“{activity.title}”。志愿者现在可以在公众号“活动报名”里报名。")
            return redirect(url_for("console.activity_detail", id=activity.id))
    return render_template("console/activities/form.html", form=form, errors=errors, activity=None,
                           town_options=_town_options()), 400 if errors else 200


def _load(id: int) -> Activity:
    activity = db().get(Activity, id)
    if activity is None:
        abort(404)
    check_scope(activity.town)
    return activity


@blueprint.route("/activities/<int:id>/edit", methods=["GET", "POST"])
@require("activity.manage")
def activity_edit(id: int):
    activity = _load(id)
    if activity.status == ActivityStatus.CANCELLED:
        flash("这个活动已经取消了，不能再修改。", "warning")
        return redirect(url_for("console.activity_detail", id=id))
    form, errors = ActivityForm.of(activity), {}
    if request.method == "POST":
        form = ActivityForm.from_request()
        details, errors = form.parse()
        if details is not None:
            try:
                told = activity_admin.update(db(), activity, details, now())
            except TransitionError as error:
                db().rollback()
                errors = {"capacity": str(error)}
                activity = _load(id)
            else:
                record("activity.update", subject=SUBJECT, subject_id=activity.id)
                commit("已保存。" + (f"时间或地点有变，已通知{len(told)}位报名的人。" if told else ""))
                return redirect(url_for("console.activity_detail", id=id))
    return render_template("console/activities/form.html", form=form, errors=errors, activity=activity,
                           town_options=_town_options(),
                           change_text=activity_admin.change_notice(activity)), 400 if errors else 200


# --- one activity ------------------------------------------------------------------------


def _render_detail(activity: Activity, *, code: int = 200, cancel_error: str | None = None,
                   capacity_error: str | None = None, hours_error: tuple[int, str] | None = None):
    moment = now()
    signups = service_hours.signups(db(), activity.id)
    people = service_hours.volunteers_of(db(), signups)
    return render_template(
        "console/activities/detail.html", a=activity, signups=signups, people=people,
        counts=activity_admin.counts(db(), [activity.id])[activity.id], Signup=SignupStatus,
        minutes=lambda s: service_hours.minutes(s, moment), pending=lambda s: service_hours.pending(s, moment),
        approved=service_hours.approved, hours_text=service_hours.hours_text,
        pending_count=sum(service_hours.pending(s, moment) for s in signups),
        ends_at=activities.ends_at(activity), opens_at=activities.checkin_opens_at(activity),
        cancel_text=activity_admin.cancel_notice(activity, request.form.get("reason", "").strip() or "（您填写的原因）"),
        cancel_error=cancel_error, capacity_error=capacity_error, hours_error=hours_error,
        typed=request.form, now=moment,
    ), code


@blueprint.route("/activities/<int:id>")
@require("view")
def activity_detail(id: int):
    return _render_detail(_load(id))


@blueprint.route("/activities/<int:id>/capacity", methods=["POST"])
@require("activity.manage")
def activity_capacity(id: int):
    activity = _load(id)
    capacity = _whole_number(request.form.get("capacity") or "")
    try:
        if capacity is None:
            raise TransitionError("名额请填整数，例如30。")
        promoted = activity_admin.change_capacity(db(), activity, capacity, now())
    except TransitionError as error:
        db().rollback()
        return _render_detail(_load(id), code=400, capacity_error=str(error))
    record("activity.capacity", subject=SUBJECT, subject_id=activity.id, detail=f"capacity={activity.capacity}")
    told = f"候补的{len(promoted)}人已按报名先后转为正式报名，并已通知本人。" if promoted else ""
    commit(f"名额已改为{activity.capacity}人。{told}")
    return redirect(url_for("console.activity_detail", id=id))


@blueprint.route("/activities/<int:id>/cancel", methods=["POST"])
@require("activity.manage")
def activity_cancel(id: int):
    activity = _load(id)
    try:
        told = activity_admin.cancel(db(), activity, request.form.get("reason", ""), now(), actor=actor())
    except TransitionError as error:
        db().rollback()
        if _load(id).status == ActivityStatus.CANCELLED:  # a second click: already done
            flash(str(error), "info")
            return redirect(url_for("console.activity_detail", id=id))
        return _render_detail(_load(id), code=400, cancel_error=str(error))
    record("activity.cancel", subject=SUBJECT, subject_id=activity.id)
    commit(f"活动已取消，已通知{told}位报名的人。")
    return redirect(url_for("console.activity_detail", id=id))


# --- check-in, check-out and hours, by staff ------------------------------------------------


def _signup(activity: Activity, signup_id: int) -> ActivitySignup:
    signup = db().get(ActivitySignup, signup_id)
    if signup is None or signup.activity_id != activity.id:
        abort(404)
    return signup


SCAN_FLASH = {
    activities.ScanOutcome.CHECKED_IN: ("success", "已代为签到。"),
    activities.ScanOutcome.CHECKED_OUT: ("success", "已代为签退。"),
    activities.ScanOutcome.ALREADY_IN: ("info", "已经签到过了；活动开始且签到30分钟后才能签退。"),
    activities.ScanOutcome.ALREADY_OUT: ("info", "已经签退过了。"),
    activities.ScanOutcome.TOO_EARLY: ("warning", "还没到签到时间（活动开始前2小时起）。"),
    activities.ScanOutcome.OVER: ("warning", "活动已经结束，不能再签到。没有签到的人请直接修改服务时长。"),
    activities.ScanOutcome.CANCELLED: ("warning", "活动已取消。"),
    activities.ScanOutcome.NOT_SIGNED_UP: ("warning", "这个人没有正式报名（候补或已取消），不能签到。"),
}


@blueprint.route("/activities/<int:id>/signups/<int:signup_id>/scan", methods=["POST"])
@require("activity.manage")
def activity_signup_scan(id: int, signup_id: int):
    """代签到 / 代签退 for someone without a phone at hand: the same rules as a scan."""
    activity = _load(id)
    signup = _signup(activity, signup_id)
    scan = service_hours.staff_check_in(db(), signup, now())
    category, message = SCAN_FLASH[scan.outcome]
    if scan.outcome in (activities.ScanOutcome.CHECKED_IN, activities.ScanOutcome.CHECKED_OUT):
        action = "activity.checkin" if scan.outcome == activities.ScanOutcome.CHECKED_IN else "activity.checkout"
        record(action, subject=SIGNUP_SUBJECT, subject_id=signup.id)
        commit()
    flash(message, category)
    return redirect(url_for("console.activity_detail", id=id) + "#signups")


@blueprint.route("/activities/<int:id>/hours/approve", methods=["POST"])
@require("hours.approve")
def activity_hours_approve(id: int):
    """确认时长: one sign-up (signup=<id>) or every pending one of the activity."""
    activity = _load(id)
    one = parse_id(request.form.get("signup"))
    if one is not None:
        signup = _signup(activity, one)
        done = [signup] if service_hours.approve(db(), signup, now(), actor=actor()) else []
    else:
        done = service_hours.approve_all(db(), activity, now(), actor=actor())
    if not done:
        flash("没有待确认的时长（可能已经确认过了）。", "info")
        return redirect(url_for("console.activity_detail", id=id) + "#signups")
    for signup in done:
        record("hours.approve", subject=SIGNUP_SUBJECT, subject_id=signup.id,
               detail=f"minutes={signup.service_minutes}")
    commit(f"已确认{len(done)}人的服务时长。")
    return redirect(url_for("console.activity_detail", id=id) + "#signups")


@blueprint.route("/activities/<int:id>/signups/<int:signup_id>/hours", methods=["POST"])
@require("hours.approve")
def activity_hours_correct(id: int, signup_id: int):
    activity = _load(id)
    signup = _signup(activity, signup_id)
    before = signup.service_minutes if service_hours.approved(signup) else service_hours.proposed_minutes(signup, now())
    try:
        service_hours.correct(db(), signup, request.form.get("hours", ""), request.form.get("reason", ""), now(),
                              actor=actor())
    except TransitionError as error:
        db().rollback()
        return _render_detail(_load(id), code=400, hours_error=(signup_id, str(error)))
    record("hours.correct", subject=SIGNUP_SUBJECT, subject_id=signup.id,
           detail=f"minutes {before if before is not None else '-'} → {signup.service_minutes}；原因：{signup.hours_note}")
    commit(f"时长已改为{service_hours.hours_text(signup.service_minutes)}小时，已记入操作日志。")
    return redirect(url_for("console.activity_detail", id=id) + "#signups")


# --- the sign-in sheet and its QR code ----------------------------------------------------------


def _qr_creator():
    """wechatpy's client.qrcode.create, or None in the sandbox (the image is drawn from the scene)."""
    settings = runtime().settings
    if settings.sandbox:
        return None
    client = current_app.extensions.get(CLIENT_KEY)
    if client is None:
        from wechat.api import make_client

        rt = runtime()
        client = make_client(settings, redis=rt.redis, sessions=rt.sessions, pool_size=2)
        current_app.extensions[CLIENT_KEY] = client
    return client.qrcode.create


def _checkin_code(activity: Activity):
    """The code to print (asking WeChat only when the cached one is missing or nearly expired)."""
    sandbox = runtime().settings.sandbox
    body = None if sandbox else checkin_qr.wanted(activity, now())
    if body is not None:
        db().commit()  # nothing pending: SQLite lets the token store write while WeChat is asked
        try:
            answer = _qr_creator()(body)
        except (WeChatClientException, ApiError, RequestException, KeyError, ValueError) as error:
            # WeChat unreachable or refusing (quota): the sheet still prints, with the old code if it works.
            current_app.logger.warning("activity qr: WeChat refused or unreachable",
                                       extra={"error": type(error).__name__})
            return checkin_qr.current(activity, sandbox=False) if _still_valid(activity) else None
        checkin_qr.store(activity, answer, now())
        record("activity.qr", subject=SUBJECT, subject_id=activity.id)
        commit()
    return checkin_qr.current(activity, sandbox)


def _still_valid(activity: Activity) -> bool:
    """A renewal failed: the old code still works until it expires."""
    return bool(activity.qr_expires_at and activity.qr_expires_at > now())


@blueprint.route("/activities/<int:id>/sheet")
@require("activity.manage")
def activity_sheet(id: int):
    """签到表 on A4: the check-in code on top, then a row per registered person with room to sign."""
    activity = _load(id)
    code = _checkin_code(activity)
    rows = [s for s in service_hours.signups(db(), activity.id) if s.status == SignupStatus.REGISTERED]
    return render_template(
        "console/activities/sheet.html", a=activity, code=code, rows=rows,
        people=service_hours.volunteers_of(db(), rows), ends_at=activities.ends_at(activity),
        opens_at=activities.checkin_opens_at(activity), blank_rows=max(5, 20 - len(rows)),
        sandbox=runtime().settings.sandbox,
    )


@blueprint.route("/activities/<int:id>/qr.svg")
@require("activity.manage")
def activity_qr(id: int):
    activity = _load(id)
    code = _checkin_code(activity)
    if code is None:
        abort(503)
    response = Response(checkin_qr.svg(code.content), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response
