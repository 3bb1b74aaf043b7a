"""What every export shares: the table shape both Excel and print read, masking, the plan a
holiday names, households' 户主 and phone, labels.

An export is data, not a file: `Export` holds titled tables of plain values (text, whole
numbers, Decimal yuan); bot/console/export_files.py writes it as Excel or print HTML, so
the console and the CLI give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.visits import VisitCampaign, VisitPlan, VisitTeam

CATEGORY_LABELS = {
    "SOLDIER": "现役军人", "FAMILY": "军人家属", "MARTYR_F": "烈士遗属", "DUTY_F": "因公牺牲军人遗属",
    "ILL_F": "病故军人遗属", "DISABLED": "残疾军人", "DEMOB_OLD": "在乡复员军人", "ILL_RETURN": "带病回乡退伍军人",
    "WAR_TEST": "参战参试退役人员", "RURAL_OLD": "60岁以上农村籍退役士兵", "MARTYR_CHILD": "烈士老年子女",
    "RED": "红军失散人员", "MILITIA": "伤残民兵民工", "VETERAN": "退役军人",
}
VISIT_STATUS_LABELS = {"planned": "待走访", "done": "已走访", "overdue": "逾期未走访", "cancelled": "已取消"}
IN_CHUNK = 900  # ids per IN (...) list: SQLite's old limit is 999 parameters


class ExportError(ValueError):
    """A filter that names nothing (an unknown plan or team); the message is for staff."""


@dataclass(frozen=True)
class Options:
    """The filters of one export. `town` is the account's scope (None: the whole county);
    `reveal` gives full phones and ID numbers (CLI, or a role allowed to reveal who asked)."""

    year: int | None = None
    plan_id: int | None = None  # the console picks a plan from a list
    holiday: str | None = None
    team: str | None = None
    town: str | None = None
    reveal: bool = False
    include_ended: bool = False
    today: date | None = None


@dataclass
class Table:
    """One sheet in Excel, one section (starting on a new page) in print."""

    title: str
    header: list[str]
    widths: list[int]  # Excel column widths, in characters
    rows: list[list[Any]] = field(default_factory=list)
    totals: list[Any] | None = None
    money_columns: frozenset[int] = frozenset()  # Decimal yuan: shown with two decimals
    sign_columns: frozenset[int] = frozenset()  # left blank for a pen: tall rows, wide cells


@dataclass
class Export:
    slug: str
    name: str  # 走访慰问台账
    subtitle: str  # the plan or the filters, in words
    tables: list[Table]
    landscape: bool = True
    revealed: bool = False
    subject_id: int | None = None  # the plan, for the audit log

    @property
    def row_count(self) -> int:
        return sum(len(t.rows) for t in self.tables)


# --- masking ---------------------------------------------------------------------------------


def phone(value: str | None, reveal: bool) -> str:
    """139****5678 unless the reader may see it in full."""
    if not value:
        return ""
    if reveal:
        return value
    return f"{value[:3]}****{value[-4:]}" if len(value) >= 7 else "****"


def id_number(value: str | None, reveal: bool) -> str:
    """3201**********1234 unless the reader may see it in full."""
    if not value:
        return ""
    if reveal:
        return value
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}" if len(value) > 8 else "****"


def gender(id_value: str | None) -> str:
    """From the 17th digit of an 18-digit ID number (odd: 男); unknown otherwise."""
    if id_value and len(id_value) == 18 and id_value[16].isdigit():
        return "男" if int(id_value[16]) % 2 else "女"
    return ""


def yuan(cents: int | None) -> Decimal | None:
    return None if cents is None else (Decimal(cents) / 100).quantize(Decimal("0.01"))


def categories_text(codes: Iterable[str]) -> str:
    return "、".join(CATEGORY_LABELS.get(str(c), "其他") for c in codes)


# --- what a filter names ---------------------------------------------------------------------


def find_plan(session: Session, year: int | None, holiday: str | None, plan_id: int | None = None) -> VisitPlan:
    """The plan of `holiday` (a campaign code such as liangjie, or its Chinese name such as
    元旦春节 or 春节) in `year`; with one plan that year the holiday may be left out."""
    if plan_id is not None:
        plan = session.get(VisitPlan, plan_id)
        if plan is None:
            raise ExportError("没有找到这个走访计划，请重新选择。")
        return plan
    query = select(VisitPlan).order_by(VisitPlan.window_start, VisitPlan.id)
    if year is not None:
        query = query.where(VisitPlan.year == year)
    plans = list(session.scalars(query))
    if holiday:
        holiday = holiday.strip()
        exact = [p for p in plans if _names_plan(session, p, holiday, exact=True)]
        plans = exact or [p for p in plans if _names_plan(session, p, holiday, exact=False)]
    if len(plans) == 1:
        return plans[0]
    when = f"{year}年" if year else ""
    if not plans:
        raise ExportError(f"没有找到{when}{holiday or ''}的走访计划。" + _known_plans(session, year))
    raise ExportError(f"{when}有{len(plans)}个走访计划，请指明节日。" + _known_plans(session, year))


def _names_plan(session: Session, plan: VisitPlan, holiday: str, *, exact: bool) -> bool:
    """exact: the campaign's code or name (liangjie, 元旦春节); else any part of it (春节 names
    the merged yuandan+chunjie plan and 2027年元旦春节走访慰问)."""
    codes = plan.season.split("+")
    names = set(session.scalars(select(VisitCampaign.name).where(VisitCampaign.code.in_(codes))))
    if exact:
        return holiday == plan.season or (len(codes) == 1 and holiday in names)
    return holiday in codes or holiday in plan.name or holiday in names


def _known_plans(session: Session, year: int | None) -> str:
    query = select(VisitPlan.name, VisitPlan.season).order_by(VisitPlan.year.desc(), VisitPlan.window_start)
    if year is not None:
        query = query.where(VisitPlan.year == year)
    found = [f"{name}（{season}）" for name, season in session.execute(query.limit(12))]
    return f"现有：{'；'.join(found)}。" if found else "还没有任何走访计划。"


def list_plans(session: Session, limit: int = 20) -> list[VisitPlan]:
    """Newest first: the choices of the console's plan filter."""
    return list(session.scalars(select(VisitPlan).order_by(VisitPlan.window_start.desc(), VisitPlan.id.desc())
                                .limit(limit)))


