"""Importing a county's 台账 (Excel) into the roster: a preview of every row first, then one
transaction that writes exactly what the preview promised.

What a row means:
- a person is the same person when the ID number matches (or, without one, the same name
  in the household `services.households` finds); they are updated, never duplicated;
- a blank cell changes nothing (a 残疾军人 台账 does not erase phones kept elsewhere);
- categories in the file are added to the person's statuses, none is taken away
  (a file may be one category's 台账);
- imported people are verified (the 台账 is the office's own record), and so is a pending
  chat registration the 台账 confirms;
- a row with an error is listed with the reason and never written.
Re-importing the same file finds every row unchanged and writes nothing but the batch record.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session, selectinload

from models.beneficiary import (
    Beneficiary, BeneficiaryCategory as C, BeneficiaryStatus, Household, RegistrationStatus,
)
from models.counter import Counter
from models.encrypted import blind_indexes
from models.roster import ImportBatch, ImportMapping, RosterChange
from models.status_event import StatusEvent
from services import areas as area_table, audit, beneficiaries, households, numbers, roster_history
from services.households import Matcher
from services.roster_template import EXAMPLE
from services.local_time import SHANGHAI as LOCAL
from services.roster_sheet import (
    CATEGORY_LABELS, FIELDS, IGNORE, REQUIRED, Layout, SheetRow, find_layout, open_workbook, read_rows,
)

KIND = "roster"
NEW, UPDATE, UNCHANGED, ERROR = "new", "update", "unchanged", "error"
OUTCOME_LABELS = {NEW: "新增", UPDATE: "更新", UNCHANGED: "无变化", ERROR: "有错误"}
PERSON_FIELDS = ("name", "mobile", "id_number", "card_number", "relation_to_head", "key_care", "lonely_elderly",
                 "hardship")
HOUSEHOLD_FIELDS = ("address", "hukou_address", "conscript_family", "honor_plaque_on")
GRADED = (C.DISABLED, C.MILITIA)  # statuses a 残疾等级 belongs to
BEREAVED = (C.MARTYR_F, C.DUTY_F, C.ILL_F, C.MARTYR_CHILD)  # statuses naming the soldier who died
STATUS_DETAIL = {"disability_grade": GRADED, "disability_cause": GRADED, "deceased_name": BEREAVED,
                 "deceased_relation": BEREAVED, "deceased_on": BEREAVED}
LABELS = {f: label for f, (label, _names) in FIELDS.items()} | {"head_id": "户主", "categories": "优抚类别",
                                                                  "status": "核实状态"}
IMPORTED_BY = "grid"  # Beneficiary.relation: entered by staff, not by the person (label 网格员/工作人员代办)
SUBJECT = "beneficiary"


class MappingError(ValueError):
    """The import cannot go ahead as a whole (mapping incomplete, file unreadable); in Chinese."""


# --- mapping ------------------------------------------------------------------------------


def check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """The mapping cleaned, or MappingError saying which column is missing or used twice."""
    cleaned = {h: (f if f in FIELDS else IGNORE) for h, f in mapping.items()}
    used = [f for f in cleaned.values() if f]
    twice = sorted({f for f in used if used.count(f) > 1}, key=list(FIELDS).index)
    if twice:
        raise MappingError("这些内容选了不止一列：" + "、".join(LABELS[f] for f in twice) + "。每项只能对应一列。")
    missing = [LABELS[f] for f in REQUIRED if f not in used]
    if missing:
        raise MappingError("请指出哪一列是：" + "、".join(missing) + "。")
    return cleaned


def saved_mapping(session: Session, layout: Layout) -> dict[str, str] | None:
    row = session.scalar(select(ImportMapping).where(ImportMapping.kind == KIND,
                                                     ImportMapping.header_key == layout.key))
    if row is None:
        return None
    return {h: row.mapping.get(h, IGNORE) for h in layout.headers}


def mapping_for(session: Session, layout: Layout) -> tuple[dict[str, str], bool]:
    """The saved mapping for these headers (True), else the suggestion from the header names."""
    saved = saved_mapping(session, layout)
    return (saved, True) if saved is not None else (layout.suggestion(), False)


def save_mapping(session: Session, layout: Layout, mapping: dict[str, str], *, actor: str) -> None:
    row = session.scalar(select(ImportMapping).where(ImportMapping.kind == KIND,
                                                     ImportMapping.header_key == layout.key))
    if row is None:
        row = ImportMapping(kind=KIND, header_key=layout.key)
        session.add(row)
    row.headers, row.mapping, row.updated_by = list(layout.headers), dict(mapping), actor[:64]


# --- areas ----------------------------------------------------------------------------------


def known_areas(session: Session, settings) -> dict[str, set[str]]:
    """town → its villages, from the area table (deploy/areas.toml before it is seeded)."""
    return {t.name: set(t.villages) for t in area_table.towns(session, settings)}


# --- the preview ----------------------------------------------------------------------------


@dataclass
class RowOutcome:
    row: int  # Excel row number
    kind: str  # NEW, UPDATE, UNCHANGED, ERROR
    name: str
    place: str
    changes: list[str] = field(default_factory=list)  # labels of the fields that change
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.kind]


@dataclass
class _Plan:
    """What confirming does for one good row (kept out of the preview shown to staff)."""

    row: SheetRow
    person_id: int | None
    household: int | str  # an existing household id, or "new:<n>" for one this file creates
    person_changes: dict[str, Any]
    household_changes: dict[str, Any]
    status_changes: list[tuple[C, dict[str, Any]]]  # category → detail changes (new status when absent)
    verify: bool = False


@dataclass
class Preview:
    filename: str
    sha256: str
    layout: Layout
    mapping: dict[str, str]
    outcomes: list[RowOutcome]
    plans: list[_Plan] = field(default_factory=list, repr=False)
    # The people the rows matched, held so the session keeps them loaded until confirming.
    loaded: list[Beneficiary] = field(default_factory=list, repr=False)

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)

    @property
    def counts(self) -> dict[str, int]:
        return {k: self.count(k) for k in OUTCOME_LABELS}

    @property
    def errors(self) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.kind == ERROR]

    def summary(self) -> str:
        c = self.counts
        return (f"共{len(self.outcomes)}行：新增{c[NEW]}人，更新{c[UPDATE]}人，无变化{c[UNCHANGED]}人，"
                f"有错误{c[ERROR]}行")


def _masked(name: str | None) -> str:
    if not name:
        return "（无姓名）"
    return name if len(name) == 1 else name[0] + "*" * max(1, len(name) - 2) + (name[-1] if len(name) > 2 else "")


def read_file(stream: BinaryIO) -> tuple[Any, Layout, str]:
    """(workbook, layout, sha256) of an uploaded file; SheetError when it is no roster."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    stream.seek(0)
    workbook = open_workbook(stream)
    return workbook, find_layout(workbook), digest.hexdigest()


