"""志愿者: approved volunteers with their hours, a volunteer's profile (teams, hours per activity,
the 证件号码 for the national record), 志愿服务队 (授旗 date, members) and the export of hours
in the layout of the national volunteer service record.

Approval of new volunteers stays on the 登记审核 pages (bot/console/registrations.py): the
profile links there. Views parse the form, call one service function, audit, commit, redirect.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import func, or_, select

from bot.console import access, blueprint, db
from bot.console.access import check_scope, require
from bot.console.common import PER_PAGE, Page, commit, now, page_number, parse_id, record
from bot.console.excel import append_row
from bot.console.templating import mask_name
from bot.runtime import runtime
from handlers import fields, site
from handlers.display import mask_id
from models.volunteer import Volunteer, VolunteerStatus
from models.volunteer_team import VolunteerTeam, VolunteerTeamMember
from services import service_hours, volunteer_teams
from models.encrypted import blind_indexes
from services.local_time import SHANGHAI, local_date
from services.volunteer_teams import TeamDetails
from services.workflow import TransitionError

SUBJECT = "volunteer"
TEAM_SUBJECT = "volunteer_team"
RECORD_HEADERS = ("姓名", "证件号码", "活动名称", "服务日期", "服务时长(小时)")
RECORD_WIDTHS = (12, 22, 36, 14, 16)


def _year() -> int:
    raw = request.args.get("year", "")
    year = int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 4 else local_date(now()).year
    return year


def _years() -> list[int]:
    this = local_date(now()).year
    return list(range(this, this - 5, -1))


# --- the list ----------------------------------------------------------------------------


@blueprint.route("/volunteers")
@require("view")
def volunteers():
    year, number = _year(), page_number()
    town = request.args.get("town") or ""
    team_id = parse_id(request.args.get("team"))
    search = (request.args.get("q") or "").strip()[:40]
    query = select(Volunteer).where(Volunteer.status == VolunteerStatus.APPROVED)
    if (scope := access.scope_filter(Volunteer.town)) is not None:
        query = query.where(scope)
    if town:
        query = query.where(Volunteer.town == town)
    if team_id:
        query = query.where(Volunteer.id.in_(
            select(VolunteerTeamMember.volunteer_id).where(VolunteerTeamMember.team_id == team_id)))
    if search:
        query = query.where(or_(Volunteer.number == search.upper(),
                                Volunteer.name_bi.in_(blind_indexes(search, "name")),
                                Volunteer.mobile_bi.in_(blind_indexes(search, "phone"))))
    total = db().scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(db().scalars(query.order_by(Volunteer.number).limit(PER_PAGE).offset((number - 1) * PER_PAGE)))
    rows = service_hours.record_rows(db(), year=year, town_scope=access.scope_filter(Volunteer.town))
    return render_template(
        "console/volunteers/list.html", page=Page(items, total, number), year=year, years=_years(),
        town=town, town_options=_town_options(), team=team_id, teams=_teams(), search=search,
        totals=service_hours.totals_by_person(rows), hours_text=service_hours.hours_text,
    )


def _town_options() -> list[tuple[str, str]]:
    if current_user.town:
        return [(current_user.town, current_user.town)]
    return [(t.name, t.name) for t in site.towns(runtime().settings)]


def _teams() -> list[VolunteerTeam]:
    return volunteer_teams.listing(db(), access.scope_filter(VolunteerTeam.town))


# --- a volunteer's profile -------------------------------------------------------------------------


def _volunteer(id: int) -> Volunteer:
    volunteer = db().get(Volunteer, id)
    if volunteer is None:
        abort(404)
    check_scope(volunteer.town)
    return volunteer


def _render_profile(v: Volunteer, *, code: int = 200, id_error: str | None = None, full_id: str | None = None):
    moment = now()
    rows = service_hours.person_rows(db(), v.id)
    year = local_date(moment).year
    this_year = sum(s.service_minutes or 0 for s in rows
                    if service_hours.approved(s) and local_date(s.activity.starts_at).year == year)
    return render_template(
        "console/volunteers/profile.html", v=v, rows=rows, teams=volunteer_teams.teams_of(db(), v.id),
        minutes=lambda s: service_hours.minutes(s, moment), approved=service_hours.approved,
        pending=lambda s: service_hours.pending(s, moment), hours_text=service_hours.hours_text,
        this_year=this_year, year=year, id_error=id_error, full_id=full_id,
        typed_id=request.form.get("id_number", "") if id_error else "",
    ), code


@blueprint.route("/volunteers/<int:id>")
@require("view")
def volunteer_profile(id: int):
    return _render_profile(_volunteer(id))


@blueprint.route("/volunteers/<int:id>/id-number", methods=["POST"])
@require("volunteer.manage")
def volunteer_id_number(id: int):
    v = _volunteer(id)
    typed = (request.form.get("id_number") or "").strip()
    try:
        value = fields.id_number(typed, local_date(now())) if typed else None
    except fields.Invalid as problem:
        return _render_profile(v, code=400, id_error=str(problem).replace("请重新输入：", "").rstrip("，。"))
    if volunteer_teams.set_id_number(v, value):
        record("volunteer.id_number", subject=SUBJECT, subject_id=v.id, detail="id_number")
        commit("证件号码已保存。" if value else "证件号码已清除。")
    else:
        flash("证件号码没有变化。", "info")
    return redirect(url_for("console.volunteer_profile", id=id))


@blueprint.route("/volunteers/<int:id>/reveal", methods=["POST"])
@require("reveal")
def volunteer_reveal_id(id: int):
    v = _volunteer(id)
    if not v.id_number:
        abort(400)
    record("reveal", subject=SUBJECT, subject_id=v.id, detail="id_number")
    commit()
    return _render_profile(v, full_id=v.id_number)


# --- teams ---------------------------------------------------------------------------------------


def _team_form(team: VolunteerTeam | None = None) -> tuple[TeamDetails | None, dict[str, str], dict[str, str]]:
    typed = {k: (request.form.get(k) or "").strip() for k in ("name", "town", "flag_date", "note")}
    errors = {}
    flag = None
    if typed["flag_date"]:
        try:
            flag = date.fromisoformat(typed["flag_date"])
        except ValueError:
            errors["flag_date"] = "授旗日期请选日期，例如2027-05-20。"
    towns = {v for v, _ in _town_options()}
    town = typed["town"] or None
    if current_user.town:
        town = current_user.town
    elif town is not None and town not in towns:
        errors["town"] = "请选择列表中的乡镇。"
    details = TeamDetails(typed["name"], town, flag, typed["note"])
    errors.update(volunteer_teams.check(db(), details, team))
    return (None if errors else details), errors, typed


@blueprint.route("/teams")
@require("view")
def teams():
    return _render_teams()


def _render_teams(*, code: int = 200, errors: dict | None = None, typed: dict | None = None):
    found = _teams()
    year = _year()
    return render_template(
        "console/volunteers/teams.html", teams=found, totals=service_hours.team_totals(db(), found, year),
        year=year, years=_years(), hours_text=service_hours.hours_text, errors=errors or {}, typed=typed or {},
        town_options=_town_options(),
    ), code


@blueprint.route("/teams/new", methods=["POST"])
@require("volunteer.manage")
def team_create():
    details, errors, typed = _team_form()
    if details is None:
        return _render_teams(code=400, errors=errors, typed=typed)
    team = volunteer_teams.create(db(), details, now())
    record("team.create", subject=TEAM_SUBJECT, subject_id=team.id)
    commit(f"已新建“{team.name}”，可以在下方添加队员。")
    return redirect(url_for("console.team_detail", id=team.id))


def _team(id: int) -> VolunteerTeam:
    team = db().get(VolunteerTeam, id)
    if team is None:
        abort(404)
    check_scope(team.town)
    return team


def _render_team(team: VolunteerTeam, *, code: int = 200, errors: dict | None = None, typed: dict | None = None,
                 member_error: str | None = None):
    year = _year()
    rows = service_hours.record_rows(db(), year=year, team_id=team.id)
    return render_template(
        "console/volunteers/team.html", team=team, totals=service_hours.totals_by_person(rows), year=year,
        years=_years(), hours_text=service_hours.hours_text, errors=errors or {},
        typed=typed or {"name": team.name, "town": team.town or "", "note": team.note,
                        "flag_date": team.flag_date.isoformat() if team.flag_date else ""},
        town_options=_town_options(), member_error=member_error,
        team_minutes=sum(r.minutes for r in rows),
    ), code


@blueprint.route("/teams/<int:id>")
@require("view")
def team_detail(id: int):
    return _render_team(_team(id))


@blueprint.route("/teams/<int:id>/edit", methods=["POST"])
@require("volunteer.manage")
def team_update(id: int):
    team = _team(id)
    details, errors, typed = _team_form(team)
    if details is None:
        return _render_team(team, code=400, errors=errors, typed=typed)
    volunteer_teams.update(db(), team, details)
    record("team.update", subject=TEAM_SUBJECT, subject_id=team.id)
    commit("已保存。")
    return redirect(url_for("console.team_detail", id=id))


@blueprint.route("/teams/<int:id>/members", methods=["POST"])
@require("volunteer.manage")
def team_member_add(id: int):
    team = _team(id)
    number = (request.form.get("number") or "").strip()
    volunteer = volunteer_teams.by_number(db(), number) if number else None
    if volunteer is None or not access.in_scope(current_user, volunteer.town):
        return _render_team(team, code=400, member_error="没有找到这个志愿者编号，请核对，例如ZY2026-0042。")
    try:
        added = volunteer_teams.add_member(db(), team, volunteer, local_date(now()))
    except TransitionError as error:
        db().rollback()
        return _render_team(_team(id), code=400, member_error=str(error))
    if not added:
        flash(f"{volunteer.number}已经是队员了。", "info")
        return redirect(url_for("console.team_detail", id=id))
    record("team.member_add", subject=TEAM_SUBJECT, subject_id=team.id, detail=f"volunteer:{volunteer.id}")
    commit(f"已添加队员{mask_name(volunteer.name)}（{volunteer.number}）。")
    return redirect(url_for("console.team_detail", id=id))


@blueprint.route("/teams/<int:id>/members/<int:volunteer_id>/remove", methods=["POST"])
@require("volunteer.manage")
def team_member_remove(id: int, volunteer_id: int):
    team = _team(id)
    if volunteer_teams.remove_member(db(), team, volunteer_id):
        record("team.member_remove", subject=TEAM_SUBJECT, subject_id=team.id, detail=f"volunteer:{volunteer_id}")
        commit("已移出队伍。服务时长记录不受影响。")
    else:
        flash("这位志愿者已经不在队伍里了。", "info")
    return redirect(url_for("console.team_detail", id=id))


# --- the national record ----------------------------------------------------------------------------


@blueprint.route("/hours/export.xlsx")
@require("hours.export")
def hours_export():
    """Approved hours as 全国志愿服务信息系统 takes them: 姓名 证件号码 活动名称 服务日期 服务时长(小时).

    ID numbers in full only for roles that may see them (the rest get 3201**********1234);
    a township account exports its own volunteers only. Every export is in the audit log.
    """
    year = _year()
    team_id = parse_id(request.args.get("team"))
    activity_id = parse_id(request.args.get("activity"))
    if team_id is not None:
        _team(team_id)
    rows = service_hours.record_rows(db(), year=year, team_id=team_id, activity_id=activity_id,
                                     town_scope=access.scope_filter(Volunteer.town))
    full = access.can(current_user, "reveal")
    content = _record_workbook(rows, full)
    missing = sum(1 for r in rows if not r.id_number)
    scope = f"；队伍{team_id}" if team_id else (f"；活动{activity_id}" if activity_id else "")
    record("export", subject="service_hours",
           detail=f"志愿服务时长{year}年{scope}；{len(rows)}行；证件号码{'完整' if full else '已遮蔽'}；缺证件号码{missing}人次")
    commit()
    stamp = now().astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    return send_file(BytesIO(content), as_attachment=True, download_name=f"志愿服务时长-{year}-{stamp}.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _record_workbook(rows: list[service_hours.RecordRow], full_id: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "志愿服务记录"
    sheet.append(RECORD_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r in rows:
        id_text = (r.id_number if full_id else mask_id(r.id_number)) if r.id_number else ""
        append_row(sheet, [r.name, id_text, r.activity, r.day.isoformat(), r.minutes / 60])
        sheet.cell(sheet.max_row, 2).number_format = "@"  # an 18-digit number kept as text, never 3.2E+17
    for index, width in enumerate(RECORD_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    out = BytesIO()
    book.save(out)
    return out.getvalue()
