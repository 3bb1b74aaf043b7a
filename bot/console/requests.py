"""求助: the list (filters, search, counts, bulk 受理/指派, Excel export) and a request's page
(facts, the actions the workflow allows now, the full timeline).

Views parse the form, call one service function, write an audit row, commit and
redirect; the queries live in `services.request_queries`, the moves in
`services.help_requests`.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Callable
from urllib.parse import parse_qsl, urlencode

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.styles import Font

from bot.console import access, blueprint, db
from bot.console.access import check_scope, require
from bot.console.common import Page, actor, commit, now, page_number, parse_id, query_args, record
from bot.console.excel import append_row
from bot.console.templating import mask_name, when
from bot.runtime import runtime
from handlers.display import mask_mobile
from models.help_request import HelpRequest, RequestStatus, Urgency
from models.volunteer import Volunteer
from services import areas, help_requests, request_queries, staff_accounts
from services.help_requests import TransitionError
from services.local_time import SHANGHAI
from services.request_queries import RequestFilter

SUBJECT = help_requests.SUBJECT
BULK_LIMIT = 200  # one page of checkboxes is 50; this only stops a forged form
PLACEHOLDERS = {"unit": "【转办单位】", "resolution": "【办理结果】", "reason": "【原因】"}


# --- the list ---------------------------------------------------------------------------


def _filter() -> RequestFilter:
    return RequestFilter.from_args(request.args)


def _scope():
    return access.scope_filter(HelpRequest.town)


@blueprint.route("/requests")
@require("view")
def requests():
    flt = _filter()
    session, moment, scope = db(), now(), _scope()
    number = page_number()
    items, total = request_queries.find(session, flt, moment, scope=scope, page=number)
    return render_template(
        "console/requests/list.html",
        flt=flt,
        page=Page(items, total, number),
        counts=request_queries.status_counts(session, flt, moment, scope=scope),
        assignees=request_queries.assignees(session, items),
        overdue={r.id for r in items if help_requests.is_overdue(r, moment)},
        options=_filter_options(),
        bulk_staff=_bulk_staff() if access.can(current_user, "request.act") else [],
        query_args=query_args,
        search_kind=request_queries.search_kind(flt.q),
        export_cap=request_queries.EXPORT_CAP,
    )


def _staff_in_view():
    """Accounts the signed-in account works with: all of them, or its township's and the county's."""
    if current_user.town is None:
        return request_queries.staff_who_act(db())
    return request_queries.staff_for_town(db(), current_user.town)


def _filter_options() -> dict[str, list[tuple[str, str]]]:
    staff = _staff_in_view()
    return {
        "status": [(s.value, s.label) for s in RequestStatus],
        "category": list(help_requests.CATEGORIES.items()),
        "urgency": [(u.value, u.label) for u in Urgency],
        "town": _town_options(),
        "assignee": [(request_queries.UNASSIGNED, "未指派"), (request_queries.TO_VOLUNTEER, "志愿者")]
                    + [(str(a.id), a.name) for a in staff],
        "source": list(request_queries.SOURCE_FILTERS.items()),
        "sort": list(request_queries.SORTS.items()),
    }


def _town_options() -> list[tuple[str, str]]:
    if current_user.town:
        return [(current_user.town, current_user.town)]
    towns = [(t.name, t.name) for t in areas.towns(db(), runtime().settings)]
    return towns + [(request_queries.NO_TOWN, "未登记乡镇")]


def _bulk_staff():
    return [(str(a.id), a.name + (f"（{a.town}）" if a.town else "")) for a in _staff_in_view()]


# --- bulk 受理 / 指派 -----------------------------------------------------------------------


@blueprint.route("/requests/bulk", methods=["POST"])
@require("request.act")
def requests_bulk():
    back = _list_url(request.form.get("back", ""))
    op = request.form.get("op")
    ids = [i for i in map(parse_id, request.form.getlist("ids")) if i is not None][:BULK_LIMIT]
    if op not in ("accept", "assign") or not ids:
        flash("请先勾选要处理的求助。", "warning")
        return redirect(back)
    staff = None
    if op == "assign":
        staff = _active_staff(request.form.get("staff", ""))
        if staff is None:
            flash("请选择要指派的工作人员。", "warning")
            return redirect(back)
    done, skipped = 0, []
    for request_id in ids:
        reason = _bulk_one(op, request_id, staff)
        if reason is None:
            done += 1
        else:
            skipped.append(reason)
    commit()
    flash(_bulk_report(op, done, skipped), "warning" if skipped else "success")
    return redirect(back)


def _bulk_one(op: str, request_id: int, staff) -> str | None:
    """One request of a bulk action in its own savepoint: None when done, else why it was skipped."""
    target = db().get(HelpRequest, request_id)
    if target is None or not access.in_scope(current_user, target.town):
        return f"编号{request_id}：找不到这件求助"
    try:
        with db().begin_nested():  # a refused move leaves nothing half-done behind
            _bulk_move(op, target, staff)
            record(f"request.{op}", subject=SUBJECT, subject_id=target.id, detail=_action_detail(op, target))
    except TransitionError as error:
        return f"{target.number}：{error}"
    return None


def _bulk_move(op: str, target: HelpRequest, staff) -> None:
    if op == "accept":
        help_requests.accept(db(), target, now(), actor=actor())
        return
    if not request_queries.staff_may_take(staff, target):
        raise TransitionError(f"{staff.name}不负责{target.town or '未登记乡镇'}的求助")
    help_requests.assign(db(), target, now(), actor=actor(), staff=staff)


def _bulk_report(op: str, done: int, skipped: list[str]) -> str:
    verb = "受理" if op == "accept" else "指派"
    text = f"已{verb}{done}件"
    if skipped:
        shown = "；".join(skipped[:10]) + ("；……" if len(skipped) > 10 else "")
        text += f"，{len(skipped)}件未处理（{shown}）"
    return text + "。"


def _list_url(back: str) -> str:
    """The list with the filters it was showing (only our own parameters, never a foreign URL)."""
    args = [(k, v) for k, v in parse_qsl(back.lstrip("?")) if k.isidentifier()]
    return url_for("console.requests") + (f"?{urlencode(args)}" if args else "")


def _active_staff(value: str):
    """An active account that may act on requests (not 只读), or None."""
    account_id = parse_id(value)
    account = staff_accounts.by_id(db(), account_id) if account_id is not None else None
    if account is None or not account.active or account.role not in access.RULES["request.act"]:
        return None
    return account


# --- Excel export ---------------------------------------------------------------------------

EXPORT_HEADERS = ("编号", "类别", "紧急程度", "状态", "超时", "乡镇", "联系人", "联系电话", "来源",
                  "提交时间", "受理期限", "经办人", "转办单位")
EXPORT_WIDTHS = (16, 14, 10, 10, 6, 12, 10, 15, 8, 18, 18, 22, 18)


@blueprint.route("/requests/export.xlsx")
@require("export")
def requests_export():
    flt = _filter()
    moment = now()
    rows = request_queries.export_rows(db(), flt, moment, scope=_scope())
    content = _workbook(rows, request_queries.assignees(db(), rows), moment)
    staff_names = {a.id: a.name for a in request_queries.staff_who_act(db())}
    capped = "（已达上限）" if len(rows) >= request_queries.EXPORT_CAP else ""
    record("export", subject=SUBJECT,
           detail=f"求助列表：{request_queries.describe(flt, staff_names)}；{len(rows)}行{capped}")
    commit()
    stamp = moment.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return send_file(BytesIO(content), as_attachment=True, download_name=f"求助列表-{stamp}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _workbook(rows: list[HelpRequest], assignees: dict, moment: datetime) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "求助列表"
    sheet.append(EXPORT_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r in rows:
        append_row(sheet, _export_row(r, assignees.get(r.id), moment))
    for index, width in enumerate(EXPORT_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _export_row(r: HelpRequest, assignee, moment: datetime) -> list[str]:
    """Text cells only: dates in the console's one style, phones and names masked."""
    return [
        r.number, help_requests.category_label(r.category), r.urgency.label, r.status.label,
        "超时" if help_requests.is_overdue(r, moment) else "", r.town or "", mask_name(r.contact_name),
        mask_mobile(r.contact_phone) if r.contact_phone else "", request_queries.SOURCES.get(r.source, r.source),
        when(r.created_at), when(r.due_at), _assignee_text(assignee), r.transferred_to or "",
    ]


