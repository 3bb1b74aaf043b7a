"""区域与走访组: the area tree (县/区 → 乡镇/街道 → 村/社区, optional 区划代码) and the visit
teams (several per town, each serving listed villages or the whole town; volunteers and
staff as members). Everyone may look; only admins change (areas.manage), audited.

A refused edit comes back on the same page with the typed text and the reason beside it.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from bot.console import access, blueprint, db
from bot.console.access import check_scope, require
from bot.console.common import commit, record
from bot.runtime import runtime
from models.roster import AreaLevel
from services import areas as area_service
from services import visit_teams
from services.areas import AreaError
from services.visit_teams import TeamError

SUBJECT_AREA, SUBJECT_TEAM = "area", "visit_team"


def _settings():
    return runtime().settings


def _render(*, error: dict | None = None, code: int = 200):
    """error: {"at": "area:3" | "team:new" | …, "text": reason, "typed": the form}"""
    town = current_user.town
    shown = visit_teams.teams(db(), town)
    towns = area_service.town_names(db(), _settings())
    return render_template(
        "console/areas/index.html", tree=area_service.tree(db()), teams=shown,
        members={t.id: visit_teams.members(db(), t) for t in shown},
        uncovered={t: visit_teams.uncovered_villages(db(), _settings(), t) for t in towns
                   if town is None or t == town},
        towns=[t for t in towns if town is None or t == town], error=error or {}, levels=AreaLevel,
        editable=_editable,
    ), code


def _editable(area) -> bool:
    return access.can(current_user, "areas.manage") and access.in_scope(
        current_user, area_service.town_of(db(), area))


@blueprint.route("/areas")
@require("view")
def areas():
    if area_service.ensure_seeded(db(), _settings()):  # first visit after an upgrade: the table from areas.toml
        commit()
    return _render()


def _area_or_404(area_id: int):
    """A township account manages its own town and villages only; the county and other towns: 404."""
    area = area_service.get(db(), area_id)
    if area is None:
        abort(404)
    check_scope(area_service.town_of(db(), area))
    return area


def _refused(at: str, error: Exception):
    db().rollback()
    return _render(error={"at": at, "text": str(error), "typed": request.form}, code=400)


@blueprint.route("/areas/<int:area_id>/add", methods=["POST"])
@require("areas.manage")
def area_add(area_id: int):
    parent = _area_or_404(area_id)
    try:
        child = area_service.add(db(), parent, request.form.get("name", ""), request.form.get("code"))
    except AreaError as error:
        return _refused(f"add:{area_id}", error)
    record("area.add", subject=SUBJECT_AREA, subject_id=child.id, detail=f"{parent.name}/{child.name}")
    later = "请再给它添加村/社区，之后群众登记时才能选到它。" if child.level == AreaLevel.TOWN else ""
    commit(f"已添加“{child.name}”。{later}")
    return redirect(url_for("console.areas", _anchor=f"a{child.id}"))


@blueprint.route("/areas/<int:area_id>/rename", methods=["POST"])
@require("areas.manage")
def area_rename(area_id: int):
    area = _area_or_404(area_id)
    old = area.name
    try:
        counts = area_service.rename(db(), area, request.form.get("name", ""), request.form.get("code"))
    except AreaError as error:
        return _refused(f"rename:{area_id}", error)
    area = _area_or_404(area_id)
    carried = area_service.summary(counts)
    record("area.rename", subject=SUBJECT_AREA, subject_id=area.id,
           detail=f"{old} → {area.name}" + (f"；{carried}" if carried else ""))
    if area.name == old:
        commit("已保存。")
    else:
        commit(f"已把“{old}”改名为“{area.name}”" + (f"，同时更新了{carried}" if carried else "") + "。")
    return redirect(url_for("console.areas", _anchor=f"a{area.id}"))


@blueprint.route("/areas/<int:area_id>/active", methods=["POST"])
@require("areas.manage")
def area_active(area_id: int):
    area = _area_or_404(area_id)
    active = request.form.get("active") == "1"
    try:
        area_service.set_active(db(), area, active)
    except AreaError as error:
        return _refused(f"rename:{area_id}", error)
    record("area.enable" if active else "area.disable", subject=SUBJECT_AREA, subject_id=area.id, detail=area.name)
    commit(f"已{'启用' if active else '停用'}“{area.name}”。" + ("" if active else "已有的记录不受影响，群众登记时不再显示。"))
    return redirect(url_for("console.areas", _anchor=f"a{area.id}"))


# --- visit teams --------------------------------------------------------------------------


def _team_or_404(team_id: int):
    team = visit_teams.get(db(), team_id)
    if team is None:
        abort(404)
    check_scope(team.town)
    return team


@blueprint.route("/areas/teams/new", methods=["POST"])
@require("areas.manage")
def visit_team_new():
    town = request.form.get("town", "")
    if not access.in_scope(current_user, town):
        abort(404)
    try:
        team = visit_teams.create(db(), _settings(), town, request.form.get("name", ""),
                                  request.form.get("villages", ""))
    except TeamError as error:
        return _refused("team:new", error)
    record("team.create", subject=SUBJECT_TEAM, subject_id=team.id, detail=f"{team.town} {team.name}")
    commit(f"已新建走访组“{team.name}”。")
    return redirect(url_for("console.areas", _anchor=f"t{team.id}"))


@blueprint.route("/areas/teams/<int:team_id>", methods=["POST"])
@require("areas.manage")
def visit_team_update(team_id: int):
    team = _team_or_404(team_id)
    try:
        visit_teams.update(db(), _settings(), team, request.form.get("name", ""), request.form.get("villages", ""),
                           request.form.get("active") == "1")
    except TeamError as error:
        return _refused(f"team:{team_id}", error)
    record("team.update", subject=SUBJECT_TEAM, subject_id=team.id,
           detail=f"{team.name}；{team.villages or '全镇'}；{'在用' if team.active else '停用'}")
    commit(f"走访组“{team.name}”已保存。新的分工从下次生成或刷新走访计划时起生效。")
    return redirect(url_for("console.areas", _anchor=f"t{team.id}"))


@blueprint.route("/areas/teams/<int:team_id>/members", methods=["POST"])
@require("areas.manage")
def visit_team_member_add(team_id: int):
    team = _team_or_404(team_id)
    try:
        member = visit_teams.add_member(db(), team, request.form.get("who", ""))
    except TeamError as error:
        return _refused(f"member:{team_id}", error)
    record("team.member_add", subject=SUBJECT_TEAM, subject_id=team.id, detail=member.number)
    commit(f"已把{member.kind}{member.name}加入“{team.name}”。")
    return redirect(url_for("console.areas", _anchor=f"t{team.id}"))


@blueprint.route("/areas/teams/<int:team_id>/members/<int:member_id>/remove", methods=["POST"])
@require("areas.manage")
def visit_team_member_remove(team_id: int, member_id: int):
    team = _team_or_404(team_id)
    if visit_teams.remove_member(db(), team, member_id):
        record("team.member_remove", subject=SUBJECT_TEAM, subject_id=team.id, detail=str(member_id))
        commit("已移出走访组。")
    else:  # removed already (a double click)
        commit("这位成员已不在本组。")
    return redirect(url_for("console.areas", _anchor=f"t{team.id}"))

