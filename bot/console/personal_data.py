"""Staff carrying out a person's request (PIPL Art. 45, 47) from a registration's page:
导出个人信息 (a text copy of everything held, full ID number included) and 删除个人信息
(typed confirmation). Both are written to the audit log; the export is never cached."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for

from bot.console import blueprint, db
from bot.runtime import runtime
from bot.console.access import require
from bot.console.common import commit, now, record
from bot.console.registrations import BENEFICIARY, VOLUNTEER, _beneficiary_or_404, _render_beneficiary, _render_volunteer, _volunteer_or_404
from handlers.display import day
from handlers.flows.profile import export_lines
from models.beneficiary import RegistrationStatus
from services import lawful_basis, personal_data

CONFIRM_WORDS = "确认删除"


def _copy(openid: str | None, number: str, roster: list[str]) -> Response:
    held = personal_data.holdings(db(), openid) if openid else None
    lines = [f"个人信息副本{number}（{day(now())}导出）", ""]
    if held and not held.empty:
        lines += export_lines(held, full_id=True)
    else:  # a roster record entered by staff
        lines += ["（此登记没有关联微信用户，或信息已删除）", "【处理依据】",
                  *lawful_basis.lines([*roster, "casework"], "staff")]
    response = Response("\n".join(lines) + "\n", mimetype="text/plain")
    response.headers["Content-Disposition"] = f"attachment; filename=personal-data-{number}.txt"
    return response


@blueprint.route("/registrations/volunteer/<int:id>/personal-data/export", methods=["POST"])
@require("personal.export")
def volunteer_personal_export(id: int):
    volunteer = _volunteer_or_404(id)
    record("personal.export", subject=VOLUNTEER, subject_id=volunteer.id)
    commit()
    return _copy(volunteer.openid, volunteer.number, ["volunteer"])


@blueprint.route("/registrations/beneficiary/<int:id>/personal-data/export", methods=["POST"])
@require("personal.export")
def beneficiary_personal_export(id: int):
    person = _beneficiary_or_404(id)
    record("personal.export", subject=BENEFICIARY, subject_id=person.id)
    commit()
    return _copy(person.registered_by, person.number, ["beneficiary", "id_number"] if person.id_number else ["beneficiary"])


def _confirmed() -> bool:
    return (request.form.get("confirm") or "").strip() == CONFIRM_WORDS


@blueprint.route("/registrations/volunteer/<int:id>/personal-data/erase", methods=["POST"])
@require("personal.erase")
def volunteer_personal_erase(id: int):
    volunteer = _volunteer_or_404(id)
    if not _confirmed():
        return _render_volunteer(volunteer, status_code=400, erase_error=f"请输入“{CONFIRM_WORDS}”四个字后再删除。")
    if volunteer.openid:
        personal_data.erase(db(), volunteer.openid, now())
        personal_data.forget_cached_replies(runtime().dedupe, volunteer.openid)
    else:
        personal_data.erase_volunteer(db(), volunteer, now())
    record("personal.erase", subject=VOLUNTEER, subject_id=volunteer.id)
    commit(f"已删除志愿者{volunteer.number}的个人信息。")
    return redirect(url_for("console.registrations", kind=VOLUNTEER, status="all"))


@blueprint.route("/registrations/beneficiary/<int:id>/personal-data/erase", methods=["POST"])
@require("personal.erase")
def beneficiary_personal_erase(id: int):
    person = _beneficiary_or_404(id)
    if person.status == RegistrationStatus.ERASED:
        abort(409)
    if not _confirmed():
        return _render_beneficiary(person, status_code=400, erase_error=f"请输入“{CONFIRM_WORDS}”四个字后再删除。")
    linked = person.registered_by is not None
    if linked:
        personal_data.erase(db(), person.registered_by, now())
        personal_data.forget_cached_replies(runtime().dedupe, person.registered_by)
    else:
        personal_data.erase_beneficiary(db(), person, now())
    record("personal.erase", subject=BENEFICIARY, subject_id=person.id)
    commit(f"已删除优抚登记{person.number}的个人信息。")
    if linked:  # the registrant's other registrations and requests went too
        flash("同一微信用户的其他登记和求助也已一并删除。", "success")
    return redirect(url_for("console.registrations", kind=BENEFICIARY, status="all"))
