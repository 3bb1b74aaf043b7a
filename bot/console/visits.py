"""走访慰问: the plans per holiday, progress per team, a team's list in visiting order, recording
a visit (date, visitors, 慰问金 or goods, note, photos, follow-up) and correcting it, a visit's
page with its photos (served here, to signed-in staff only), and 挂点领导 assignments.

Views parse the form, call one service function (services.visit_records), write the audit row,
commit and redirect. A township account sees its own town's households only (404 otherwise);
the 只读 role sees names and addresses masked and no photos.
"""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from bot.console import access, blueprint, csrf, db
from bot.console.access import check_scope, require
from bot.console.common import actor, commit, me, now, parse_id, record
from bot.console.templating import mask_name
from handlers.flows.beneficiary import CATEGORIES
from models.beneficiary import Household
from models.help_request import HelpRequest
from models.visits import PlannedVisit, VisitPhoto, VisitPlan, VisitStatus, VisitTeam
from services import help_requests, status_events, visit_records
from services.local_time import local_date
from services.visit_plans import VisitError
from services.visit_records import InvalidVisit, Photo, VisitDetails

SUBJECT = visit_records.SUBJECT
CATEGORY_LABELS = {o.value: o.label for o in CATEGORIES} | {"RED": "红军失散人员"}
FIELD_LABELS = {"visitors": "走访人员", "money_cents": "慰问金", "goods": "慰问品", "note": "情况说明",
                "visited_at": "走访日期", "photos": "照片数", "leader": "挂点领导"}
NO_TEAM = 0  # the address of households without a team ("未分组")
UPLOAD_LIMIT = visit_records.MAX_PHOTOS * visit_records.MAX_PHOTO_BYTES + 1024 * 1024
LEADER_LIMIT = 500


# --- what a role may see ----------------------------------------------------------------


def _sees_personal() -> bool:
    """Officers and admins print lists for the visitors; the 只读 role sees masked values."""
    return access.can(current_user, "reveal")


