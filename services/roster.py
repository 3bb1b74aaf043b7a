"""The 优抚对象 roster: the list with its filters, a household with its members, edits with
history (every changed field through services.roster_history), the 户主 and relations, and
the end of an entitlement (merging duplicates: services.roster_merge). The console, the import
and the CLI call these; the caller commits and audits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, contains_eager, selectinload

from handlers.display import mask_id, mask_mobile
from handlers.flows.beneficiary import CATEGORIES
from models import utcnow
from models.beneficiary import (
    RELATIONS_TO_HEAD, Beneficiary, BeneficiaryStatus, EndReason, Household, RegistrationStatus,
)
from models.roster import RosterChange
from models.staff_account import StaffAccount
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitPlan, VisitStatus
from services import roster_history
from services.registration_queries import BENEFICIARY, exact_match
from services.roster_forms import (
    BEREAVED, PERSON_FLAGS, TEXT_MAX, FormErrors, parse_date, parse_household, parse_person, parse_status,
)

CATEGORY_LABELS = {o.value: o.label for o in CATEGORIES} | {"RED": "红军失散人员"}
FLAGS = PERSON_FLAGS | {"conscript_family": "义务兵家庭"}
ENDED_FILTERS = {"": "在册", "ended": "已终止", "all": "全部"}
PER_PAGE = 50

FIELD_LABELS = {
    "name": "姓名", "mobile": "手机号", "id_number": "身份证号", "card_number": "优待证号",
    "key_care": "重点优抚对象", "lonely_elderly": "孤老", "hardship": "生活困难",
    "relation_to_head": "与户主关系", "ended_on": "终止日期", "end_reason": "终止原因", "status": "登记状态",
    "household_id": "所属户", "town": "乡镇/街道", "village": "村/社区", "address": "常住地址",
    "hukou_address": "户籍地址", "head_id": "户主", "conscript_family": "义务兵家庭", "honor_plaque_on": "光荣牌悬挂日期",
    "category": "类别", "start_date": "起始日期", "end_date": "终止日期", "evidence_ref": "证明材料",
    "disability_grade": "残疾等级", "disability_cause": "致残原因", "deceased_name": "烈士/牺牲/病故军人姓名",
    "deceased_relation": "与本人关系", "deceased_on": "牺牲/病故日期", "merged": "合并", "added": "新增类别",
    "registered_by": "登记微信",
}
MASKED_FIELDS = {"mobile", "id_number", "card_number", "registered_by"}


class RosterError(ValueError):
    """A refused roster operation; the message is for staff (Chinese)."""


# --- the list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterFilter:
    category: str = ""
    flag: str = ""
    town: str = ""
    village: str = ""
    status: str = ""  # a RegistrationStatus value, or empty for any
    ended: str = ""  # "" = still on the roster, "ended", "all"
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "RosterFilter":
        def pick(name: str, allowed) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""

        return cls(
            category=pick("category", CATEGORY_LABELS), flag=pick("flag", FLAGS),
            town=(args.get("town") or "").strip()[:40], village=(args.get("village") or "").strip()[:40],
            status=pick("status", {s.value for s in RegistrationStatus}), ended=pick("ended", ENDED_FILTERS),
            q=(args.get("q") or "").strip()[:40],
        )


def _filtered(flt: RosterFilter, scope: Sequence[Any]):
    query = select(Beneficiary).join(Beneficiary.household)
    conditions = list(scope)
    if flt.category:
        conditions.append(Beneficiary.statuses.any(BeneficiaryStatus.category == flt.category))
    if flt.flag == "conscript_family":
        conditions.append(Household.conscript_family.is_(True))
    elif flt.flag:
        conditions.append(getattr(Beneficiary, flt.flag).is_(True))
    if flt.town:
        conditions.append(Household.town == flt.town)
    if flt.village:
        conditions.append(Household.village == flt.village)
    if flt.status:
        conditions.append(Beneficiary.status == flt.status)
    else:  # 已删除 (erased on request) people are not roster entries
        conditions.append(Beneficiary.status != RegistrationStatus.ERASED)
    if flt.ended == "":
        conditions.append(Beneficiary.ended_on.is_(None))
    elif flt.ended == "ended":
        conditions.append(Beneficiary.ended_on.is_not(None))
    conditions.append(exact_match(BENEFICIARY, flt.q))
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    return query


def find(session: Session, flt: RosterFilter, *, scope: Sequence[Any] = (), page: int = 1,
         per_page: int = PER_PAGE) -> tuple[list[Beneficiary], int]:
    """One page of people (with household and statuses) by 乡镇, 村, household, and the total."""
    query = _filtered(flt, scope)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    query = (query.order_by(Household.town, Household.village, Household.id, Beneficiary.id)
             .offset((page - 1) * per_page).limit(per_page)
             .options(contains_eager(Beneficiary.household), selectinload(Beneficiary.statuses)))
    return list(session.scalars(query)), total


def household(session: Session, household_id: int) -> Household | None:
    return session.scalars(
        select(Household).where(Household.id == household_id)
        .options(selectinload(Household.members).selectinload(Beneficiary.statuses))
    ).first()


def person(session: Session, person_id: int) -> Beneficiary | None:
    return session.scalars(
        select(Beneficiary).where(Beneficiary.id == person_id)
        .options(selectinload(Beneficiary.household), selectinload(Beneficiary.statuses))
    ).first()


def by_number(session: Session, number: str) -> Beneficiary | None:
    number = (number or "").strip().upper()
    return session.scalars(select(Beneficiary).where(Beneficiary.number == number)).first() if number else None


def status(session: Session, status_id: int) -> BeneficiaryStatus | None:
    return session.get(BeneficiaryStatus, status_id)


def members_in_order(home: Household) -> list[Beneficiary]:
    """The 户主 first, then the others as registered."""
    return sorted(home.members, key=lambda m: (m.id != home.head_id, m.id))


def categories_text(person_: Beneficiary) -> str:
    return "、".join(CATEGORY_LABELS.get(str(s.category), str(s.category)) for s in person_.statuses)


def flags_of(person_: Beneficiary) -> list[str]:
    found = [label for name, label in PERSON_FLAGS.items() if getattr(person_, name)]
    if person_.household is not None and person_.household.conscript_family:
        found.append(FLAGS["conscript_family"])
    return found


# --- history ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    who: str
    what: str  # whose record: 户 / a member's number / a status
    field: str
    old: str
    new: str
    reason: str | None


def household_history(session: Session, home: Household, limit: int = 200) -> list[HistoryRow]:
    """The household's edits and its members' and their statuses', newest first."""
    members = {m.id: m for m in home.members}
    statuses = {s.id: m for m in home.members for s in m.statuses}
    subjects = [(RosterChange.subject == "household") & (RosterChange.subject_id == home.id)]
    if members:
        subjects.append((RosterChange.subject == "beneficiary") & RosterChange.subject_id.in_(members))
    if statuses:
        subjects.append((RosterChange.subject == "beneficiary_status") & RosterChange.subject_id.in_(statuses))
    rows = session.scalars(select(RosterChange).where(or_(*subjects))
                           .order_by(RosterChange.at.desc(), RosterChange.id.desc()).limit(limit))
    rows = list(rows)
    names = _staff_names(session, {c.actor.removeprefix("staff:") for c in rows if c.actor.startswith("staff:")})
    result = []
    for change in rows:
        if change.subject == "household":
            what = "户信息"
        elif change.subject == "beneficiary":
            what = members[change.subject_id].number
        else:
            what = f"{statuses[change.subject_id].number} 的类别"
        result.append(HistoryRow(change.at, _who(change.actor, names), what, FIELD_LABELS.get(change.field, change.field),
                                 _shown(change.field, change.old_value), _shown(change.field, change.new_value),
                                 change.reason))
    return result


