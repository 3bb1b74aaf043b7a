"""优抚对象: the roster list (filters, exact search, paging), a household's page (members,
statuses, flags, history), edit forms with history, the 户主 and relations, the end of an
entitlement, and merging duplicates (admin).

Views parse the form, call one function of services.roster, audit, commit and redirect;
a refused form comes back filled in with the reason beside the field.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot.console import access, blueprint, db
from bot.console.access import found, require
from bot.console.common import Page, actor, commit, now, page_number, parse_id, query_args, record
from bot.runtime import runtime
from models.beneficiary import RELATIONS_TO_HEAD, Beneficiary, DisabilityCause, EndReason, Household
from services import areas, registration_queries, roster, roster_merge
from services.local_time import SHANGHAI
from services.registration_queries import BENEFICIARY
from services.roster import RosterError, RosterFilter
from services.roster_forms import FormErrors

SUBJECT_PERSON, SUBJECT_HOUSEHOLD = "beneficiary", "household"
REVEALABLE = {"mobile": "手机号", "id_number": "身份证号", "card_number": "优待证号"}


def _today():
    return now().astimezone(SHANGHAI).date()


def _scope():
    return [access.scope_filter(Household.town)]


def _towns():
    offered = areas.towns(db(), runtime().settings)
    if current_user.town:
        return tuple(t for t in offered if t.name == current_user.town)
    return offered


def _reason() -> str | None:
    text = " ".join((request.form.get("reason") or "").split())
    return text[:200] or None


# --- the list -----------------------------------------------------------------------------


@blueprint.route("/roster", endpoint="roster")
@require("view")
def roster_list():
    flt = RosterFilter.from_args(request.args)
    number = page_number()
    items, total = roster.find(db(), flt, scope=_scope(), page=number)
    towns = _towns()
    villages = next((t.villages for t in towns if t.name == flt.town), ())
    return render_template(
        "console/roster/list.html", flt=flt, page=Page(items, total, number), query_args=query_args,
        options={
            "category": list(roster.CATEGORY_LABELS.items()), "flag": list(roster.FLAGS.items()),
            "town": [(t.name, t.name) for t in towns], "village": [(v, v) for v in villages],
            "status": [(s.value, s.label) for s in registration_queries.STATUSES[BENEFICIARY]],
            "ended": list(roster.ENDED_FILTERS.items()),
        },
        counts=roster.counts_by_category(db(), _scope()), categories_text=roster.categories_text,
        flags_of=roster.flags_of,
    )


# --- a household --------------------------------------------------------------------------


def _household_or_404(household_id: int) -> Household:
    return found(roster.household(db(), household_id))


def _person_or_404(person_id: int) -> Beneficiary:
    return found(roster.person(db(), person_id), lambda person: person.household.town)


@blueprint.route("/roster/households/<int:household_id>")
@require("view")
def roster_household(household_id: int):
    return _render_household(_household_or_404(household_id))


@blueprint.route("/roster/people/<int:person_id>")
@require("view")
def roster_person(person_id: int):
    person = _person_or_404(person_id)
    return redirect(url_for("console.roster_household", household_id=person.household_id, _anchor=f"p{person.id}"))


def _render_household(home: Household, *, revealed: dict | None = None, errors: dict | None = None,
                      typed: dict | None = None, code: int = 200):
    members = roster.members_in_order(home)
    found = registration_queries.duplicates(db(), beneficiaries=members)
    duplicates = {m.id: [d for d in found.get((BENEFICIARY, m.id), []) if d.kind == BENEFICIARY]
                  for m in members}
    return render_template(
        "console/roster/household.html", home=home, members=members, duplicates=duplicates,
        history=roster.household_history(db(), home), category_labels=roster.CATEGORY_LABELS,
        flags_of=roster.flags_of, relations=RELATIONS_TO_HEAD[1:], revealed=revealed or {},
        errors=errors or {}, typed=typed or {}, in_scope=lambda town: access.in_scope(current_user, town),
    ), code


@blueprint.route("/roster/people/<int:person_id>/reveal", methods=["POST"])
@require("reveal")
def roster_reveal(person_id: int):
    """A full phone, ID or card number on this response only, audited."""
    person = _person_or_404(person_id)
    what = request.form.get("what") or ""
    if what not in REVEALABLE or not getattr(person, what):
        abort(400)
    record("reveal", subject=SUBJECT_PERSON, subject_id=person.id, detail=what)
    commit()
    return _render_household(person.household, revealed={(person.id, what): getattr(person, what)})


# --- editing a person ---------------------------------------------------------------------


def _person_form(person: Beneficiary) -> dict:
    return {"name": person.name, "mobile": person.mobile or "", "id_number": person.id_number or "",
            "card_number": person.card_number or ""} | {f: "1" if getattr(person, f) else "" for f in roster.PERSON_FLAGS}


@blueprint.route("/roster/people/<int:person_id>/edit", methods=["GET", "POST"])
@require("roster.edit")
def roster_person_edit(person_id: int):
    person = _person_or_404(person_id)
    if request.method == "GET":
        # The form shows the full phone and ID number: opening it counts as seeing them.
        record("reveal", subject=SUBJECT_PERSON, subject_id=person.id, detail="edit form")
        commit()
        return _render_person_form(person, _person_form(person))
    try:
        changed = roster.edit_person(db(), person, request.form, actor=actor(), today=_today(), reason=_reason())
    except FormErrors as error:
        db().rollback()
        return _render_person_form(_person_or_404(person_id), request.form, error.errors, 400)
    return _saved(person.household_id, SUBJECT_PERSON, person.id, changed, f"{person.number} 已保存")


def _render_person_form(person: Beneficiary, values, errors: dict | None = None, code: int = 200):
    return render_template("console/roster/person_form.html", person=person, values=values, errors=errors or {},
                           flags=roster.PERSON_FLAGS), code


def _saved(household_id: int, subject: str, subject_id: int, changed: list[str], done: str):
    """After an edit: audited when something changed; a form with nothing new says so."""
    if changed:
        record("roster.edit", subject=subject, subject_id=subject_id, detail=",".join(changed))
        commit(f"{done}（改了{len(changed)}项）。")
    else:
        db().rollback()
        flash("没有修改任何内容。", "info")
    return redirect(url_for("console.roster_household", household_id=household_id))


# --- editing a household ------------------------------------------------------------------


def _household_values(home: Household) -> dict:
    return {"area": f"{home.town}/{home.village}", "address": home.address or "",
            "hukou_address": home.hukou_address or "", "conscript_family": "1" if home.conscript_family else "",
            "honor_plaque_on": home.honor_plaque_on.isoformat() if home.honor_plaque_on else ""}


def _with_area(form) -> dict:
    values = dict(form.items())
    values["town"], _, values["village"] = (form.get("area") or "").partition("/")
    return values


@blueprint.route("/roster/households/<int:household_id>/edit", methods=["GET", "POST"])
@require("roster.edit")
def roster_household_edit(household_id: int):
    home = _household_or_404(household_id)
    if request.method == "GET":
        return _render_household_form(home, _household_values(home))
    try:
        changed = roster.edit_household(db(), home, _with_area(request.form), _towns(), actor=actor(),
                                        today=_today(), reason=_reason())
    except FormErrors as error:
        db().rollback()
        errors = error.errors | ({"area": error.errors.get("town") or error.errors.get("village")}
                                 if {"town", "village"} & set(error.errors) else {})
        return _render_household_form(_household_or_404(household_id), request.form, errors, 400)
    return _saved(home.id, SUBJECT_HOUSEHOLD, home.id, changed, "户信息已保存")


def _render_household_form(home: Household, values, errors: dict | None = None, code: int = 200):
    towns = list(_towns())
    current = (home.town, home.village)
    retired = not any(t.name == home.town and home.village in t.villages for t in towns)
    return render_template("console/roster/household_form.html", home=home, values=values, errors=errors or {},
                           towns=towns, retired=current if retired else None), code


@blueprint.route("/roster/households/<int:household_id>/relations", methods=["POST"])
@require("roster.edit")
def roster_relations(household_id: int):
    home = _household_or_404(household_id)
    head_id = parse_id(request.form.get("head"))
    relations = {m.id: (request.form.get(f"relation_{m.id}") or "").strip() for m in home.members}
    try:
        changed = roster.set_relations(db(), home, head_id, relations, actor=actor(), reason=_reason())
    except FormErrors as error:
        db().rollback()
        return _render_household(_household_or_404(household_id), errors=error.errors, typed=request.form, code=400)
    return _saved(home.id, SUBJECT_HOUSEHOLD, home.id, changed, "户主和家庭关系已保存")


# --- statuses -----------------------------------------------------------------------------


def _status_values(row) -> dict:
    def text(value):
        return "" if value is None else getattr(value, "isoformat", lambda: str(value))()

    return {"category": str(row.category), "start_date": text(row.start_date), "end_date": text(row.end_date),
            "evidence_ref": row.evidence_ref or "", "disability_grade": text(row.disability_grade),
            "disability_cause": row.disability_cause.value if row.disability_cause else "",
            "deceased_name": "", "deceased_relation": row.deceased_relation or "",
            "deceased_on": text(row.deceased_on)}


def _render_status_form(person: Beneficiary, values, row=None, errors: dict | None = None, code: int = 200):
    return render_template(
        "console/roster/status_form.html", person=person, row=row, values=values, errors=errors or {},
        categories=list(roster.CATEGORY_LABELS.items()), causes=[(c.value, c.label) for c in DisabilityCause],
    ), code


@blueprint.route("/roster/people/<int:person_id>/statuses/new", methods=["GET", "POST"])
@require("roster.edit")
def roster_status_new(person_id: int):
    person = _person_or_404(person_id)
    if request.method == "GET":
        return _render_status_form(person, {})
    try:
        row = roster.add_status(db(), person, request.form, actor=actor(), today=_today(), reason=_reason())
    except FormErrors as error:
        db().rollback()
        return _render_status_form(_person_or_404(person_id), request.form, errors=error.errors, code=400)
    return _saved(person.household_id, SUBJECT_PERSON, person.id, ["statuses"],
                  f"已为{person.number}添加“{roster.CATEGORY_LABELS.get(str(row.category))}”")


@blueprint.route("/roster/statuses/<int:status_id>/edit", methods=["GET", "POST"])
@require("roster.edit")
def roster_status_edit(status_id: int):
    row = roster.status(db(), status_id)
    if row is None:
        abort(404)
    person = _person_or_404(row.beneficiary_id)
    if request.method == "GET":
        return _render_status_form(person, _status_values(row), row)
    try:
        changed = roster.edit_status(db(), row, request.form, actor=actor(), today=_today(), reason=_reason())
    except FormErrors as error:
        db().rollback()
        return _render_status_form(_person_or_404(person.id), request.form, roster.status(db(), status_id),
                                   error.errors, 400)
    return _saved(person.household_id, "beneficiary_status", row.id, changed, "类别信息已保存")


# --- end of entitlement -------------------------------------------------------------------


@blueprint.route("/roster/people/<int:person_id>/end", methods=["GET", "POST"])
@require("roster.edit")
def roster_end(person_id: int):
    person = _person_or_404(person_id)
    if request.method == "GET":
        return _render_end_form(person, {"on": _today().isoformat()})
    try:
        cancelled = roster.end_entitlement(db(), person, request.form.get("on", ""), request.form.get("end_reason"),
                                           actor=actor(), note=request.form.get("note"), today=_today())
    except FormErrors as error:
        db().rollback()
        return _render_end_form(_person_or_404(person_id), request.form, error.errors, 400)
    except RosterError as error:  # already ended (a double submit): say so, change nothing
        db().rollback()
        flash(str(error), "info")
        return redirect(url_for("console.roster_household", household_id=person.household_id))
    record("roster.end", subject=SUBJECT_PERSON, subject_id=person.id, detail=str(person.end_reason))
    left = f"，已从{cancelled}个走访计划中移出" if cancelled else ""
    commit(f"{person.number} 的优抚资格已终止{left}。记录仍保留，可在列表“已终止”中查看。")
    return redirect(url_for("console.roster_household", household_id=person.household_id))


@blueprint.route("/roster/people/<int:person_id>/restore", methods=["POST"])
@require("roster.edit")
def roster_restore(person_id: int):
    person = _person_or_404(person_id)
    try:
        roster.restore_entitlement(db(), person, actor=actor(), note=request.form.get("note"))
    except RosterError as error:  # restored already (a double submit)
        db().rollback()
        flash(str(error), "info")
        return redirect(url_for("console.roster_household", household_id=person.household_id))
    record("roster.restore", subject=SUBJECT_PERSON, subject_id=person.id)
    commit(f"{person.number} 已恢复在册，下次刷新走访计划时会重新列入。")
    return redirect(url_for("console.roster_household", household_id=person.household_id))


def _render_end_form(person: Beneficiary, values, errors: dict | None = None, code: int = 200):
    return render_template("console/roster/end_form.html", person=person, values=values, errors=errors or {},
                           reasons=[(r.value, r.label) for r in EndReason]), code


# --- merging duplicates (admin) -----------------------------------------------------------


def _other_person(number: str) -> Beneficiary | None:
    """The record typed by its number, if this account may see it."""
    other = roster.by_number(db(), number)
    if other is None or not access.in_scope(current_user, other.household.town):
        return None
    return other


def _merge_refused(home: Household, field: str, message: str):
    db().rollback()
    return _render_household(_household_or_404(home.id), errors={field: message}, typed=request.form, code=400)


@blueprint.route("/roster/households/<int:household_id>/merge-person", methods=["POST"])
@require("roster.merge")
def roster_merge_person(household_id: int):
    home = _household_or_404(household_id)
    keep = next((m for m in home.members if m.id == parse_id(request.form.get("keep"))), None)
    other = _other_person(request.form.get("other", ""))
    if keep is None:
        return _merge_refused(home, "merge_person", "请选择要保留的记录。")
    if other is None:
        return _merge_refused(home, "merge_person", "没有找到这个编号的优抚对象，请核对编号。")
    if request.form.get("confirm") != "1":
        return _merge_refused(home, "merge_person", "请勾选“我已核对，这是同一个人”。")
    try:
        result = roster_merge.merge_people(db(), keep, other, actor=actor(), reason=_reason())
    except RosterError as error:
        return _merge_refused(home, "merge_person", str(error))
    record("roster.merge", subject=SUBJECT_PERSON, subject_id=keep.id, detail=f"{result.dropped} → {result.kept}")
    commit(f"已把{result.dropped}并入{result.kept}，类别、走访和修改记录都已保留。")
    return redirect(url_for("console.roster_household", household_id=db().get(Beneficiary, keep.id).household_id))


@blueprint.route("/roster/households/<int:household_id>/merge-household", methods=["POST"])
@require("roster.merge")
def roster_merge_household(household_id: int):
    home = _household_or_404(household_id)
    other = _other_person(request.form.get("other", ""))
    if other is None:
        return _merge_refused(home, "merge_household", "没有找到这个编号的优抚对象，请核对编号。")
    if request.form.get("confirm") != "1":
        return _merge_refused(home, "merge_household", "请勾选“我已核对，这是同一户”。")
    try:
        result = roster_merge.merge_households(db(), home, roster.household(db(), other.household_id),
                                               actor=actor(), reason=_reason())
    except RosterError as error:
        return _merge_refused(home, "merge_household", str(error))
    record("roster.merge", subject=SUBJECT_HOUSEHOLD, subject_id=household_id,
           detail=f"{result.dropped} → {result.kept}")
    commit(f"已把{result.dropped}并入本户：{result.moved.get('members', 0)}人，走访和修改记录都已保留。")
    return redirect(url_for("console.roster_household", household_id=household_id))