@dataclass
class Parsed:
    """A file read with a mapping, before the roster is consulted."""

    sha256: str
    layout: Layout
    mapping: dict[str, str]
    rows: list[SheetRow]


def parse(stream: BinaryIO, mapping: dict[str, str] | None, session: Session | None = None) -> Parsed:
    """Read every row (the slow part) without touching the database when the mapping is given,
    so a SQLite write lock is not held while a big file is read."""
    workbook, layout, sha = read_file(stream)
    try:
        mapping = check_mapping(mapping if mapping is not None else mapping_for(session, layout)[0])
        rows = list(read_rows(workbook, layout, mapping))
    finally:
        workbook.close()
    return Parsed(sha, layout, mapping, rows)


def preview(session: Session, stream: BinaryIO, filename: str, *, mapping: dict[str, str] | None = None,
            areas: dict[str, set[str]], town: str | None = None) -> Preview:
    """Every row's outcome; writes nothing. `town`: a township account's 乡镇 (others are errors).
    Without `mapping` the saved one (or the suggestion) is used."""
    return preview_parsed(session, parse(stream, mapping, session), filename, areas=areas, town=town)


def preview_parsed(session: Session, parsed: Parsed, filename: str, *, areas: dict[str, set[str]],
                   town: str | None = None) -> Preview:
    result = Preview(filename, parsed.sha256, parsed.layout, parsed.mapping, [])
    rows = parsed.rows
    planner = _Planner(session, areas, town)
    planner.run(rows, result)
    result.loaded = list(planner.people.values())
    return result


