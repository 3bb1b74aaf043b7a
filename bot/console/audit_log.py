"""操作日志: who did what to which record, when and from where (admin only), with an Excel export."""

from __future__ import annotations

from io import BytesIO

from flask import render_template, request, send_file, url_for
from openpyxl import Workbook
from openpyxl.styles import Font

from bot.console import blueprint, db
from bot.console.access import require
from bot.console.common import Page, commit, now, page_number, parse_id, record
from bot.console.deliveries import day_range, parse_day
from bot.console.excel import append_row
from bot.console.templating import when
from services import audit, staff_accounts
from services.local_time import SHANGHAI

# What an entry is about, in words, and the page of that record (None: no page of its own).
SUBJECTS: dict[str, tuple[str, str | None]] = {
    "help_request": ("求助", "/console/requests/{id}"),
    "volunteer": ("志愿者", "/console/registrations/volunteer/{id}"),
    "beneficiary": ("优抚对象", "/console/registrations/beneficiary/{id}"),
    "staff_account": ("账号", "/console/staff/{id}"),
    "outbox": ("推送消息", "/console/deliveries/{id}"),
    "audit_log": ("操作日志", None),
}
EXPORT_LIMIT = 10_000
EXPORT_HEADERS = ("时间", "账号", "操作", "对象", "对象编号", "说明", "IP")
EXPORT_WIDTHS = (18, 16, 14, 10, 10, 40, 18)


def subject_label(subject: str | None) -> str:
    if not subject:
        return ""
    return SUBJECTS.get(subject, ("其他", None))[0]


def subject_url(subject: str | None, subject_id: int | None) -> str | None:
    if not subject or subject_id is None:
        return None
    pattern = SUBJECTS.get(subject, ("", None))[1]
    return pattern.format(id=subject_id) if pattern else None


def _filters() -> tuple[dict, dict]:
    """The search arguments for services.audit.search, and the values to show in the filter bar."""
    args = request.args
    username = (args.get("account") or "").strip()[:40] or None
    action = args.get("action") if args.get("action") in audit.ACTION_LABELS else None
    subject = args.get("subject") if args.get("subject") in SUBJECTS else None
    subject_id = parse_id(args.get("subject_id", "").strip())
    since, until = parse_day(args.get("since")), parse_day(args.get("until"))
    start, end = day_range(since, until)
    query = {"username": username, "action": action, "subject": subject, "subject_id": subject_id,
             "since": start, "until": end}
    shown = {"account": username or "", "action": action or "", "subject": subject or "",
             "subject_id": str(subject_id) if subject_id is not None else "",
             "since": since.isoformat() if since else "", "until": until.isoformat() if until else ""}
    return query, shown


@blueprint.route("/audit")
@require("audit.view")
def audit_log():
    query, shown = _filters()
    number = page_number()
    entries, total = audit.search(db(), **query, page=number)
    return render_template(
        "console/audit_log.html",
        page=Page(entries, total, number),
        shown=shown,
        accounts=[(a.username, f"{a.name}（{a.username}）" if a.display_name else a.username)
                  for a in staff_accounts.all_accounts(db())],
        actions=list(audit.ACTION_LABELS.items()),
        subjects=[(code, label) for code, (label, _) in SUBJECTS.items()],
        action_label=audit.label,
        subject_label=subject_label,
        subject_url=subject_url,
        export_url=url_for("console.audit_export") + ("?" + request.query_string.decode() if request.query_string else ""),
        export_limit=EXPORT_LIMIT,
    )


@blueprint.route("/audit/export.xlsx")
@require("audit.view")
def audit_export():
    """The filtered log as an Excel file (newest first, at most EXPORT_LIMIT rows); the export is logged too."""
    query, shown = _filters()
    entries, total = audit.search(db(), **query, page=1, per_page=EXPORT_LIMIT)
    book = Workbook()
    sheet = book.active
    sheet.title = "操作日志"
    sheet.append(EXPORT_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEFG", EXPORT_WIDTHS):
        sheet.column_dimensions[column].width = width
    for e in entries:
        append_row(sheet, [when(e.at), e.staff_username, audit.label(e.action), subject_label(e.subject),
                      e.subject_id if e.subject_id is not None else "", e.detail or "", e.ip or ""])
    sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    described = "；".join(f"{k}={v}" for k, v in shown.items() if v) or "全部"
    capped = f"（共{total}条，已达上限）" if total > len(entries) else ""
    record("export", subject="audit_log", detail=f"操作日志：{described}；{len(entries)}行{capped}")
    commit()
    stamp = now().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return send_file(BytesIO(out.getvalue()), as_attachment=True, download_name=f"操作日志-{stamp}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
