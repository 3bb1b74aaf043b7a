"""登记审核: pending volunteers and 优抚对象, their evidence, duplicates, 通过/核实 or 不通过.

Views parse the form, call one service function (services.volunteers /
services.beneficiaries), write the audit row, commit and redirect to the next
registration waiting in the list, so a stack of sign-ups goes quicker than on paper.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot.console import blueprint, db
from bot.console.access import found, in_scope, require, scope_filter
from bot.console.common import PER_PAGE, Page, actor, commit, now, page_number, record
from bot.runtime import runtime
from handlers.flows.beneficiary import CATEGORIES, REGISTRANT
from handlers.flows.volunteer import AVAILABILITY, SKILLS
from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.volunteer import Volunteer, VolunteerStatus
from services import areas, beneficiaries, registration_queries, status_events, volunteers
from services.registration_queries import BENEFICIARY, KINDS, STATUSES, VOLUNTEER
from services.workflow import TransitionError

SKILL_LABELS = {o.value: o.label for o in SKILLS}
AVAILABILITY_LABELS = {o.value: o.label for o in AVAILABILITY}
RELATION_LABELS = REGISTRANT
CATEGORY_LABELS = {o.value: o.label for o in CATEGORIES} | {"RED": "红军失散人员"}
EVENT_LABELS = {"approve": "通过审核", "verify": "核实", "reject": "不通过"}
REASON_PLACEHOLDER = "（您填写的原因）"
ORDERS = {"oldest": "最早提交在前", "newest": "最新提交在前"}


# --- labels for templates ------------------------------------------------------


def skills_text(codes) -> str:
    return "、".join(SKILL_LABELS.get(c, c) for c in codes or ())


def categories_text(person: Beneficiary) -> str:
    return "、".join(CATEGORY_LABELS.get(str(s.category), str(s.category)) for s in person.statuses)


def _status_label(kind: str, value: str | None) -> str:
    try:
        return STATUSES[kind](value).label
    except ValueError:
        return value or ""


def _event_rows(kind: str, record_id: int) -> list[dict]:
    """The status_event timeline in words: when, who, what, the note."""
    rows = []
    for event in status_events.history(db(), kind, record_id):
        if event.action in EVENT_LABELS:
            what = EVENT_LABELS[event.action]
        elif event.from_status is None:
            what = "提交登记"
        else:
            what = f"{_status_label(kind, event.from_status)} → {_status_label(kind, event.to_status)}"
        who = ("本人" if event.actor == "user" else "系统" if event.actor == "system"
               else event.actor.removeprefix("staff:"))
        rows.append({"at": event.at, "who": who, "what": what, "to": _status_label(kind, event.to_status),
                     "note": event.note})
    return rows


def _scope(kind: str):
    return [scope_filter(Volunteer.town if kind == VOLUNTEER else Household.town)]


def _towns() -> list[str]:
    if current_user.town:
        return [current_user.town]
    return [t.name for t in areas.towns(db(), runtime().settings)]


# --- the list ------------------------------------------------------------------


@blueprint.route("/registrations")
@require("view")
def registrations():
    kind = request.args.get("kind", VOLUNTEER)
    kind = kind if kind in KINDS else VOLUNTEER
    statuses = STATUSES[kind]
    wanted = request.args.get("status", "pending")
    if wanted == "all":
        status = None
    elif wanted in {s.value for s in statuses}:
        status = statuses(wanted)
    else:
        wanted, status = "pending", registration_queries.PENDING[kind]
    town = request.args.get("town") or None
    order = request.args.get("order") if request.args.get("order") in ORDERS else ""
    number = page_number()
    search = (request.args.get("q") or "").strip()[:40]
    items, total = registration_queries.listing(db(), kind, status=status, town=town, scope=_scope(kind),
                                                page=number, per_page=PER_PAGE, search=search,
                                                newest_first={"": None, "oldest": False, "newest": True}[order])
    found = registration_queries.duplicates(
        db(), volunteers=items if kind == VOLUNTEER else (), beneficiaries=items if kind == BENEFICIARY else ())
    return render_template(
        "console/registrations/list.html",
        kind=kind, kinds=KINDS, page=Page(items, total, number),
        status_options=[(s.value, s.label) for s in statuses] + [("all", "全部")], status=wanted,
        town_options=[(t, t) for t in _towns()], town=town or "", search=search, order_options=ORDERS.items(), order=order,
        duplicates=found, skills_text=skills_text, categories_text=categories_text,
        availability=AVAILABILITY_LABELS, relations=RELATION_LABELS, town_arg=town, in_scope=_in_scope,
    )


# --- details -------------------------------------------------------------------


def _volunteer_or_404(record_id: int) -> Volunteer:
    return found(registration_queries.volunteer(db(), record_id))


def _beneficiary_or_404(record_id: int) -> Beneficiary:
    return found(registration_queries.beneficiary(db(), record_id), lambda person: person.household.town)


def _list_town() -> str | None:
    """The list's 乡镇 filter, carried through the detail page so 下一条 stays in it."""
    return request.values.get("town") or None


