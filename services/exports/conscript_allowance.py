"""义务兵家庭优待金 list: each 义务兵家庭 household once, the soldier and who receives the
优待金 (the 户主, or a family member when the 户主 is the soldier), with the amount left
blank for staff to fill in and a column to sign."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, BeneficiaryCategory, BeneficiaryStatus, Household, RegistrationStatus
from services.exports.common import Export, Options, Table, area_order, id_number, phone

SLUG, NAME = "conscript-allowance", "义务兵家庭优待金发放名单"
HEADER = ["序号", "乡镇（街道）", "村（社区）", "义务兵姓名", "领取人", "与义务兵关系", "领取人身份证号", "联系电话",
          "常住地址", "金额（元）", "领取人签名"]
WIDTHS = [6, 12, 12, 11, 10, 12, 21, 14, 26, 11, 16]
AMOUNT, SIGN = 9, 10


@dataclass
class _Member:
    id: int
    name: str
    id_number: str | None
    mobile: str | None
    relation_to_head: str | None
    soldier: bool = False


def build(session: Session, options: Options) -> Export:
    query = (select(Household.id, Household.town, Household.village, Household.address, Household.head_id)
             .where(Household.conscript_family.is_(True)).order_by(Household.town, Household.village, Household.id))
    if options.town is not None:
        query = query.where(Household.town == options.town)
    households = session.execute(query).all()
    area = area_order(session)
    households.sort(key=lambda h: area(h.town, h.village))
    members = _members(session, [h.id for h in households])
    table = Table(title=NAME, header=HEADER, widths=WIDTHS, sign_columns=frozenset({SIGN}))
    for h in households:
        people = members.get(h.id, [])
        if not people:
            continue  # everyone in it ended or was erased: nobody to pay
        soldier = next((m for m in people if m.soldier), None)
        recipient = _recipient(people, h.head_id, soldier)
        table.rows.append([
            len(table.rows) + 1, h.town, h.village, soldier.name if soldier else "", recipient.name if recipient else "",
            _relation(recipient, soldier), id_number(recipient.id_number if recipient else None, options.reveal),
            phone(_phone(recipient, people), options.reveal), h.address or "", "", "",
        ])
    table.totals = ["合计", f"共{len(table.rows)}户"] + [""] * (len(HEADER) - 2)
    year = options.year or (options.today.year if options.today else None)
    parts = [f"{year}年度" if year else "", options.town or "全县"]
    return Export(SLUG, NAME, "　".join(p for p in parts if p), [table], landscape=True, revealed=options.reveal)


def _members(session: Session, household_ids: list[int]) -> dict[int, list[_Member]]:
    if not household_ids:
        return {}
    soldier_ids = (select(BeneficiaryStatus.beneficiary_id)
                   .where(BeneficiaryStatus.category == BeneficiaryCategory.SOLDIER, BeneficiaryStatus.end_date.is_(None)))
    found: dict[int, list[_Member]] = defaultdict(list)
    for start in range(0, len(household_ids), 900):
        rows = session.execute(
            select(Beneficiary.household_id, Beneficiary.id, Beneficiary.name, Beneficiary.id_number, Beneficiary.mobile,
                   Beneficiary.relation_to_head, Beneficiary.id.in_(soldier_ids))
            .where(Beneficiary.household_id.in_(household_ids[start:start + 900]),
                   Beneficiary.status.in_([RegistrationStatus.VERIFIED, RegistrationStatus.PENDING]),
                   Beneficiary.ended_on.is_(None))
            .order_by(Beneficiary.household_id, Beneficiary.id)
        )
        for household_id, *values in rows:
            found[household_id].append(_Member(*values[:5], soldier=bool(values[5])))
    return found


def _recipient(people: list[_Member], head_id: int | None, soldier: _Member | None) -> _Member | None:
    others = [m for m in people if m is not soldier]
    head = next((m for m in others if m.id == head_id), None)
    return head or (others[0] if others else None)


INVERSE = {"子女": "父母", "父母": "子女", "配偶": "配偶", "孙子女": "祖父母", "祖父母": "孙子女",
           "兄弟姐妹": "兄弟姐妹"}


def _relation(recipient: _Member | None, soldier: _Member | None) -> str:
    """The recipient is the soldier's …, read from both relations to the 户主."""
    if recipient is None or soldier is None:
        return ""
    if recipient.relation_to_head == "户主":  # the soldier is the head's 子女: the head is the soldier's 父母
        return INVERSE.get(soldier.relation_to_head or "", "")
    if soldier.relation_to_head == "户主":
        return recipient.relation_to_head if recipient.relation_to_head in INVERSE else ""
    return ""


def _phone(recipient: _Member | None, people: list[_Member]) -> str | None:
    if recipient is not None and recipient.mobile:
        return recipient.mobile
    return next((m.mobile for m in people if m.mobile), None)