def _assignee_text(assignee) -> str:
    if assignee is None:
        return ""
    if assignee.kind == "volunteer":
        return f"志愿者{mask_name(assignee.name)}（{assignee.number}）"
    return assignee.name


# --- a request's page --------------------------------------------------------------------------


def _load(request_id: int, *, for_update: bool = False) -> HelpRequest:
    # for_update: PostgreSQL holds a second action on the same request until this one commits.
    target = db().get(HelpRequest, request_id, with_for_update=for_update or None)
    if target is None:
        abort(404)
    check_scope(target.town)
    return target


@blueprint.route("/requests/<int:request_id>")
@require("view")
def request_detail(request_id: int):
    return _render_detail(_load(request_id))


@blueprint.route("/requests/<int:request_id>/reveal", methods=["POST"])
@require("reveal")
def request_reveal(request_id: int):
    """The full phone number, on this response only (never kept in the session), audited."""
    target = _load(request_id)
    record("reveal", subject=SUBJECT, subject_id=target.id, detail="contact_phone")
    commit()
    return _render_detail(target, full_phone=target.contact_phone or "（未填写）")


def _render_detail(target: HelpRequest, *, failed: str | None = None, error: str | None = None,
                   full_phone: str | None = None, code: int = 200, conflict: str | None = None):
    session = db()
    actions = request_queries.available_actions(target) if access.can(current_user, "request.act") else []
    return render_template(
        "console/requests/detail.html",
        r=target,
        overdue=help_requests.is_overdue(target, now()),
        assignee=request_queries.assignees(session, [target]).get(target.id),
        attachments=request_queries.attachment_labels(target),
        timeline=request_queries.timeline(session, target),
        actions=actions,
        notices=_notices(target), satisfaction=SATISFACTION_CHOICES,
        staff_choices=request_queries.staff_for_town(session, target.town) if "assign" in actions else [],
        volunteer_choices=request_queries.volunteers_for(session, target.town) if "assign" in actions else [],
        source_label=request_queries.SOURCES.get(target.source, target.source),
        handover_url=_handover_url(target),
        failed=failed, error=error, typed=request.form if failed else {},
        full_phone=full_phone, seen=request_queries.latest_event_id(session, target), conflict=conflict,
        kept=[request.form.get(name, "").strip() for name in ("unit", "resolution", "reason", "note")
              if request.form.get(name, "").strip()] if conflict else [],
    ), code


