"""导出台账: one page listing the exports with their filters, each as Excel or as a print page.

The rows come from services.exports (the CLI writes the same); this module reads the filters,
limits them to the account's 乡镇, masks phones and ID numbers unless the account may reveal
them and asked to, audits each export with its row count, and sends the file or the page.
"""

from __future__ import annotations

from io import BytesIO

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from bot.console import access, blueprint, db
from bot.console.access import require
from bot.console.common import client_ip, commit, me, now, parse_id
from bot.console.export_files import XLSX_MIME, cell_text, county_name, file_name, heading, section_line, workbook
from bot.runtime import runtime
from models.visits import VisitTeam
from services import dashboard_stats, exports
from services.exports import ExportError, Options
from services.local_time import local_date

# What each export is for, in the clerk's words; the filters it takes.
CARDS = (
    ("visit-ledger", "一个走访计划里每户的走访日期、走访人员、慰问金和慰问品，附合计。", ("plan",)),
    ("team-lists", "交给各走访组的名单：按走访顺序，有地址和联系电话，每组一页起，可签名。", ("plan", "team")),
    ("relief-signoff", "按乡镇分页，每人一行，有领取人签名和日期栏，附金额合计。", ("plan",)),
    ("roster", "在册优抚对象：性别、身份证号、类别、地址、电话、标记、户主及关系。", ("ended",)),
    ("conscript-allowance", "义务兵家庭：义务兵、领取人、地址和电话，金额栏留空由工作人员填写。", ("year",)),
)


def _options() -> Options:
    """The filters of the address, within the account's 乡镇; full numbers only for who may reveal them."""
    args = request.args
    year = parse_id(args.get("year"))
    return Options(
        plan_id=parse_id(args.get("plan")),
        year=year if year and 2000 <= year <= 2100 else None,
        team=args.get("team") or None,
        town=current_user.town,
        reveal=args.get("full") == "1" and access.can(current_user, "reveal"),
        include_ended=args.get("ended") == "1",
        today=local_date(now()),
    )


def _slug(slug: str) -> str:
    if slug not in exports.EXPORTS:
        abort(404)
    return slug


@blueprint.route("/exports")
@require("export")
def exports_page():
    session = db()
    query = select(VisitTeam).where(VisitTeam.active.is_(True)).order_by(VisitTeam.town, VisitTeam.name)
    scope = access.scope_filter(VisitTeam.town)
    teams = session.scalars(query if scope is None else query.where(scope)).all()
    return render_template(
        "console/exports/index.html",
        cards=[(slug, exports.EXPORTS[slug].NAME, text, filters) for slug, text, filters in CARDS],
        plans=exports.list_plans(session),
        current_plan=dashboard_stats.next_visit_plan(session, local_date(now())),
        teams=teams,
        year=local_date(now()).year,
        may_reveal=access.can(current_user, "reveal"),
        town=current_user.town,
    )


def _build(slug: str, kind: str):
    """The export, audited; None (with a message) when a filter names nothing."""
    try:
        export = exports.build(db(), slug, _options())
    except ExportError as error:
        flash(str(error), "warning")
        return None
    exports.audit_export(db(), export, at=now(), staff=me(), ip=client_ip(), kind=kind)
    commit()
    return export


@blueprint.route("/exports/<slug>.xlsx")
@require("export")
def export_excel(slug: str):
    export = _build(_slug(slug), "Excel")
    if export is None:
        return redirect(url_for("console.exports_page"))
    made_on = local_date(now())
    content = workbook(export, county_name(db(), runtime().settings), made_on)
    return send_file(BytesIO(content), as_attachment=True, download_name=file_name(export, made_on),
                     mimetype=XLSX_MIME)


@blueprint.route("/exports/<slug>/print")
@require("export")
def export_print(slug: str):
    export = _build(_slug(slug), "打印")
    if export is None:
        return redirect(url_for("console.exports_page"))
    made_on = local_date(now())
    return render_template(
        "console/exports/print.html",
        export=export, title=heading(export, county_name(db(), runtime().settings)),
        sections=[(t, section_line(export, t, made_on)) for t in export.tables],
        cell=cell_text,
    )
