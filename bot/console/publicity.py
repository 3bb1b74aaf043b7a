"""宣传日历: the yearly publicity items with their dates this year and next, each editable
(text, date, audience, on/off), and the month-by-month mass-send budget they use."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from bot.console import blueprint, db
from bot.console.access import check_scope, require
from bot.console.calendar_rules import ensure_calendar
from bot.console.common import commit, now, record
from bot.runtime import runtime
from models.publicity import PublicityItem
from services import notice_sending, publicity_calendar
from services.local_time import local_date

SUBJECT = "publicity_item"


def _years() -> tuple[int, int]:
    this = local_date(now()).year
    return this, this + 1


@blueprint.route("/publicity")
@require("view")
def publicity():
    ensure_calendar()
    years, moment = _years(), now()
    items = publicity_calendar.all_items(db())
    limit = runtime().settings.mass_send_monthly_budget
    return render_template("console/publicity/list.html", items=items, years=years,
                           dates={i.id: publicity_calendar.item_dates(i, years) for i in items},
                           budgets={y: notice_sending.year_budgets(db(), y, limit, moment) for y in years})


def _item(item_id: int) -> PublicityItem:
    item = db().get(PublicityItem, item_id)
    if item is None:
        abort(404)
    return item


def _values(item: PublicityItem) -> dict:
    tag = item.audience.split(":", 1)[1] if item.audience.startswith("tag:") else ""
    return {"title": item.title, "content": item.content, "month": item.month or "", "day": item.day or "",
            "end_month": item.end_month or "", "end_day": item.end_day or "", "offset_days": item.offset_days,
            "valid_days": item.valid_days, "audience": "tag" if tag else "all", "tag_id": tag,
            "publish_time": item.publish_time, "enabled": item.enabled}


@blueprint.route("/publicity/<int:item_id>", methods=["GET", "POST"])
@require("content.edit")
def publicity_item(item_id: int):
    check_scope(None)
    item = _item(item_id)
    errors, values = {}, _values(item)
    if request.method == "POST":
        values = {k: request.form.get(k, "") for k in values} | {"enabled": bool(request.form.get("enabled"))}
        try:
            publicity_calendar.change_item(db(), item, values)
        except publicity_calendar.ItemError as error:
            db().rollback()
            errors = error.errors
            item = _item(item_id)
        else:
            record("publicity.update", subject=SUBJECT, subject_id=item.id, detail=item.title)
            commit(f"“{item.title}”已保存。")
            return redirect(url_for("console.publicity"))
    years = _years()
    return render_template("console/publicity/edit.html", item=item, values=values, errors=errors,
                           dates=publicity_calendar.item_dates(item, years),
                           preview=f"【{values['title']}】{values['content']}"), 400 if errors else 200