class _Planner:
    def __init__(self, session: Session, areas: dict[str, set[str]], town: str | None):
        self.session, self.areas, self.town = session, areas, town
        self.matcher = Matcher.load(session)
        self.new_households = 0
        self.heads: dict[tuple[str, str, str], int | str] = {}  # (town, village, head name) → household
        self.people: dict[int, Beneficiary] = {}
        self.names: dict[tuple[int, str], int] = {}  # (household, name bi) → person, for rows without ID
        # Household facts (address, 光荣牌 …) come from the first row of a household that gives them,
        # so two members' rows that differ do not swap the value on every import.
        self.given: dict[int | str, set[str]] = defaultdict(set)

    def run(self, rows: list[SheetRow], result: Preview) -> None:
        self._duplicates(rows)
        self._load_people(rows)
        for row in rows:
            place = f"{row.values.get('town', '')}{row.values.get('village', '')}"
            outcome = RowOutcome(row.number, ERROR, _masked(row.values.get("name")), place, errors=row.errors)
            if not row.errors:
                self._check(row)
            if not row.errors:
                plan = self._plan(row)
                if not row.errors:
                    result.plans.append(plan)
                    outcome.kind = NEW if plan.person_id is None else UPDATE if _changes(plan) else UNCHANGED
                    outcome.changes = _change_labels(plan) if outcome.kind == UPDATE else []
            result.outcomes.append(outcome)

    # -- checks that need the whole file or the area table

    def _duplicates(self, rows: list[SheetRow]) -> None:
        seen: dict[str, list[SheetRow]] = defaultdict(list)
        for row in rows:
            if row.values.get("id_number"):
                seen[row.values["id_number"]].append(row)
        for same in (s for s in seen.values() if len(s) > 1):
            for row in same:
                others = "、".join(f"第{o.number}行（{o.values.get('town', '')}{o.values.get('village', '')}）"
                                  for o in same if o is not row)
                row.errors.append(f"同一身份证号在表里出现了不止一次，另见{others}；请只保留一行")

    def _check(self, row: SheetRow) -> None:
        v = row.values
        if (v.get("name"), v.get("id_number")) == (EXAMPLE["name"], EXAMPLE["id_number"]):
            row.errors.append("这是模板里虚构的示例行，请删掉或换成真实信息")
            return
        for required in REQUIRED:
            if not v.get(required):
                row.errors.append(f"缺少{LABELS[required]}")
        if row.errors:
            return
        if v["town"] not in self.areas:
            row.errors.append(f"乡镇（街道）“{v['town']}”不在本县的区划里")
        elif v["village"] not in self.areas[v["town"]]:
            row.errors.append(f"{v['town']}没有“{v['village']}”这个村（社区）")
        elif self.town and v["town"] != self.town:
            row.errors.append(f"不属于{self.town}，您的账号只能导入本乡镇（街道）的人")
        categories = v.get("categories") or []
        for detail, allowed in STATUS_DETAIL.items():
            if v.get(detail) is not None and not set(allowed) & set(categories):
                row.errors.append(f"填了{LABELS[detail]}，但优抚类别里没有" + "或".join(CATEGORY_LABELS[c] for c in allowed))

    def _load_people(self, rows: list[SheetRow]) -> None:
        ids = [self.matcher.person(r.values.get("id_number")) for r in rows if r.values.get("id_number")]
        wanted = sorted({found[0] for found in ids if found})
        for start in range(0, len(wanted), 500):
            for person in self.session.scalars(
                select(Beneficiary).where(Beneficiary.id.in_(wanted[start:start + 500]))
                .options(selectinload(Beneficiary.statuses), selectinload(Beneficiary.household))
            ):
                self.people[person.id] = person

    # -- one row

    def _plan(self, row: SheetRow) -> _Plan | None:
        v = row.values
        person = self._existing(row)
        if person is not None:
            return self._plan_update(row, person)
        if row.errors:
            return None
        if not v.get("categories"):
            row.errors.append("缺少优抚类别：新登记的人至少要有一个类别，如“退役军人”")
            return None
        home = self._household_for(v)
        values = self._household_values(v, home)
        if isinstance(home, int):
            values = _diff(self.session.get(Household, home), values)
        plan = _Plan(row, None, home, {f: v[f] for f in PERSON_FIELDS if v.get(f) is not None}, values,
                     [(c, _status_details(v, c)) for c in v.get("categories", [])], verify=True)
        self._remember(v, home)
        return plan

    def _existing(self, row: SheetRow) -> Beneficiary | None:
        v = row.values
        found = self.matcher.person(v.get("id_number"))
        if found is None and not v.get("id_number"):
            home = self.matcher.household(v["town"], v["village"], mobile=v.get("mobile"), address=v.get("address"))
            if isinstance(home, int) and home > 0:
                person_id = self._by_name(home, v["name"])
                found = (person_id, home) if person_id else None
        if found is None:
            return None
        person = self.people.get(found[0]) or self.session.get(Beneficiary, found[0])
        self.people[person.id] = person
        home = person.household
        if person.name != v["name"]:
            row.errors.append(f"这个身份证号在名册上是另一个人（{_masked(person.name)}），请核对")
        elif (home.town, home.village) != (v["town"], v["village"]):
            if self.town and home.town != self.town:
                row.errors.append(f"不属于{self.town}，您的账号只能导入本乡镇（街道）的人")
            else:
                row.errors.append(f"此人在名册上登记在{home.town}{home.village}，和表里不一致；"
                                  "如已搬迁，请在名册里修改")
        elif person.status in (RegistrationStatus.REJECTED, RegistrationStatus.ERASED):
            row.errors.append(f"此人在名册上是“{person.status.label}”，请先在名册里核对")
        return person

    def _by_name(self, household_id: int, name: str) -> int | None:
        if not self.names.get((household_id, "")):
            for pid, bi in self.session.execute(select(Beneficiary.id, Beneficiary.name_bi)
                                                .where(Beneficiary.household_id == household_id)):
                self.names[(household_id, bi or "")] = pid
            self.names[(household_id, "")] = -1
        return next((self.names[(household_id, bi)] for bi in blind_indexes(name, "name")
                     if (household_id, bi) in self.names), None)

    def _plan_update(self, row: SheetRow, person: Beneficiary) -> _Plan | None:
        if row.errors:
            return None
        v = row.values
        person_changes = _diff(person, {f: v[f] for f in PERSON_FIELDS if v.get(f) is not None})
        household_changes = _diff(person.household, self._household_values(v, person.household_id))
        statuses = []
        current = {s.category: s for s in person.statuses if s.end_date is None}
        for category in v.get("categories", []):
            wanted = _status_details(v, category)
            if category not in current:
                statuses.append((category, wanted))
            elif changes := _diff(current[category], wanted):
                statuses.append((category, changes))
        self.matcher.add(person.household_id, v["town"], v["village"], households.address_key(v.get("address")),
                         mobile_bi=_bi(v.get("mobile"), "phone"))
        self._remember_head(v, person.household_id)
        return _Plan(row, person.id, person.household_id, person_changes, household_changes, statuses,
                     verify=person.status == RegistrationStatus.PENDING)

    def _household_values(self, v: dict, home: int | str) -> dict[str, Any]:
        values = {f: v[f] for f in HOUSEHOLD_FIELDS if v.get(f) is not None and f not in self.given[home]}
        self.given[home].update(values)
        return values

    def _household_for(self, v: dict) -> int | str:
        home = self.matcher.household(v["town"], v["village"], id_number=v.get("id_number"), mobile=v.get("mobile"),
                                      address=v.get("address"))
        if home is not None:
            return home if home > 0 else f"new:{-home}"
        # Rows without an address join their 户主's household by name (two 户主 of the same name in
        # one village are told apart by their addresses, so an address never joins by name).
        if v.get("head") and not v.get("address") and (v["town"], v["village"], v["head"]) in self.heads:
            return self.heads[(v["town"], v["village"], v["head"])]
        self.new_households += 1
        return f"new:{self.new_households}"

    def _remember(self, v: dict, home: int | str) -> None:
        key = home if isinstance(home, int) else -int(home.split(":")[1])
        self.matcher.add(key, v["town"], v["village"], households.address_key(v.get("address")),
                         mobile_bi=_bi(v.get("mobile"), "phone"))
        self._remember_head(v, home)

    def _remember_head(self, v: dict, home: int | str) -> None:
        head = v.get("head") or (v["name"] if v.get("relation_to_head") == "户主" else None)
        if head:
            self.heads.setdefault((v["town"], v["village"], head), home)


