"""通知: write a notice, choose who gets it, see it as WeChat shows it, send now or at a time;
each notice's delivery report (sent / waiting / held / failed) links to the delivery log.

Views parse the form, call services.notice_sending, audit, commit, redirect.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot.console import blueprint, db
from bot.console.access import check_scope, require, scope_filter
from bot.console.calendar_rules import ensure_calendar
from bot.console.common import Page, commit, me, now, page_number, record
from bot.runtime import runtime
from handlers import site
from models.notice import Notice
from services import delivery_log, notice_audiences, notice_sending
from services.local_time import local_date
from services.notice_sending import Draft, NoticeError

SUBJECT = notice_sending.SUBJECT


def _mass_limit() -> int:
    return runtime().settings.mass_send_monthly_budget


def _draft() -> Draft:
    form = request.form
    kind = form.get("audience", "")
    ref = {notice_audiences.VOLUNTEER_TEAM: form.get("volunteer_team", ""),
           notice_audiences.VISIT_TEAM: form.get("visit_team", ""),
           notice_audiences.TOWN: form.get("town", "")}.get(kind, "")
    return Draft(title=form.get("title", ""), text=form.get("text", "").replace("\r\n", "\n"),
                 link=form.get("link", ""), audience=kind, audience_ref=ref, send_now=form.get("when") == "now",
                 day=form.get("day", ""), time=form.get("time", ""), valid_days=form.get("valid_days", "7"))


def _options() -> dict:
    town = current_user.town
    towns = [town] if town else [t.name for t in site.towns(runtime().settings)]
    kinds = [(k, label) for k, label in notice_audiences.LABELS.items()
             if town is None or k in notice_audiences.WITH_REF]
    return {"last_day": notice_sending.last_day, "kinds": kinds, "teams": notice_audiences.team_options(db(), town), "towns": towns,
            "valid_days": notice_sending.VALID_DAYS}


@blueprint.route("/notices")
@require("view")
def notices():
    number = page_number()
    rows, total = notice_sending.console_notices(db(), page=number, scope=scope_filter(Notice.town))
    moment = now()
    return render_template("console/notices/list.html", page=Page(rows, total, number),
                           reports={n.id: notice_sending.report(db(), n.id) for n in rows},
                           audiences={n.id: _describe(n) for n in rows},
                           states={n.id: notice_sending.state_label(n, moment) for n in rows},
                           budget=notice_sending.month_budget(db(), local_date(moment), _mass_limit(), moment))


def _describe(notice: Notice) -> str:
    return notice_audiences.describe(db(), notice_audiences.Audience(notice.audience, notice.audience_ref))


@blueprint.route("/notices/new", methods=["GET", "POST"])
@require("notice.send")
def notice_new():
    ensure_calendar()  # the budget counts the publicity calendar's items
    moment = now()
    draft = _draft() if request.method == "POST" else Draft(day=local_date(moment).isoformat(), time="09:00")
    errors, checked, reach = {}, None, None
    if request.method == "POST":
        try:
            checked = notice_sending.check(db(), draft, moment, current_user.town)
            reach = len(notice_audiences.recipients(db(), checked.audience))
        except NoticeError as error:
            errors = error.errors
        if checked is not None and request.form.get("op") == "send":
            sent, errors = _send(checked, draft, moment)
            if sent is not None:
                return sent
    budget_day = local_date(checked.send_at) if checked else _day_of(draft) or local_date(moment)
    return render_template("console/notices/new.html", draft=draft, errors=errors, checked=checked, reach=reach,
                           budget=notice_sending.month_budget(db(), budget_day, _mass_limit(), moment),
                           audience_text=notice_audiences.describe(db(), checked.audience) if checked else "",
                           limits={"title": notice_sending.TITLE_LIMIT, "text": notice_sending.TEXT_LIMIT},
                           **_options()), 400 if errors else 200


def _send(checked, draft: Draft, moment):
    """Schedule the checked notice (once, however often it is submitted): (redirect, {}) or (None, errors)."""
    again = notice_sending.same_notice(db(), checked, me().username)
    if again is not None:
        flash("这条通知刚才已经安排过了，没有重复发送。", "info")
        return redirect(url_for("console.notice_detail", notice_id=again.id)), {}
    try:
        notice = notice_sending.schedule(db(), checked, by=me().username, now=moment, mass_limit=_mass_limit())
    except NoticeError as error:
        db().rollback()
        return None, error.errors
    record("notice.send", subject=SUBJECT, subject_id=notice.id,
           detail=f"{_describe(notice)}；{notice.recipients}人；{'立即' if draft.send_now else '定时'}")
    commit("通知已安排发送。" if notice.published_at > moment else "通知已开始发送。")
    return redirect(url_for("console.notice_detail", notice_id=notice.id)), {}


def _day_of(draft: Draft) -> date | None:
    try:
        return date.fromisoformat(draft.day)
    except ValueError:
        return None


def _load(notice_id: int) -> Notice:
    notice = db().get(Notice, notice_id)
    if notice is None or notice.created_by is None:
        abort(404)
    check_scope(notice.town)
    return notice


@blueprint.route("/notices/<int:notice_id>")
@require("view")
def notice_detail(notice_id: int):
    notice = _load(notice_id)
    moment = now()
    return render_template("console/notices/detail.html", n=notice, audience=_describe(notice),
                           state=notice_sending.state_label(notice, moment),
                           message=notice_sending.render(notice.title, notice.body, notice.link),
                           report=notice_sending.report(db(), notice.id),
                           rows=notice_sending.rows_of(db(), notice.id)[:200],
                           status_labels=delivery_log.STATUS_LABELS, last_day=notice_sending.last_day)


@blueprint.route("/notices/<int:notice_id>/cancel", methods=["POST"])
@require("notice.send")
def notice_cancel(notice_id: int):
    notice = _load(notice_id)
    try:
        stopped = notice_sending.cancel(db(), notice, now())
    except NoticeError as error:
        db().rollback()
        flash(str(error), "error")
    else:
        record("notice.cancel", subject=SUBJECT, subject_id=notice.id, detail=f"撤回{stopped}条未发出的消息")
        commit(f"通知已撤回，{stopped}条尚未发出的消息不再发送。")
    return redirect(url_for("console.notice_detail", notice_id=notice_id))