def _notices(target: HelpRequest) -> dict[str, str]:
    """What the requester will read after each action; typed parts shown as placeholders."""
    return {
        "accept": help_requests.accept_notice(target),
        "transfer": help_requests.transfer_notice(target, PLACEHOLDERS["unit"]),
        "assign": help_requests.assign_notice(target),
        "resolve": help_requests.resolve_notice(target, PLACEHOLDERS["resolution"]),
        "reject": help_requests.reject_notice(target, PLACEHOLDERS["reason"]),
        "reopen": help_requests.reopen_notice(target),
    }


SATISFACTION_CHOICES = list(help_requests.SATISFACTION.items())


def _handover_url(target: HelpRequest) -> str | None:
    return url_for("console.handover_thread", id=target.id) if target.category == "handover" else None


# --- the actions -----------------------------------------------------------------------------------


def _told(target: HelpRequest, text: str) -> str:
    return f"求助人将收到：\n{text}" if target.openid else "求助人没有绑定微信，不会收到通知。"


def _accept(target: HelpRequest, form) -> str:
    help_requests.accept(db(), target, now(), actor=actor())
    return "已受理。" + _told(target, help_requests.accept_notice(target))


def _transfer(target: HelpRequest, form) -> str:
    help_requests.transfer(db(), target, form.get("unit", ""), now(), actor=actor(),
                           note=form.get("note", "").strip() or None)
    return f"已转办至{target.transferred_to}。" + _told(target, help_requests.transfer_notice(target, target.transferred_to))