def _bi(value: str | None, kind: str) -> str | None:
    found = blind_indexes(value, kind) if value else []
    return found[0] if found else None


def _status_details(v: dict, category: C) -> dict[str, Any]:
    return {f: v[f] for f, allowed in STATUS_DETAIL.items() if category in allowed and v.get(f) is not None}


def _same(old: Any, new: Any) -> bool:
    return roster_history._text(old) == roster_history._text(new)


def _diff(record: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    return {f: new for f, new in wanted.items() if not _same(getattr(record, f), new)}


def _changes(plan: _Plan) -> bool:
    return bool(plan.person_changes or plan.household_changes or plan.status_changes or plan.verify)


def _change_labels(plan: _Plan) -> list[str]:
    labels = [LABELS[f] for f in (*plan.person_changes, *plan.household_changes)]
    labels += [f"{CATEGORY_LABELS[c]}：" + "、".join(LABELS[f] for f in d) if d else f"新增{CATEGORY_LABELS[c]}"
               for c, d in plan.status_changes]
    if plan.verify:
        labels.append("核实状态→已核实")
    return labels


# --- confirming -----------------------------------------------------------------------------


def confirm(session: Session, result: Preview, now: datetime, *, actor: str, staff=None, ip: str | None = None,
            username: str | None = None) -> ImportBatch:
    """Write the good rows of a preview made in this same transaction; the caller commits."""
    batch = ImportBatch(kind=KIND, filename=result.filename[:200], sha256=result.sha256,
                        rows_total=len(result.outcomes), created=result.count(NEW), updated=result.count(UPDATE),
                        unchanged=result.count(UNCHANGED), skipped=result.count(ERROR), actor=actor[:64], at=now)
    session.add(batch)
    session.flush()
    _Writer(session, f"import:{batch.id}", now).run(result.plans)
    audit.record(session, staff, "roster.import", subject="import_batch", subject_id=batch.id, ip=ip, at=now,
                 username=username, detail=f"{result.filename[:80]}：{result.summary()}")
    return batch


class _Writer:
    """Updates go through the ORM with history (few); new people, households and statuses go in
    as one multi-row INSERT per table (a 10,000-row file is thousands of new rows)."""

    def __init__(self, session: Session, actor: str, now: datetime):
        self.session, self.actor, self.now = session, actor, now
        self.heads: dict[int | str, int | None] = {}  # household (id or "new:n") → its 户主's person id

    def run(self, plans: list[_Plan]) -> None:
        creating = [p for p in plans if p.person_id is None]
        for plan in plans:
            if plan.person_id is not None:
                self._update(plan)
            elif isinstance(plan.household, int):
                self._existing_household(plan)
        self.session.flush()
        homes = self._insert_households(creating)
        people = self._insert_people(creating, homes)
        self._insert_statuses(creating, people)
        for index, plan in enumerate(creating):
            if _is_head(plan.row.values):
                self.heads.setdefault(plan.household, people[index])
        self._set_heads(homes)

    # -- new rows

    def _insert_households(self, creating: list[_Plan]) -> dict[str, int]:
        rows: dict[str, dict] = {}
        for plan in creating:
            if isinstance(plan.household, int):
                continue
            v = plan.row.values
            row = rows.setdefault(plan.household, {
                "town": v["town"], "village": v["village"], "address": None, "address_bi": None,
                "hukou_address": None, "conscript_family": False, "honor_plaque_on": None,
                "created_at": self.now, "updated_at": self.now})
            for name, value in plan.household_changes.items():
                if row[name] in (None, False):  # the first member's row that gives it wins
                    row[name] = value
        for row in rows.values():
            row["address_bi"] = households.address_key(row["address"])
        ids = self._insert(Household, list(rows.values()))
        return dict(zip(rows, ids))

    def _insert_people(self, creating: list[_Plan], homes: dict[str, int]) -> list[int]:
        numbers_ = self._numbers(len(creating))
        rows = []
        for plan in creating:
            values = {f: plan.person_changes.get(f) for f in PERSON_FIELDS}
            values.update(key_care=bool(values["key_care"]), lonely_elderly=bool(values["lonely_elderly"]),
                          hardship=bool(values["hardship"]))
            home = plan.household if isinstance(plan.household, int) else homes[plan.household]
            rows.append({**values, "number": next(numbers_), "household_id": home, "relation": IMPORTED_BY,
                         "source": "import", "status": RegistrationStatus.VERIFIED, "created_at": self.now,
                         "updated_at": self.now, "name_bi": _bi(values["name"], "name"),
                         "mobile_bi": _bi(values["mobile"], "phone"), "id_number_bi": _bi(values["id_number"], "id"),
                         "registered_by": None})
        ids = self._insert(Beneficiary, rows)
        if ids:
            self.session.execute(insert(StatusEvent.__table__), [
                {"subject": SUBJECT, "subject_id": i, "to_status": str(RegistrationStatus.VERIFIED),
                 "actor": self.actor, "note": "台账导入", "at": self.now} for i in ids])
        return ids

    def _insert_statuses(self, creating: list[_Plan], people: list[int]) -> None:
        rows = [{"beneficiary_id": person, "category": category, **{f: details.get(f) for f in STATUS_DETAIL}}
                for plan, person in zip(creating, people) for category, details in plan.status_changes]
        if rows:
            self.session.execute(insert(BeneficiaryStatus.__table__), rows)

    def _insert(self, model, rows: list[dict]) -> list[int]:
        """One multi-row INSERT with ids taken beforehand (an ordered RETURNING is row by row on
        SQLite, and its results are spliced together in quadratic time)."""
        if not rows:
            return []
        ids = _reserve_ids(self.session, model.__table__, len(rows))
        for row, new_id in zip(rows, ids):
            row["id"] = new_id
        self.session.execute(insert(model.__table__), rows)
        return ids

    def _numbers(self, count: int):
        """A block of YF numbers in two statements, not one per person."""
        if not count:
            return iter(())
        year = self.now.astimezone(LOCAL).year
        series = f"{SUBJECT}:{year}"
        first = numbers.next_value(self.session, series)
        if count > 1:
            self.session.execute(update(Counter).where(Counter.name == series)
                                 .values(value=Counter.value + (count - 1)))
        return (f"YF{year}-{n:04d}" for n in range(first, first + count))

    def _set_heads(self, homes: dict[str, int]) -> None:
        fresh = [{"home": homes[k], "head": p} for k, p in self.heads.items() if isinstance(k, str)]
        if fresh:  # a new household has no history to keep
            self.session.execute(update(Household.__table__).where(Household.__table__.c.id == bindparam("home"))
                                 .values(head_id=bindparam("head")), fresh)
        for key, person in self.heads.items():
            if isinstance(key, int):
                home = self.session.get(Household, key)
                roster_history.apply(self.session, home, {"head_id": person}, actor=self.actor, at=self.now)
        self.session.flush()

    # -- existing rows

    def _existing_household(self, plan: _Plan) -> None:
        home = self.session.get(Household, plan.household)
        roster_history.apply(self.session, home, plan.household_changes, actor=self.actor, at=self.now)

    def _update(self, plan: _Plan) -> None:
        person = self.session.get(Beneficiary, plan.person_id)
        self._existing_household(plan)
        changed = roster_history.apply(self.session, person, plan.person_changes, actor=self.actor, at=self.now)
        current = {s.category: s for s in person.statuses if s.end_date is None}
        for category, details in plan.status_changes:
            if category in current:
                roster_history.apply(self.session, current[category], details, actor=self.actor, at=self.now)
            else:
                person.statuses.append(BeneficiaryStatus(category=category, **details))
                self.session.add(_history(person.id, "categories", None, CATEGORY_LABELS[category], self.actor,
                                          self.now))
        if plan.verify:  # the office's own 台账 confirms a pending chat registration (no message sent)
            beneficiaries.change_status(self.session, person, RegistrationStatus.VERIFIED, self.now, actor=self.actor,
                                        note="台账导入核实")
        if changed or plan.status_changes or plan.verify:
            person.updated_at = self.now
        if _is_head(plan.row.values) and person.household.head_id != person.id:
            self.heads.setdefault(person.household_id, person.id)


def _reserve_ids(session: Session, table, count: int) -> list[int]:
    """`count` new primary keys of `table`: from its sequence on PostgreSQL; on SQLite after the
    highest, which is safe because this transaction already holds the database's write lock
    (the import batch row is written first)."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(text(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)"
        ), {"n": count}))
    highest = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


def _is_head(v: dict) -> bool:
    return v.get("relation_to_head") == "户主" or bool(v.get("head") and v["head"] == v["name"])


def _history(subject_id: int, field_name: str, old: str | None, new: str | None, actor: str, at: datetime):
    return RosterChange(subject=SUBJECT, subject_id=subject_id, field=field_name, old_value=old, new_value=new,
                        actor=actor, at=at)


def batches(session: Session, limit: int = 20) -> list[ImportBatch]:
    return list(session.scalars(select(ImportBatch).where(ImportBatch.kind == KIND)
                                .order_by(ImportBatch.at.desc(), ImportBatch.id.desc()).limit(limit)))
