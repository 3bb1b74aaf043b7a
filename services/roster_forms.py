"""The roster's edit forms parsed and checked: a person, a household, a status. A refused
form raises FormErrors (field → plain Chinese) and nothing is changed."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Mapping

from handlers import fields
from models.beneficiary import BeneficiaryCategory, DisabilityCause, Household

BEREAVED = {BeneficiaryCategory.MARTYR_F, BeneficiaryCategory.DUTY_F, BeneficiaryCategory.ILL_F}
PERSON_FLAGS = {"key_care": "重点优抚对象", "lonely_elderly": "孤老", "hardship": "生活困难"}
TEXT_MAX = 200


class FormErrors(ValueError):
    """Field name → what is wrong, in plain Chinese; nothing was changed."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def _console_text(message: str) -> str:
    """The chat validators' messages end by asking to type again; the console shows the field instead."""
    return re.split(r"[。，]?\s*(?:请核对后)?请?重新输入[:：]?", message)[0].rstrip("，。") + "。"


def _optional(form: Mapping[str, str], name: str, check, errors: dict[str, str], *args) -> Any:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        return check(text, *args)
    except fields.Invalid as error:
        errors[name] = _console_text(str(error))
        return None


def _text(form: Mapping[str, str], name: str, errors: dict[str, str], limit: int = TEXT_MAX) -> str | None:
    text = re.sub(r"\s+", " ", form.get(name) or "").strip()
    if len(text) > limit:
        errors[name] = f"最多{limit}个字。"
    return text or None


def parse_date(form: Mapping[str, str], name: str, errors: dict[str, str], today: date | None = None) -> date | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        errors[name] = "日期格式应为2026-01-31。"
        return None
    if value.year < 1900 or (today is not None and value > today.replace(year=today.year + 1)):
        errors[name] = "日期不对，请核对。"
        return None
    return value


def _checked(form: Mapping[str, str], name: str) -> bool:
    return (form.get(name) or "") in ("1", "on", "true", "yes")


def parse_person(form: Mapping[str, str], today: date) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = _optional(form, "name", fields.person_name, errors)
    if name is None and "name" not in errors:
        errors["name"] = "请填写姓名。"
    changes = {
        "name": name,
        "mobile": _optional(form, "mobile", fields.mobile, errors),
        "id_number": _optional(form, "id_number", fields.id_number, errors, today),
        "card_number": _text(form, "card_number", errors, 30),
    } | {flag: _checked(form, flag) for flag in PERSON_FLAGS}
    if errors:
        raise FormErrors(errors)
    return changes


def parse_household(form: Mapping[str, str], towns, current: Household | None, today: date) -> dict[str, Any]:
    """`towns`: the offered areas (services.areas.towns); a household may keep a retired name."""
    errors: dict[str, str] = {}
    town, village = (form.get("town") or "").strip(), (form.get("village") or "").strip()
    kept = current is not None and (town, village) == (current.town, current.village)
    offered = next((t for t in towns if t.name == town), None)
    if not kept:
        if offered is None:
            errors["town"] = "请选择乡镇/街道。"
        elif village not in offered.villages:
            errors["village"] = f"请选择{town}的村/社区。"
    changes = {
        "town": town, "village": village,
        "address": _text(form, "address", errors), "hukou_address": _text(form, "hukou_address", errors),
        "conscript_family": _checked(form, "conscript_family"),
        "honor_plaque_on": parse_date(form, "honor_plaque_on", errors, today),
    }
    if errors:
        raise FormErrors(errors)
    return changes


def parse_status(form: Mapping[str, str], today: date) -> dict[str, Any]:
    errors: dict[str, str] = {}
    try:
        category = BeneficiaryCategory((form.get("category") or "").strip())
    except ValueError:
        category = None
        errors["category"] = "请选择类别。"
    changes: dict[str, Any] = {
        "category": category,
        "start_date": parse_date(form, "start_date", errors, today),
        "end_date": parse_date(form, "end_date", errors, today),
        "evidence_ref": _text(form, "evidence_ref", errors),
        "disability_grade": None, "disability_cause": None,
        "deceased_name": None, "deceased_relation": None, "deceased_on": None,
    }
    if changes["start_date"] and changes["end_date"] and changes["end_date"] < changes["start_date"]:
        errors["end_date"] = "终止日期不能早于起始日期。"
    if category == BeneficiaryCategory.DISABLED:
        changes.update(_disability(form, errors))
    if category in BEREAVED:
        changes.update(deceased_name=_optional(form, "deceased_name", fields.person_name, errors),
                       deceased_relation=_text(form, "deceased_relation", errors, 16),
                       deceased_on=parse_date(form, "deceased_on", errors, today))
    if errors:
        raise FormErrors(errors)
    return changes


def _disability(form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    grade_text = (form.get("disability_grade") or "").strip()
    grade = int(grade_text) if grade_text.isdigit() else None
    if grade_text and (grade is None or not 1 <= grade <= 10):
        errors["disability_grade"] = "残疾等级为1到10级。"
        grade = None
    cause_text = (form.get("disability_cause") or "").strip()
    try:
        cause = DisabilityCause(cause_text) if cause_text else None
    except ValueError:
        errors["disability_cause"] = "请选择致残原因。"
        cause = None
    return {"disability_grade": grade, "disability_cause": cause}