def _staff_names(session: Session, usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    accounts = session.scalars(select(StaffAccount).where(StaffAccount.username.in_(usernames)))
    return {a.username: a.name for a in accounts}


def _who(actor: str, names: dict[str, str]) -> str:
    kind, _, name = actor.partition(":")
    if kind == "staff":
        return names.get(name, name)
    return {"import": f"Excel导入（第{name}批）", "system": "系统"}.get(kind, actor)


def _shown(field_name: str, value: str | None) -> str:
    """History shows phones, ID and card numbers masked, like every list."""
    if not value:
        return "（空）"
    if field_name == "mobile":
        return mask_mobile(value)
    if field_name in MASKED_FIELDS:
        return mask_id(value)
    if field_name == "category":
        return CATEGORY_LABELS.get(value, value)
    return value


# --- edits --------------------------------------------------------------------------------


def edit_person(session: Session, person_: Beneficiary, form: Mapping[str, str], *, actor: str, today: date,
                reason: str | None = None) -> list[str]:
    """Save a person's form; raises FormErrors (nothing changed). Returns the changed fields."""
    changes = parse_person(form, today)
    changed = roster_history.apply(session, person_, changes, actor=actor, reason=reason)
    if changed:
        person_.updated_at = utcnow()
    return changed


def edit_household(session: Session, home: Household, form: Mapping[str, str], towns, *, actor: str,
                   today: date, reason: str | None = None) -> list[str]:
    changes = parse_household(form, towns, home, today)
    return roster_history.apply(session, home, changes, actor=actor, reason=reason)


def edit_status(session: Session, row: BeneficiaryStatus, form: Mapping[str, str], *, actor: str, today: date,
                reason: str | None = None) -> list[str]:
    changes = parse_status(form, today)
    if changes["deceased_name"] is None and row.deceased_name and changes["category"] in BEREAVED \
            and not (form.get("deceased_name") or "").strip():
        changes.pop("deceased_name")  # the form never shows the stored name in full: blank keeps it
    return roster_history.apply(session, row, changes, actor=actor, reason=reason)


def add_status(session: Session, person_: Beneficiary, form: Mapping[str, str], *, actor: str, today: date,
               reason: str | None = None) -> BeneficiaryStatus:
    changes = parse_status(form, today)
    if any(s.category == changes["category"] and s.end_date is None for s in person_.statuses):
        raise FormErrors({"category": "此人已有这个类别（未终止），请直接修改那一条。"})
    row = BeneficiaryStatus(beneficiary_id=person_.id, **changes)
    session.add(row)
    session.flush()
    session.refresh(person_, ["statuses"])
    session.add(RosterChange(subject="beneficiary", subject_id=person_.id, field="added", old_value=None,
                             new_value=CATEGORY_LABELS.get(str(row.category), str(row.category)), actor=actor,
                             reason=reason, at=utcnow()))
    return row


def set_relations(session: Session, home: Household, head_id: int | None, relations: Mapping[int, str], *,
                  actor: str, reason: str | None = None) -> list[str]:
    """Choose the 户主 and say how each other member is related to them ("this person is the
    head's …"); raises FormErrors for a head outside the household or an unknown relation."""
    members = {m.id: m for m in home.members}
    if head_id not in members:
        raise FormErrors({"head": "请选择户主（须是本户成员）。"})
    errors = {}
    for member_id, relation in relations.items():
        if member_id in members and member_id != head_id and relation and relation not in RELATIONS_TO_HEAD[1:]:
            errors[f"relation_{member_id}"] = "请选择与户主的关系。"
    if errors:
        raise FormErrors(errors)
    changed = roster_history.apply(session, home, {"head_id": head_id}, actor=actor, reason=reason)
    for member in members.values():
        relation = "户主" if member.id == head_id else (relations.get(member.id) or None)
        changed += roster_history.apply(session, member, {"relation_to_head": relation}, actor=actor, reason=reason)
    return changed


# --- end of entitlement -------------------------------------------------------------------


def end_entitlement(session: Session, person_: Beneficiary, on: date | str | None, reason: str | None, *,
                    actor: str, note: str | None = None, today: date | None = None) -> int:
    """The person leaves the roster (kept on record): every open status ends on that day, and the
    household leaves the visits still to come when nobody else in it stays entitled. Returns how
    many planned visits were cancelled. `on` may be the form's text (2026-12-20)."""
    errors: dict[str, str] = {}
    if isinstance(on, str):
        on = parse_date({"on": on}, "on", errors, today)
    try:
        end_reason = EndReason(reason or "")
    except ValueError:
        end_reason = None
        errors["reason"] = "请选择终止原因。"
    if on is None and "on" not in errors:
        errors["on"] = "请填写终止日期。"
    if errors:
        raise FormErrors(errors)
    if person_.ended_on is not None:
        raise RosterError(f"{person_.number} 的优抚资格已于{person_.ended_on.isoformat()}终止。")
    text = note.strip()[:TEXT_MAX] if note and note.strip() else None
    roster_history.apply(session, person_, {"ended_on": on, "end_reason": end_reason}, actor=actor, reason=text)
    for row in person_.statuses:
        if row.end_date is None or row.end_date > on:
            roster_history.apply(session, row, {"end_date": on}, actor=actor, reason=text)
    person_.updated_at = utcnow()
    return _leave_plans(session, person_, on, actor)


def restore_entitlement(session: Session, person_: Beneficiary, *, actor: str, note: str | None = None) -> None:
    """Undo an end recorded by mistake: the person is on the roster again and the statuses that
    ended with it are open again; the next refresh of a running plan brings the household back."""
    if person_.ended_on is None:
        raise RosterError(f"{person_.number} 仍在册，不用恢复。")
    on, text = person_.ended_on, (note.strip()[:TEXT_MAX] if note and note.strip() else None)
    roster_history.apply(session, person_, {"ended_on": None, "end_reason": None}, actor=actor, reason=text)
    for row in person_.statuses:
        if row.end_date == on:
            roster_history.apply(session, row, {"end_date": None}, actor=actor, reason=text)
    person_.updated_at = utcnow()


def _leave_plans(session: Session, person_: Beneficiary, on: date, actor: str) -> int:
    still = session.scalar(select(func.count(Beneficiary.id)).where(
        Beneficiary.household_id == person_.household_id, Beneficiary.id != person_.id,
        Beneficiary.ended_on.is_(None), Beneficiary.status == RegistrationStatus.VERIFIED))
    if still:
        return 0
    rows = session.execute(
        select(PlannedVisit.id, PlannedVisit.status).join(VisitPlan, VisitPlan.id == PlannedVisit.plan_id)
        .where(PlannedVisit.household_id == person_.household_id, PlannedVisit.status == VisitStatus.PLANNED,
               VisitPlan.window_end >= on)
    ).all()
    for visit_id, before in rows:
        session.execute(update(PlannedVisit).where(PlannedVisit.id == visit_id).values(status=VisitStatus.CANCELLED))
        session.add(StatusEvent(subject="planned_visit", subject_id=visit_id, from_status=str(before),
                                to_status=VisitStatus.CANCELLED.value, actor=actor, note="优抚资格终止", at=utcnow()))
    return len(rows)


def counts_by_category(session: Session, scope: Sequence[Any] = ()) -> dict[str, int]:
    """People still on the roster per category (for the list's header)."""
    query = (select(BeneficiaryStatus.category, func.count(func.distinct(Beneficiary.id)))
             .join(Beneficiary, Beneficiary.id == BeneficiaryStatus.beneficiary_id)
             .join(Household, Household.id == Beneficiary.household_id)
             .where(Beneficiary.ended_on.is_(None), Beneficiary.status != RegistrationStatus.ERASED)
             .group_by(BeneficiaryStatus.category))
    for condition in scope:
        if condition is not None:
            query = query.where(condition)
    return {str(category): n for category, n in session.execute(query)}

