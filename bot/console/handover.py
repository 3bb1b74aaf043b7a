"""人工会话: the inbox of hand-over chats, a thread with its recent exchange, reply and close.

An answer goes to the user through the outbox (a customer-service message inside
WeChat's 48-hour window, else the fallbacks of the delivery policy); the thread page
says which will happen before it is sent.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from bot.console import blueprint, db
from bot.console.access import check_scope, require, scope_filter
from bot.console.common import PER_PAGE, Page, commit, me, now, page_number, parse_id, record
from bot.runtime import runtime
from models.help_request import OPEN_STATUSES, HelpRequest
from services import handover, handover_queries
from services.handover_queries import OPEN, SHOWS
from services.workflow import TransitionError

SUBJECT = "help_request"


@blueprint.route("/handover")
@require("view")
def handover_inbox():
    show = request.args.get("show", OPEN)
    show = show if show in SHOWS else OPEN
    number = page_number()
    threads, total = handover_queries.inbox(db(), show, scope=[scope_filter(HelpRequest.town)],
                                            page=number, per_page=PER_PAGE)
    latest = handover_queries.latest_messages(db(), [t.id for t in threads])
    return render_template(
        "console/handover/inbox.html",
        page=Page(threads, total, number), show=show, shows=SHOWS,
        previews={t.id: handover_queries.preview(latest.get(t.id)) for t in threads}, open_statuses=OPEN_STATUSES,
    )


def _thread_or_404(thread_id: int) -> HelpRequest:
    thread = db().get(HelpRequest, thread_id)
    if thread is None or thread.category != handover.CATEGORY:
        abort(404)
    check_scope(thread.town)
    return thread


def _render(thread: HelpRequest, *, status_code: int = 200, text: str = "", error: str | None = None,
            revealed: dict | None = None):
    exchange = handover.messages(db(), thread)
    settings = runtime().settings
    return render_template(
        "console/handover/thread.html",
        t=thread, is_open=thread.status in OPEN_STATUSES,
        exchange=[{"m": m, "text": handover.shown_text(m), "state": handover_queries.delivery_state(o)}
                  for m, o in exchange],
        staff=handover_queries.staff_names(db(), (m.staff_id for m, _ in exchange)),
        outlook=handover_queries.outlook(
            db(), thread.openid, now(), sandbox=settings.sandbox, template_ids=settings.wechat_template_ids,
            subscribe_template_ids=settings.wechat_subscribe_template_ids),
        close_text=handover.close_notice(thread), max_chars=handover.MAX_REPLY_CHARS,
        after=handover_queries.latest_id(exchange),
        text=text, error=error, revealed=revealed or {},
    ), status_code


@blueprint.route("/handover/<int:id>")
@require("view")
def handover_thread(id: int):
    return _render(_thread_or_404(id))


@blueprint.route("/handover/<int:id>/reply", methods=["POST"])
@require("handover.reply")
def handover_reply(id: int):
    thread = _thread_or_404(id)
    text = request.form.get("text", "")
    after = request.form.get("after", "")
    seen = 0 if after == "0" else parse_id(after)  # 0: the page showed no message yet
    if seen is not None and handover_queries.sent_already(db(), thread, text, seen):
        flash("这条回复已经发出，没有重复发送。", "info")
        return redirect(url_for("console.handover_thread", id=thread.id))
    try:
        handover.reply(db(), thread, me(), text, now())
    except TransitionError as error:  # empty, too long, closed: shown beside the box, the text kept
        db().rollback()
        return _render(_thread_or_404(id), status_code=400, text=text, error=str(error))
    record("handover.reply", subject=SUBJECT, subject_id=thread.id)
    commit("回复已发出。")
    return redirect(url_for("console.handover_thread", id=thread.id))


@blueprint.route("/handover/<int:id>/close", methods=["POST"])
@require("handover.reply")
def handover_close(id: int):
    thread = _thread_or_404(id)
    try:
        handover.close(db(), thread, me(), now(), note=request.form.get("note", "")[:300])
    except TransitionError as error:  # closed already (a second click, a colleague)
        db().rollback()
        flash(str(error), "error")
        return redirect(url_for("console.handover_thread", id=id))
    record("handover.close", subject=SUBJECT, subject_id=thread.id)
    commit(f"会话{thread.number}已结束，已告诉对方。")
    return redirect(url_for("console.handover_inbox"))


@blueprint.route("/handover/<int:id>/reveal", methods=["POST"])
@require("reveal")
def handover_reveal(id: int):
    thread = _thread_or_404(id)
    if not thread.contact_phone:
        abort(400)
    record("reveal", subject=SUBJECT, subject_id=thread.id, detail="contact_phone")
    commit()
    return _render(thread, revealed={"phone": thread.contact_phone})
