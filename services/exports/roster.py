"""优抚对象花名册: every verified person on the roster, by town, village and household (户主
first), with gender (from the ID number), categories with their facts, flags, and the 户主
with the person's relation to them. People whose entitlement ended are left out unless asked."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus
from services.exports.common import (
    CATEGORY_LABELS, IN_CHUNK, Export, Options, Table, area_order, gender, heads, id_number, phone,
)

SLUG, NAME = "roster", "优抚对象花名册"
HEADER = ["序号", "姓名", "性别", "身份证号", "类别", "乡镇（街道）", "村（社区）", "常住地址", "联系电话", "标记",
          "户主", "与户主关系"]
WIDTHS = [6, 10, 6, 21, 22, 12, 12, 28, 14, 18, 10, 10]
ENDED_HEADER, ENDED_WIDTHS = ["终止日期", "终止原因"], [12, 10]
CAUSES = {"war": "因战", "duty": "因公", "illness": "因病"}


def build(session: Session, options: Options) -> Export:
    query = (select(Beneficiary.id, Beneficiary.household_id, Beneficiary.name, Beneficiary.id_number,
                    Beneficiary.mobile, Beneficiary.relation_to_head, Beneficiary.key_care, Beneficiary.lonely_elderly,
                    Beneficiary.hardship, Beneficiary.ended_on, Beneficiary.end_reason, Household.town,
                    Household.village, Household.address, Household.conscript_family, Household.honor_plaque_on,
                    Household.head_id)
             .join(Household, Household.id == Beneficiary.household_id)
             .where(Beneficiary.status == RegistrationStatus.VERIFIED)
             .order_by(Beneficiary.household_id, case((Beneficiary.id == Household.head_id, 0), else_=1),
                       Beneficiary.id))
    if options.town is not None:
        query = query.where(Household.town == options.town)
    if not options.include_ended:
        query = query.where(Beneficiary.ended_on.is_(None))
    people = session.execute(query).all()
    area = area_order(session)
    people.sort(key=lambda p: area(p.town, p.village))  # stable: households, 户主 first, stay together
    statuses = _statuses(session, [p.id for p in people])
    head_of = _head_names(session, people)
    header, widths = list(HEADER), list(WIDTHS)
    if options.include_ended:
        header, widths = header + ENDED_HEADER, widths + ENDED_WIDTHS
    table = Table(title=NAME, header=header, widths=widths)
    for n, p in enumerate(people, start=1):
        row = [n, p.name, gender(p.id_number), id_number(p.id_number, options.reveal), statuses.get(p.id, ""),
               p.town, p.village, p.address or "", phone(p.mobile, options.reveal), _flags(p),
               head_of.get(p.household_id, ""), p.relation_to_head or ""]
        if options.include_ended:
            row += [p.ended_on.isoformat() if p.ended_on else "", p.end_reason.label if p.end_reason else ""]
        table.rows.append(row)
    households = len({p.household_id for p in people})
    table.totals = ["合计", f"共{len(people)}人", f"{households}户"] + [""] * (len(header) - 3)
    scope = [options.town or "全县", "含已终止优抚的人员" if options.include_ended else "在册人员"]
    return Export(SLUG, NAME, "　".join(scope), [table], landscape=True, revealed=options.reveal)


def _head_names(session: Session, people: list) -> dict[int, str]:
    """household id → the 户主's name: from the rows themselves, the database only for a head
    not among them (ended, or not verified)."""
    names = {p.id: p.name for p in people}
    found: dict[int, str] = {}
    missing: set[int] = set()
    for p in people:
        if p.household_id in found or p.household_id in missing:
            continue
        if p.head_id is None:
            found[p.household_id] = p.name  # no head recorded: the first member (rows come in id order)
        elif p.head_id in names:
            found[p.household_id] = names[p.head_id]
        else:
            missing.add(p.household_id)
    found.update({h: head.name for h, head in heads(session, missing).items()})
    return found


def _statuses(session: Session, person_ids: list[int]) -> dict[int, str]:
    """person id → 烈士遗属、残疾军人（因战3级）: current statuses, in the order they were recorded."""
    texts: dict[int, list[str]] = defaultdict(list)
    for start in range(0, len(person_ids), IN_CHUNK):
        rows = session.execute(
            select(BeneficiaryStatus.beneficiary_id, BeneficiaryStatus.category, BeneficiaryStatus.disability_grade,
                   BeneficiaryStatus.disability_cause)
            .where(BeneficiaryStatus.beneficiary_id.in_(person_ids[start:start + IN_CHUNK]))
            .order_by(BeneficiaryStatus.beneficiary_id, BeneficiaryStatus.id)
        )
        for person_id, category, grade, cause in rows:
            text = CATEGORY_LABELS.get(str(category), "其他")
            facts = (CAUSES.get(str(cause), "") if cause else "") + (f"{grade}级" if grade else "")
            texts[person_id].append(f"{text}（{facts}）" if facts else text)
    return {person_id: "、".join(parts) for person_id, parts in texts.items()}


def _flags(p) -> str:
    flags = [label for on, label in ((p.key_care, "重点优抚"), (p.lonely_elderly, "孤老"), (p.hardship, "困难"),
                                     (p.conscript_family, "义务兵家庭"), (p.honor_plaque_on, "已挂光荣牌")) if on]
    return "、".join(flags)