def _render_volunteer(volunteer: Volunteer, *, status_code: int = 200, reason: str = "",
                      reason_error: str | None = None, revealed: dict | None = None,
                      erase_error: str | None = None):
    found = registration_queries.duplicates(db(), volunteers=[volunteer])
    flow = volunteers.FLOW
    return render_template(
        "console/registrations/volunteer.html",
        v=volunteer, kind=VOLUNTEER, duplicates=found.get((VOLUNTEER, volunteer.id), []),
        events=_event_rows(VOLUNTEER, volunteer.id), skills_text=skills_text(volunteer.skills),
        availability=AVAILABILITY_LABELS.get(volunteer.availability, volunteer.availability),
        can_approve=flow.can(volunteer.status, VolunteerStatus.APPROVED),
        can_reject=flow.can(volunteer.status, VolunteerStatus.REJECTED),
        approve_text=volunteers.approve_notice(volunteer),
        reject_text=volunteers.reject_notice(volunteer, reason.strip() or REASON_PLACEHOLDER),
        reason=reason, reason_error=reason_error, revealed=revealed or {}, in_scope=_in_scope,
        list_town=_list_town(), back=_back_url(VOLUNTEER), erase_error=erase_error,
        export_url=url_for("console.volunteer_personal_export", id=volunteer.id),
        erase_url=url_for("console.volunteer_personal_erase", id=volunteer.id),
    ), status_code


def _render_beneficiary(person: Beneficiary, *, status_code: int = 200, reason: str = "",
                        reason_error: str | None = None, revealed: dict | None = None,
                        erase_error: str | None = None):
    found = registration_queries.duplicates(db(), beneficiaries=[person])
    flow = beneficiaries.FLOW
    return render_template(
        "console/registrations/beneficiary.html",
        b=person, kind=BENEFICIARY, duplicates=found.get((BENEFICIARY, person.id), []),
        events=_event_rows(BENEFICIARY, person.id),
        relation=RELATION_LABELS.get(person.relation, person.relation), category_labels=CATEGORY_LABELS,
        same_registrant=registration_queries.registered_by_same(db(), person),
        can_verify=flow.can(person.status, RegistrationStatus.VERIFIED),
        can_reject=flow.can(person.status, RegistrationStatus.REJECTED),
        verify_text=beneficiaries.verify_notice(person),
        reject_text=beneficiaries.reject_notice(person, reason.strip() or REASON_PLACEHOLDER),
        reason=reason, reason_error=reason_error, revealed=revealed or {}, in_scope=_in_scope,
        list_town=_list_town(), back=_back_url(BENEFICIARY), erase_error=erase_error,
        export_url=url_for("console.beneficiary_personal_export", id=person.id),
        erase_url=url_for("console.beneficiary_personal_erase", id=person.id),
    ), status_code


def _in_scope(town: str | None) -> bool:
    return in_scope(current_user, town)


def _back_url(kind: str) -> str:
    args = {"kind": kind}
    if _list_town():
        args["town"] = _list_town()
    return url_for("console.registrations") + "?" + urlencode(args)


@blueprint.route("/registrations/volunteer/<int:id>")
@require("view")
def volunteer_detail(id: int):
    return _render_volunteer(_volunteer_or_404(id))


@blueprint.route("/registrations/beneficiary/<int:id>")
@require("view")
def beneficiary_detail(id: int):
    return _render_beneficiary(_beneficiary_or_404(id))


# --- 显示完整号码 (audited) ---------------------------------------------------------