def mask_address(value: str | None) -> str:
    """城东路12号 → 城东**: the street without the house."""
    if not value:
        return ""
    keep = min(3, max(1, len(value) // 3))
    return value[:keep] + "*" * min(4, len(value) - keep)


def _shown(name: str | None, address: str | None) -> tuple[str, str]:
    if _sees_personal():
        return name or "", address or ""
    return mask_name(name), mask_address(address)


def _scope_town() -> str | None:
    return current_user.town


# --- loading with the area scope -----------------------------------------------------------


def _plan(plan_id: int) -> VisitPlan:
    plan = db().get(VisitPlan, plan_id)
    if plan is None:
        abort(404)
    return plan


def _team(team_id: int) -> VisitTeam | None:
    if team_id == NO_TEAM:
        return None
    team = db().get(VisitTeam, team_id)
    if team is None:
        abort(404)
    check_scope(team.town)
    return team


def _visit(visit_id: int, *, for_update: bool = False) -> tuple[PlannedVisit, Household]:
    visit = db().get(PlannedVisit, visit_id, with_for_update=for_update or None)
    if visit is None:
        abort(404)
    household = db().get(Household, visit.household_id)
    check_scope(household.town)
    return visit, household


# --- plans and progress ----------------------------------------------------------------------


@blueprint.route("/visits")
@require("view")
def visits():
    session = db()
    years = visit_records.plan_years(session)
    year = parse_id(request.args.get("year"))
    shown = visit_records.plans(session, year if year in years else None)
    rows = [(plan, visit_records.total(visit_records.progress(session, plan.id, _scope_town()))) for plan in shown]
    return render_template("console/visits/plans.html", rows=rows, years=years, year=year,
                           today=local_date(now()))


@blueprint.route("/visits/plans/<int:plan_id>")
@require("view")
def visit_plan(plan_id: int):
    plan = _plan(plan_id)
    teams = visit_records.progress(db(), plan.id, _scope_town())
    return render_template("console/visits/plan.html", plan=plan, teams=teams, overall=visit_records.total(teams),
                           today=local_date(now()), no_team=NO_TEAM)


@blueprint.route("/visits/plans/<int:plan_id>/teams/<int:team_id>")
@require("view")
def visit_team(plan_id: int, team_id: int):
    plan, team = _plan(plan_id), _team(team_id)
    rows = visit_records.team_rows(db(), plan.id, None if team is None else team.id, _scope_town())
    names = visit_records.head_names(db(), [h for _, h in rows])
    shown = [(visit, household, *_shown(names.get(household.id), household.address)) for visit, household in rows]
    return render_template("console/visits/team.html", plan=plan, team=team, team_id=team_id, rows=shown,
                           labels=visit_records.STATUS_LABELS, categories=CATEGORY_LABELS,
                           key_priority=3, yuan=visit_records.yuan)


@blueprint.route("/visits/plans/<int:plan_id>/teams/<int:team_id>/leader", methods=["POST"])
@require("visit.record")
def visit_leader(plan_id: int, team_id: int):
    plan = _plan(plan_id)
    _team(team_id)  # 404 outside the account's area
    back = url_for("console.visit_team", plan_id=plan.id, team_id=team_id)
    ids = [i for i in map(parse_id, request.form.getlist("ids")) if i is not None][:LEADER_LIMIT]
    if not ids:
        flash("请先勾选要安排挂点领导的户。", "warning")
        return redirect(back)
    leader = request.form.get("leader", "")
    try:
        changed = visit_records.assign_leader(db(), plan.id, ids, leader, actor=actor(), now=now(),
                                              town=_scope_town())
    except InvalidVisit as error:
        db().rollback()
        flash(str(error), "error")
        return redirect(back)
    leader = " ".join(leader.split())
    record("visit.leader", subject="visit_plan", subject_id=plan.id,
           detail=f"{leader or '取消挂点领导'}：{len(ids)}户勾选，{changed}户变更")
    commit(f"已为{changed}户安排挂点领导：{leader}。" if leader else f"已取消{changed}户的挂点领导。")
    return redirect(back)


# --- a visit's page --------------------------------------------------------------------------


def _history_rows(visit: PlannedVisit) -> list[dict]:
    rows = []
    for event in status_events.history(db(), SUBJECT, visit.id):
        rows.append({"at": event.at, "who": _who(event.actor), "what": (
            f"{visit_records.STATUS_LABELS.get(event.from_status, '新列入') if event.from_status else '列入名单'} → "
            f"{visit_records.STATUS_LABELS.get(event.to_status, event.to_status)}"), "note": event.note})
    for change in visit_records.history(db(), visit.id):
        rows.append({"at": change.at, "who": _who(change.actor), "note": change.reason,
                     "what": f"{FIELD_LABELS.get(change.field, change.field)}：{_value(change.field, change.old_value)}"
                             f" → {_value(change.field, change.new_value)}"})
    return sorted(rows, key=lambda r: r["at"], reverse=True)


def _who(actor_text: str) -> str:
    if actor_text == "system":
        return "系统"
    return actor_text.removeprefix("staff:").replace("volunteer:", "志愿者 ")


def _value(field_name: str, value: str | None) -> str:
    if value is None:
        return "（空）"
    if field_name == "money_cents":
        return visit_records.yuan(int(value))
    if field_name == "visited_at":  # kept as a UTC instant: shown as the Shanghai day
        return local_date(datetime.fromisoformat(value)).isoformat()
    if not _sees_personal() and field_name == "note":
        return "（已隐藏）"
    return value


@blueprint.route("/visits/<int:visit_id>")
@require("view")
def visit_detail(visit_id: int):
    visit, household = _visit(visit_id)
    names = visit_records.head_names(db(), [household])
    name, address = _shown(names.get(household.id), household.address)
    follow_up = db().get(HelpRequest, visit.follow_up_request_id) if visit.follow_up_request_id else None
    return render_template(
        "console/visits/visit.html", visit=visit, household=household, name=name, address=address,
        plan=db().get(VisitPlan, visit.plan_id), team=db().get(VisitTeam, visit.team_id) if visit.team_id else None,
        labels=visit_records.STATUS_LABELS, categories=CATEGORY_LABELS, yuan=visit_records.yuan,
        follow_up=follow_up, history=_history_rows(visit), sees_personal=_sees_personal(),
        no_team=NO_TEAM,
    )


@blueprint.route("/visits/photos/<int:photo_id>")
@require("visit.photo")
def visit_photo(photo_id: int):
    """A photo, to signed-in staff of the household's area only; never cached (security headers)."""
    photo = db().get(VisitPhoto, photo_id)
    if photo is None:
        abort(404)
    _visit(photo.visit_id)
    return send_file(BytesIO(photo.data), mimetype=photo.content_type, download_name=f"走访照片-{photo.id}"
                     + (".png" if photo.content_type == "image/png" else ".jpg"))


@blueprint.route("/visits/photos/<int:photo_id>/delete", methods=["POST"])
@require("visit.record")
def visit_photo_delete(photo_id: int):
    photo = db().get(VisitPhoto, photo_id)
    if photo is None:
        abort(404)
    visit, _household = _visit(photo.visit_id)
    visit_records.remove_photo(db(), photo, actor=actor(), now=now())
    record("visit.photo_delete", subject=SUBJECT, subject_id=visit.id, detail=f"photo:{photo_id}")
    commit("照片已删除。")
    return redirect(url_for("console.visit_detail", visit_id=visit.id))


# --- recording and correcting --------------------------------------------------------------


def _typed_details(form) -> tuple[VisitDetails | None, dict[str, str]]:
    errors: dict[str, str] = {}
    try:
        visited_on = date.fromisoformat(form.get("visited_on", "").strip())
    except ValueError:
        visited_on = None
        errors["visited_on"] = "请填写走访日期，例如2027-01-20"
    try:
        money = visit_records.parse_yuan(form.get("money", ""))
    except ValueError as error:
        money = None
        errors["money"] = str(error)
    category = form.get("follow_up_category", "")
    details = VisitDetails(
        visited_on=visited_on or date.min, visitors=form.get("visitors", ""), money_cents=money,
        goods=form.get("goods", ""), note=form.get("note", ""), follow_up=form.get("follow_up") == "1",
        follow_up_category=category if category in help_requests.CATEGORIES else None,
    )
    return (None if errors else details), errors


def _typed_photos() -> list[Photo]:
    photos = []
    for upload in request.files.getlist("photos"):
        if upload and upload.filename:
            photos.append(Photo(upload.read(visit_records.MAX_PHOTO_BYTES + 1), upload.filename))
    return photos


def _form_values(visit: PlannedVisit) -> dict[str, str]:
    """What the form shows first: today and the signed-in staff for a new record; the record itself
    for a correction."""
    if visit.status != VisitStatus.DONE:
        return {"visited_on": local_date(now()).isoformat(), "visitors": me().name}
    return {"visited_on": local_date(visit.visited_at).isoformat() if visit.visited_at else "",
            "visitors": visit.visitors or "",
            "money": visit_records.yuan(visit.money_cents).removesuffix("元") if visit.money_cents else "",
            "goods": visit.goods or "", "note": visit.note or "",
            "follow_up": "1" if visit.follow_up_request_id else ""}


def _render_form(visit: PlannedVisit, household: Household, values: dict, errors: dict | None = None,
                 code: int = 200, photos_dropped: bool = False):
    names = visit_records.head_names(db(), [household])
    name, address = _shown(names.get(household.id), household.address)
    return render_template(
        "console/visits/record.html", visit=visit, household=household, name=name, address=address,
        plan=db().get(VisitPlan, visit.plan_id), values=values, errors=errors or {},
        correcting=visit.status == VisitStatus.DONE, photos_dropped=photos_dropped,
        categories=list(help_requests.CATEGORIES.items())[:-1], max_photos=visit_records.MAX_PHOTOS,
        photo_room=visit_records.MAX_PHOTOS - len(visit.photos), today=local_date(now()).isoformat(),
    ), code


@blueprint.route("/visits/<int:visit_id>/record", methods=["GET"])
@require("visit.record")
def visit_record_form(visit_id: int):
    visit, household = _visit(visit_id)
    if visit.status == VisitStatus.CANCELLED:
        flash("这户已不在本次走访名单中，不能登记。", "warning")
        return redirect(url_for("console.visit_detail", visit_id=visit.id))
    return _render_form(visit, household, _form_values(visit))


@blueprint.route("/visits/<int:visit_id>/record", methods=["POST"])
@csrf.exempt  # checked below, once the larger body limit for photos is set
@require("visit.record")
def visit_record(visit_id: int):
    request.max_content_length = UPLOAD_LIMIT  # photos: the app's 1 MB limit is for webhook messages
    try:
        csrf.protect()
        photos = _typed_photos()
    except RequestEntityTooLarge:
        flash(f"照片太大了：一次最多{visit_records.MAX_PHOTOS}张、每张不超过5MB。没有保存，请重新选择照片。", "error")
        return redirect(url_for("console.visit_record_form", visit_id=visit_id))
    visit, household = _visit(visit_id, for_update=True)
    correcting = request.form.get("correct") == "1"
    details, errors = _typed_details(request.form)
    if details is None:
        return _render_form(visit, household, request.form, errors, 400, photos_dropped=bool(photos))
    try:
        if correcting:
            result = visit_records.correct(db(), visit.id, details, actor=actor(), now=now(), photos=photos,
                                           reason=request.form.get("reason", ""))
        else:
            result = visit_records.record(db(), visit.id, details, actor=actor(), now=now(), photos=photos)
    except InvalidVisit as error:
        db().rollback()
        visit, household = _visit(visit_id)
        return _render_form(visit, household, request.form, error.errors, 400, photos_dropped=bool(photos))
    except VisitError as error:
        db().rollback()
        flash(str(error), "error")
        return redirect(url_for("console.visit_detail", visit_id=visit_id))
    return _after_save(visit, household, result, correcting)


def _after_save(visit: PlannedVisit, household: Household, result, correcting: bool):
    back = redirect(url_for("console.visit_detail", visit_id=visit.id))
    if result.already:  # a second click, or a colleague recorded it first
        db().rollback()
        flash("这户已经登记过走访，这次没有重复登记。如需更改，请点“修改记录”。", "warning")
        return back
    if correcting and not result.changed:
        db().rollback()
        flash("没有需要保存的修改。", "info")
        return back
    detail = f"{household.town}{household.village}；" + (
        f"更正：{'、'.join(FIELD_LABELS.get(f, f) for f in result.changed if f != 'follow_up')}" if correcting
        else f"慰问金{visit_records.yuan(visit.money_cents)}")
    record("visit.correct" if correcting else "visit.record", subject=SUBJECT, subject_id=visit.id, detail=detail)
    message = "走访记录已更正。" if correcting else f"已登记走访：{household.village}，慰问金{visit_records.yuan(visit.money_cents)}。"
    if result.request is not None:
        message += f"已转为求助{result.request.number}，在“求助”里跟进。"
    commit(message)
    return back