def find_team(session: Session, team: str | None, town: str | None) -> VisitTeam | None:
    """A visit team by its number or its name (within the account's town)."""
    if not team:
        return None
    team = team.strip()
    query = select(VisitTeam)
    if team.isascii() and team.isdigit() and len(team) <= 9:
        query = query.where(or_(VisitTeam.id == int(team), VisitTeam.name == team))
    else:
        query = query.where(VisitTeam.name == team)
    if town is not None:
        query = query.where(VisitTeam.town == town)
    found = session.scalars(query.order_by(VisitTeam.id)).first()
    if found is None:
        raise ExportError(f"没有找到走访组“{team}”。")
    return found


# --- households ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    name: str
    mobile: str | None
    id_number: str | None


def heads(session: Session, household_ids: Iterable[int], *, with_phone: bool = False,
          with_id: bool = False) -> dict[int, Head]:
    """household id → its 户主 (or, without one recorded, its first member), and with_phone a
    phone to call: the head's, else the first member's that has one. Personal data is decrypted
    for the chosen people only (decryption is most of an export's time)."""
    ids = sorted(set(household_ids))
    chosen: dict[int, Head] = {}
    for start in range(0, len(ids), IN_CHUNK):
        part = ids[start:start + IN_CHUNK]
        rows = session.execute(
            select(Beneficiary.household_id, Beneficiary.id, Household.head_id, Beneficiary.mobile.is_not(None))
            .join(Household, Household.id == Beneficiary.household_id)
            .where(Beneficiary.household_id.in_(part), Beneficiary.status != RegistrationStatus.ERASED)
            .order_by(Beneficiary.household_id, Beneficiary.id)
        ).all()
        head_of, phone_of = _pick_heads(rows)
        wanted = set(head_of.values()) | (set(phone_of.values()) if with_phone else set())
        columns = [Beneficiary.id, Beneficiary.name, Beneficiary.mobile if with_phone else None,
                   Beneficiary.id_number if with_id else None]
        found = {r[0]: r for r in session.execute(
            select(*[c for c in columns if c is not None]).where(Beneficiary.id.in_(sorted(wanted))))}
        for household_id, person_id in head_of.items():
            head = found[person_id]
            mobile = found[phone_of[household_id]][2] if with_phone and household_id in phone_of else None
            chosen[household_id] = Head(head[1], mobile, head[-1] if with_id else None)
    return chosen


def _pick_heads(rows) -> tuple[dict[int, int], dict[int, int]]:
    """(household → its head's person id, household → the person whose phone to call)."""
    head_of: dict[int, int] = {}
    phones: dict[int, list[int]] = {}
    for household_id, person_id, head_id, has_phone in rows:
        if household_id not in head_of or person_id == head_id:
            head_of[household_id] = person_id
        if has_phone:
            phones.setdefault(household_id, []).append(person_id)
    phone_of = {h: (head_of[h] if head_of[h] in people else people[0]) for h, people in phones.items()}
    return head_of, phone_of


# --- area order ------------------------------------------------------------------------------


def area_order(session: Session):
    """A sort key (town, village) → the order of the area table (as staff arranged 乡镇 and 村,
    like deploy/areas.toml), names not in it after, by name."""
    from models.roster import Area, AreaLevel

    rows = session.execute(select(Area.id, Area.parent_id, Area.level, Area.name, Area.position)
                           .order_by(Area.position, Area.id)).all()
    towns = {r.id: (n, r.name) for n, r in enumerate(r for r in rows if r.level == AreaLevel.TOWN)}
    town_rank = {name: n for n, name in towns.values()}
    village_rank: dict[tuple[str, str], int] = {}
    for n, r in enumerate(r for r in rows if r.level == AreaLevel.VILLAGE and r.parent_id in towns):
        village_rank[(towns[r.parent_id][1], r.name)] = n
    far = len(rows) + 1

    def key(town: str, village: str) -> tuple:
        return (town_rank.get(town, far), town, village_rank.get((town, village), far), village)

    return key