@blueprint.route("/registrations/volunteer/<int:id>/reveal", methods=["POST"])
@require("reveal")
def volunteer_reveal(id: int):
    volunteer = _volunteer_or_404(id)
    if request.form.get("what") != "mobile" or not volunteer.mobile:
        abort(400)
    record("reveal", subject=VOLUNTEER, subject_id=volunteer.id, detail="mobile")
    commit()
    return _render_volunteer(volunteer, revealed={"mobile": volunteer.mobile})


@blueprint.route("/registrations/beneficiary/<int:id>/reveal", methods=["POST"])
@require("reveal")
def beneficiary_reveal(id: int):
    person = _beneficiary_or_404(id)
    what = request.form.get("what")
    value = {"mobile": person.mobile, "id_number": person.id_number}.get(what or "")
    if not value:
        abort(400)
    record("reveal", subject=BENEFICIARY, subject_id=person.id, detail=what)
    commit()
    return _render_beneficiary(person, revealed={what: value})


# --- 通过 / 核实 / 不通过 ------------------------------------------------------------


def _to_next(kind: str, done) -> object:
    """After a decision: the next registration waiting in the same list, else the list."""
    town = _list_town()
    following = registration_queries.next_pending(db(), kind, done, town=town, scope=_scope(kind))
    if following is None:
        flash("这一类登记都已审核完。", "info")
        return redirect(_back_url(kind))
    endpoint = "console.volunteer_detail" if kind == VOLUNTEER else "console.beneficiary_detail"
    return redirect(url_for(endpoint, id=following, town=town))


def _refused(error: TransitionError, endpoint: str, **ids):
    """A move the workflow refuses (a second click, a colleague was quicker): say so."""
    flash(str(error), "error")
    return redirect(url_for(endpoint, **ids, town=_list_town()))


def _decide_yes(kind: str, person, decide, detail_endpoint: str, done: str):
    """通过/核实: one service call; a move the workflow refuses is said, not an error."""
    try:
        decide(db(), person, now(), actor=actor())
    except TransitionError as error:
        db().rollback()
        return _refused(error, detail_endpoint, id=person.id)
    record("registration.approve", subject=kind, subject_id=person.id)
    commit(done)
    return _to_next(kind, person)


def _decide_no(kind: str, person, decide, render, reload, done: str):
    """不通过 with a reason the person is told; no reason, too long, or no longer pending: shown, text kept."""
    reason = request.form.get("reason", "")
    try:
        decide(db(), person, reason, now(), actor=actor())
    except TransitionError as error:
        db().rollback()
        return render(reload(person.id), status_code=400, reason=reason, reason_error=str(error))
    record("registration.reject", subject=kind, subject_id=person.id)
    commit(done)
    return _to_next(kind, person)


@blueprint.route("/registrations/volunteer/<int:id>/approve", methods=["POST"])
@require("registration.review")
def volunteer_approve(id: int):
    volunteer = _volunteer_or_404(id)
    return _decide_yes(VOLUNTEER, volunteer, volunteers.approve, "console.volunteer_detail",
                       f"已通过{volunteer.number}，已通知本人。")


@blueprint.route("/registrations/volunteer/<int:id>/reject", methods=["POST"])
@require("registration.review")
def volunteer_reject(id: int):
    volunteer = _volunteer_or_404(id)
    return _decide_no(VOLUNTEER, volunteer, volunteers.reject, _render_volunteer, _volunteer_or_404,
                      f"{volunteer.number} 未通过，已把原因告诉本人。")


@blueprint.route("/registrations/beneficiary/<int:id>/verify", methods=["POST"])
@require("registration.review")
def beneficiary_verify(id: int):
    person = _beneficiary_or_404(id)
    return _decide_yes(BENEFICIARY, person, beneficiaries.verify, "console.beneficiary_detail",
                       f"已核实{person.number}，已通知登记人。")


@blueprint.route("/registrations/beneficiary/<int:id>/reject", methods=["POST"])
@require("registration.review")
def beneficiary_reject(id: int):
    person = _beneficiary_or_404(id)
    return _decide_no(BENEFICIARY, person, beneficiaries.reject, _render_beneficiary, _beneficiary_or_404,
                      f"{person.number} 未能核实，已把原因告诉登记人。")