def _assign(target: HelpRequest, form) -> str:
    staff, volunteer = _chosen_assignee(target, form.get("assignee", ""))
    help_requests.assign(db(), target, now(), actor=actor(), staff=staff, volunteer=volunteer,
                         note=form.get("note", "").strip() or None)
    who = f"工作人员{staff.name}" if staff else f"志愿者{volunteer.name}（{volunteer.number}）"
    return f"已指派给{who}。" + _told(target, help_requests.assign_notice(target))


def _note(target: HelpRequest, form) -> str:
    help_requests.add_note(db(), target, form.get("note", ""), now(), actor=actor())
    return "备注已保存，求助人看不到备注。"


def _resolve(target: HelpRequest, form) -> str:
    help_requests.resolve(db(), target, form.get("resolution", ""), now(), actor=actor())
    return "已办结。" + _told(target, help_requests.resolve_notice(target, target.resolution))


def _reject(target: HelpRequest, form) -> str:
    help_requests.reject(db(), target, form.get("reason", ""), now(), actor=actor())
    return "已不予受理。" + _told(target, help_requests.reject_notice(target, target.reject_reason))


def _follow_up(target: HelpRequest, form) -> str:
    score = form.get("score", "")
    help_requests.follow_up(db(), target, parse_id(score) or 0, form.get("note", ""), now(),
                            actor=actor())
    return f"回访已记录：{help_requests.SATISFACTION[target.rating]}。"


def _reopen(target: HelpRequest, form) -> str:
    help_requests.reopen(db(), target, now(), actor=actor(), note=form.get("note", "").strip() or None)
    return "已重新办理。" + _told(target, help_requests.reopen_notice(target))


ACTIONS: dict[str, Callable[[HelpRequest, dict], str]] = {
    "accept": _accept, "transfer": _transfer, "assign": _assign, "note": _note,
    "resolve": _resolve, "reject": _reject, "follow_up": _follow_up, "reopen": _reopen,
}


def _chosen_assignee(target: HelpRequest, value: str):
    """("staff:3" | "volunteer:7") → (staff, volunteer); anything else is refused like an empty choice."""
    kind, _, raw = value.partition(":")
    if kind == "staff" and parse_id(raw) is not None:
        staff = _active_staff(raw)
        if staff is not None and request_queries.staff_may_take(staff, target):
            return staff, None
    if kind == "volunteer" and parse_id(raw) is not None:
        volunteer = db().get(Volunteer, parse_id(raw))
        if volunteer is not None:
            return None, volunteer
    raise TransitionError("请选择一位工作人员或一名志愿者。")


@blueprint.route("/requests/<int:request_id>/<action>", methods=["POST"])
@require("request.act")
def request_action(request_id: int, action: str):
    run = ACTIONS.get(action)
    if run is None:
        abort(404)
    target = _load(request_id, for_update=True)
    if _changed_since_shown(target):
        return _render_detail(target, failed=action, code=409, conflict=(
            "这件求助在您打开页面之后有了新的办理记录（见下方办理记录，可能是同事刚处理过，或这次是重复提交），"
            "这次没有执行，求助人也没有收到重复的通知。请核对后，如仍需要再提交一次。"))
    allowed_before = action in request_queries.available_actions(target)
    try:
        message = run(target, request.form)
    except TransitionError as error:
        db().rollback()
        if not allowed_before:  # the request moved on (a double click, a colleague): say so, change nothing
            flash(str(error), "error")
            return redirect(url_for("console.request_detail", request_id=request_id))
        return _render_detail(_load(request_id), failed=action, error=str(error), code=400)
    record(f"request.{action}", subject=SUBJECT, subject_id=target.id, detail=_action_detail(action, target))
    commit(message)
    return redirect(url_for("console.request_detail", request_id=request_id))


def _changed_since_shown(target: HelpRequest) -> bool:
    """The form carries the newest timeline entry its page showed; anything newer means someone acted since."""
    seen = request.form.get("seen")
    if seen is None:  # a form from before this check (or a script): the workflow's own checks still apply
        return False
    return (parse_id(seen) or 0) != request_queries.latest_event_id(db(), target)


def _action_detail(action: str, target: HelpRequest) -> str | None:
    if action != "assign":
        return None
    if target.assignee_staff_id:
        return f"staff:{target.assignee_staff_id}"
    return f"volunteer:{target.assignee_volunteer_id}"
