"""The area table (县/区 → 乡镇/街道 → 村/社区): seeded once from deploy/areas.toml, then edited
in the console. The chat forms, the console filters and the visit teams read it.

Households, volunteers, requests, staff accounts and visit teams keep area *names*, so a
rename carries over to all of them in the same transaction.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from handlers import site
from handlers.site import Town
from models.beneficiary import Household
from models.help_request import HelpRequest
from models.roster import Area, AreaLevel
from models.staff_account import StaffAccount
from models.visits import VisitTeam
from models.volunteer import Volunteer

DEFAULT_COUNTY = "本县"
NAME_MAX = 20  # shown as a numbered choice on a phone: keep it short
CODE_PATTERN = re.compile(r"\d{6}|\d{9}|\d{12}")  # 统计用区划代码: county, town or village length


class AreaError(ValueError):
    """A refused area edit; the message is for staff (Chinese)."""


# --- reading ------------------------------------------------------------------------------


def is_seeded(session: Session) -> bool:
    return session.scalar(select(func.count(Area.id))) > 0


_TOWNS_AND_VILLAGES = (
    select(Area.id, Area.parent_id, Area.level, Area.name, Area.active)
    .where(or_(Area.level == AreaLevel.TOWN, Area.level == AreaLevel.VILLAGE))
    .order_by(Area.position, Area.id)
)


def towns(session: Session, settings) -> tuple[Town, ...]:
    """The active towns with their active villages, in the table's order: what the chat forms
    and the console offer. Before the table is seeded (a fresh test database), areas.toml."""
    # Plain rows from one statement built once, not entities: the chat forms ask on every
    # town and village step (issue 16: the ORM load was a sixth of such a turn).
    rows = session.execute(_TOWNS_AND_VILLAGES).all()
    if not rows and not is_seeded(session):
        return site.towns(settings)
    town_rows, villages = [], {}
    for area in rows:
        if area.level == AreaLevel.TOWN:
            town_rows.append(area)
        elif area.active:
            villages.setdefault(area.parent_id, []).append(area.name)
    return tuple(Town(t.name, tuple(villages[t.id])) for t in town_rows if t.active and villages.get(t.id))


def town_names(session: Session, settings) -> list[str]:
    return [t.name for t in towns(session, settings)]


def villages_of(session: Session, settings, town: str) -> tuple[str, ...]:
    found = next((t for t in towns(session, settings) if t.name == town), None)
    return found.villages if found else ()


@dataclass(frozen=True)
class Node:
    area: Area
    children: tuple["Node", ...]


def tree(session: Session) -> list[Node]:
    """Every area (active or not) as a tree, counties at the top."""
    rows = list(session.scalars(select(Area).order_by(Area.position, Area.id)))
    kids: dict[int | None, list[Area]] = {}
    for area in rows:
        kids.setdefault(area.parent_id, []).append(area)

    def build(area: Area) -> Node:
        return Node(area, tuple(build(child) for child in kids.get(area.id, ())))

    return [build(root) for root in kids.get(None, ())]


def get(session: Session, area_id: int) -> Area | None:
    return session.get(Area, area_id)


def town_of(session: Session, area: Area) -> str | None:
    """The town an area belongs to (itself for a town); None for a county."""
    if area.level == AreaLevel.TOWN:
        return area.name
    if area.level == AreaLevel.VILLAGE:
        return session.get(Area, area.parent_id).name
    return None


def town_area(session: Session, name: str) -> Area | None:
    return session.scalars(select(Area).where(Area.level == AreaLevel.TOWN, Area.name == name)).first()


# --- seeding ------------------------------------------------------------------------------


def seed_from_toml(session: Session, settings) -> int:
    """Fill the empty table from areas.toml (an optional top-level `county = "…"` names the
    root); returns how many areas were made (0: the table already had rows)."""
    if is_seeded(session):
        return 0
    county = Area(level=AreaLevel.COUNTY, name=_county_name(settings), position=0, active=True)
    session.add(county)
    session.flush()
    made = 1
    for t_pos, town in enumerate(site.towns(settings)):
        town_row = Area(parent_id=county.id, level=AreaLevel.TOWN, name=town.name, position=t_pos, active=True)
        session.add(town_row)
        session.flush()
        session.add_all(Area(parent_id=town_row.id, level=AreaLevel.VILLAGE, name=v, position=v_pos, active=True)
                        for v_pos, v in enumerate(town.villages))
        made += 1 + len(town.villages)
    session.flush()
    return made


def _county_name(settings) -> str:
    try:
        with (site.site_dir(settings) / "areas.toml").open("rb") as handle:
            name = tomllib.load(handle).get("county")
    except (OSError, tomllib.TOMLDecodeError):
        name = None
    return name.strip()[:NAME_MAX] if isinstance(name, str) and name.strip() else DEFAULT_COUNTY


def ensure_seeded(session: Session, settings) -> bool:
    return seed_from_toml(session, settings) > 0


# --- editing ------------------------------------------------------------------------------


def clean_name(text: str | None) -> str:
    name = re.sub(r"\s+", "", text or "")
    if not name:
        raise AreaError("请填写名称。")
    if len(name) > NAME_MAX:
        raise AreaError(f"名称最多{NAME_MAX}个字。")
    if any(ch in name for ch in ",，、"):
        raise AreaError("名称里不能有逗号或顿号。")
    return name


def clean_code(text: str | None) -> str | None:
    code = re.sub(r"\s", "", text or "")
    if not code:
        return None
    if not CODE_PATTERN.fullmatch(code):
        raise AreaError("区划代码应为6位、9位或12位数字，不清楚可以不填。")
    return code


def _sibling_named(session: Session, parent_id: int | None, name: str, other_than: int | None = None) -> bool:
    query = select(Area.id).where(Area.parent_id == parent_id, Area.name == name)
    if other_than is not None:
        query = query.where(Area.id != other_than)
    return session.scalar(query) is not None


def add(session: Session, parent: Area, name: str, code: str | None = None) -> Area:
    """A new town under a county, or a new village under a town, at the end of the list."""
    level = {AreaLevel.COUNTY: AreaLevel.TOWN, AreaLevel.TOWN: AreaLevel.VILLAGE}.get(parent.level)
    if level is None:
        raise AreaError("村/社区下面不能再添加。")
    name, code = clean_name(name), clean_code(code)
    if _sibling_named(session, parent.id, name):
        raise AreaError(f"“{name}”已经有了。")
    if level == AreaLevel.TOWN and town_area(session, name) is not None:
        raise AreaError(f"已经有叫“{name}”的乡镇/街道。")
    position = (session.scalar(select(func.max(Area.position)).where(Area.parent_id == parent.id)) or 0) + 1
    area = Area(parent_id=parent.id, level=level, name=name, code=code, position=position, active=True)
    session.add(area)
    session.flush()
    return area


def rename(session: Session, area: Area, new_name: str, code: str | None = None) -> dict[str, int]:
    """Rename an area and everything that names it; returns how many records changed, by kind."""
    name, code = clean_name(new_name), clean_code(code)
    area.code = code
    if name == area.name:
        return {}
    if _sibling_named(session, area.parent_id, name, other_than=area.id) or (
            area.level == AreaLevel.TOWN and town_area(session, name) not in (None, area)):
        raise AreaError(f"已经有叫“{name}”的地区。")
    old = area.name
    if area.level == AreaLevel.TOWN:
        counts = _rename_town(session, old, name)
    elif area.level == AreaLevel.VILLAGE:
        counts = _rename_village(session, session.get(Area, area.parent_id).name, old, name)
    else:
        counts = {}
    area.name = name
    session.flush()
    return counts


def _count(session: Session, statement) -> int:
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def _rename_town(session: Session, old: str, new: str) -> dict[str, int]:
    return {
        "household": _count(session, update(Household).where(Household.town == old).values(town=new)),
        "volunteer": _count(session, update(Volunteer).where(Volunteer.town == old).values(town=new)),
        "help_request": _count(session, update(HelpRequest).where(HelpRequest.town == old).values(town=new)),
        "staff_account": _count(session, update(StaffAccount).where(StaffAccount.town == old).values(town=new)),
        "visit_team": _count(session, update(VisitTeam).where(VisitTeam.town == old).values(town=new)),
    } | _expired(session)


def _rename_village(session: Session, town: str, old: str, new: str) -> dict[str, int]:
    counts = {
        "household": _count(session, update(Household).where(Household.town == town, Household.village == old)
                            .values(village=new)),
        "volunteer": _count(session, update(Volunteer).where(Volunteer.town == town, Volunteer.village == old)
                            .values(village=new)),
    }
    teams = 0
    for team in session.scalars(select(VisitTeam).where(VisitTeam.town == town)):
        listed = split_villages(team.villages)
        if old in listed:
            team.villages = "、".join(new if v == old else v for v in listed)
            teams += 1
    counts["visit_team"] = teams
    session.flush()
    return counts | _expired(session)


def _expired(session: Session) -> dict:
    session.expire_all()  # after bulk updates: objects already loaded must not keep the old names
    return {}


def set_active(session: Session, area: Area, active: bool) -> None:
    """停用 keeps the records that name the area; it is no longer offered for new ones."""
    if area.level == AreaLevel.COUNTY:
        raise AreaError("县/区不能停用。")
    if not active and area.active:
        siblings = session.scalar(select(func.count(Area.id)).where(
            Area.parent_id == area.parent_id, Area.active.is_(True), Area.id != area.id))
        if not siblings:
            what = "乡镇/街道" if area.level == AreaLevel.TOWN else "村/社区"
            raise AreaError(f"这是最后一个在用的{what}，停用后群众将无法选择地区。请先添加新的再停用。")
    area.active = active


def split_villages(text: str | None) -> list[str]:
    return [v.strip() for v in re.split(r"[,，、]", text or "") if v.strip()]


def summary(counts: dict[str, int]) -> str:
    """For the flash message and the audit detail: "优抚户3户、志愿者1人"."""
    labels = {"household": ("优抚户", "户"), "volunteer": ("志愿者", "人"), "help_request": ("求助", "件"),
              "staff_account": ("账号", "个"), "visit_team": ("走访组", "个")}
    return "、".join(f"{labels[k][0]}{n}{labels[k][1]}" for k, n in counts.items() if n)
