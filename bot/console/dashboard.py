"""工作台: what needs me today, in one screen, limited to the account's 乡镇."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from bot.console import access, blueprint, db
from bot.console.access import require
from bot.console.common import now
from services import dashboard_stats, work_queue
from services.local_time import local_date


def _chart(title: str, bars: list[dashboard_stats.Bar]) -> dict:
    """What console.js hands to Chart.js; the table under the chart shows the same numbers."""
    return {"type": "bar", "label": title, "labels": [b.label for b in bars], "values": [b.count for b in bars]}


@blueprint.route("/")
@require("view")
def dashboard():
    session, at, town = db(), now(), current_user.town
    with_pushes = access.can(current_user, "outbox.view")
    by_status = dashboard_stats.open_by_status(session, town)
    by_category = dashboard_stats.year_by_category(session, at, town)
    return render_template(
        "console/dashboard.html",
        queue=work_queue.counts(session, at, town, with_pushes=with_pushes),
        waiting_requests=dashboard_stats.oldest_waiting_requests(session, at, town),
        waiting_chats=dashboard_stats.oldest_waiting_chats(session, at, town),
        visits=dashboard_stats.visit_progress(session, local_date(at), town),
        by_status=by_status,
        by_category=by_category,
        status_chart=_chart("未办结求助", by_status),
        category_chart=_chart("今年求助", by_category),
        year=local_date(at).year,
        town=town,
        today=local_date(at),
    )
