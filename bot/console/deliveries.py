"""推送记录: every outbox row with status, channel and WeChat's answer in words; retry and cancel."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, flash, redirect, render_template, request, url_for

from bot.console import blueprint, db
from bot.console.access import require
from bot.console.common import Page, commit, now, page_number, record
from models import Channel, OutboxStatus
from services import delivery_log
from services.local_time import local_instant

SUBJECT = "outbox"  # the audit log's name for an outbox row


def parse_day(value: str | None) -> date | None:
    """A yyyy-mm-dd filter value; anything else is ignored (the filter is simply not applied)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def day_range(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Shanghai days, both ends included, as UTC instants [start, end)."""
    return (local_instant(since, "00:00") if since else None,
            local_instant(until + timedelta(days=1), "00:00") if until else None)


def _enum(kind, value: str | None):
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _filters() -> tuple[delivery_log.Filters, dict]:
    args = request.args
    status = _enum(OutboxStatus, args.get("status"))
    channel = _enum(Channel, args.get("channel"))
    kind = args.get("kind") if args.get("kind") in delivery_log.KIND_LABELS else None
    since, until = parse_day(args.get("since")), parse_day(args.get("until"))
    start, end = day_range(since, until)
    shown = {"status": status.value if status else "", "channel": channel.value if channel else "",
             "kind": kind or "", "since": since.isoformat() if since else "", "until": until.isoformat() if until else ""}
    return delivery_log.Filters(status=status, kind=kind, channel=channel, since=start, until=end), shown


def _options() -> dict:
    return {
        "statuses": [(s.value, label) for s, label in delivery_log.STATUS_LABELS.items()],
        "kinds": list(delivery_log.KIND_LABELS.items()),
        "channels": [(c.value, label) for c, label in delivery_log.CHANNEL_LABELS.items()],
    }


@blueprint.route("/deliveries")
@require("outbox.view")
def deliveries():
    filters, shown = _filters()
    number = page_number()
    rows, total = delivery_log.search(db(), filters, page=number)
    return render_template(
        "console/deliveries/list.html",
        page=Page(rows, total, number),
        names=delivery_log.recipients(db(), [row.to for row in rows]),
        shown=shown,
        log=delivery_log,
        **_options(),
    )


def _row(outbox_id: int):
    row = delivery_log.get(db(), outbox_id)
    if row is None:
        abort(404)
    return row


@blueprint.route("/deliveries/<int:outbox_id>")
@require("outbox.view")
def delivery(outbox_id: int):
    row = _row(outbox_id)
    return render_template(
        "console/deliveries/detail.html",
        row=row,
        name=delivery_log.recipients(db(), [row.to])[row.to],
        text=delivery_log.payload_text(row.payload),
        fields=(row.payload or {}).get("fields") if isinstance((row.payload or {}).get("fields"), dict) else None,
        title=(row.payload or {}).get("title"),
        events=delivery_log.history(db(), row.id),
        log=delivery_log,
        back=_back(),
    )


def _back() -> str:
    """Where to go after an action: the list the user came from (with its filters), else the row."""
    target = request.values.get("back", "")
    if target.startswith("/console/deliveries") and not target.startswith("//"):
        return target
    return ""


@blueprint.route("/deliveries/<int:outbox_id>/retry", methods=["POST"])
@require("outbox.manage")
def delivery_retry(outbox_id: int):
    row = _row(outbox_id)
    try:
        delivery_log.retry(db(), row, now())
    except delivery_log.DeliveryError as error:
        db().rollback()
        flash(str(error), "error")
    else:
        record("outbox.retry", subject=SUBJECT, subject_id=row.id)
        commit(f"消息{row.id}已重新排队，稍后发送。")
    return redirect(_back() or url_for("console.delivery", outbox_id=outbox_id))


@blueprint.route("/deliveries/<int:outbox_id>/cancel", methods=["POST"])
@require("outbox.manage")
def delivery_cancel(outbox_id: int):
    row = _row(outbox_id)
    try:
        delivery_log.cancel(db(), row, now())
    except delivery_log.DeliveryError as error:
        db().rollback()
        flash(str(error), "error")
    else:
        record("outbox.cancel", subject=SUBJECT, subject_id=row.id)
        commit(f"消息{row.id}已取消，不会再发送。")
    return redirect(_back() or url_for("console.delivery", outbox_id=outbox_id))
