"""Registrations waiting for staff: the lists, the next one to review, and duplicates.

A duplicate is another registration that shares something that should be unique to a
person or a household: the same phone (volunteers and 优抚对象 alike), the same ID
number, or the same household (乡镇 + 村 + address). Personal fields are encrypted,
so all matching goes through the blind index columns. Duplicates for a whole page
are found with one query per kind of match, not one per row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from models.base import LabelledStrEnum
from models.encrypted import blind_indexes
from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.volunteer import Volunteer, VolunteerStatus

VOLUNTEER, BENEFICIARY = "volunteer", "beneficiary"
KINDS = {VOLUNTEER: "志愿者", BENEFICIARY: "优抚对象"}
STATUSES: dict[str, type[LabelledStrEnum]] = {VOLUNTEER: VolunteerStatus, BENEFICIARY: RegistrationStatus}
PENDING = {VOLUNTEER: VolunteerStatus.PENDING, BENEFICIARY: RegistrationStatus.PENDING}

SAME_PHONE, SAME_ID, SAME_HOUSEHOLD = "同一手机号", "同一身份证号", "同一户"


@dataclass(frozen=True)
class Duplicate:
    """Another registration sharing something with the one looked at."""

    why: str  # SAME_PHONE, SAME_ID or SAME_HOUSEHOLD
    kind: str  # VOLUNTEER or BENEFICIARY
    id: int
    number: str
    status: LabelledStrEnum
    town: str | None  # to know whether the viewer may open it

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


def _where(query, conditions: Iterable[Any]):
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    return query


def _volunteers(status: VolunteerStatus | None, town: str | None, scope: Sequence[Any]):
    query = select(Volunteer)
    if status is not None:
        query = query.where(Volunteer.status == status)
    if town:
        query = query.where(Volunteer.town == town)
    return _where(query, scope)


def _beneficiaries(status: RegistrationStatus | None, town: str | None, scope: Sequence[Any]):
    query = select(Beneficiary).join(Beneficiary.household)
    if status is not None:
        query = query.where(Beneficiary.status == status)
    if town:
        query = query.where(Household.town == town)
    return _where(query, scope)


def exact_match(kind: str, text: str | None):
    """A WHERE clause finding a person by the exact name, phone or ID number typed, through the
    blind indexes (under every configured key while a rotation is part-way); None: no search."""
    text = (text or "").strip()
    if not text:
        return None
    model = Volunteer if kind == VOLUNTEER else Beneficiary
    clauses = [model.name_bi.in_(blind_indexes(text, "name"))]
    if any(ch.isdigit() for ch in text):
        clauses.append(model.mobile_bi.in_(blind_indexes(text, "phone")))
        if model is Beneficiary:
            clauses.append(Beneficiary.id_number_bi.in_(blind_indexes(text, "id")))
    return or_(*clauses)


def listing(
    session: Session, kind: str, *, status: LabelledStrEnum | None, town: str | None = None,
    scope: Sequence[Any] = (), page: int = 1, per_page: int = 50, newest_first: bool | None = None,
    search: str | None = None,
) -> tuple[list[Any], int]:
    """One page of registrations and the total. By default pending ones oldest first (they
    wait longest) and any other status most recently changed first; `newest_first` sorts
    by submission instead. `scope` holds extra WHERE clauses (the staff account's area)."""
    if kind == VOLUNTEER:
        query, model = _volunteers(status, town, scope), Volunteer
    else:
        query, model = _beneficiaries(status, town, scope), Beneficiary
    query = _where(query, [exact_match(kind, search)])
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if newest_first is True:
        order = (model.created_at.desc(), model.id.desc())
    elif newest_first is False or status == PENDING[kind]:
        order = (model.created_at, model.id)
    else:
        order = (model.updated_at.desc(), model.id.desc())
    query = query.order_by(*order).offset((page - 1) * per_page).limit(per_page)
    if kind == BENEFICIARY:
        query = query.options(contains_eager(Beneficiary.household), selectinload(Beneficiary.statuses))
    return list(session.scalars(query)), total


def next_pending(session: Session, kind: str, after: Any, *, town: str | None = None,
                 scope: Sequence[Any] = ()) -> int | None:
    """The pending registration after `after` in the list's order (oldest first),
    wrapping round to the oldest; None when nothing is left to review."""
    if kind == VOLUNTEER:
        query, model = _volunteers(VolunteerStatus.PENDING, town, scope), Volunteer
    else:
        query, model = _beneficiaries(RegistrationStatus.PENDING, town, scope), Beneficiary
    query = query.where(model.id != after.id).with_only_columns(model.id).order_by(model.created_at, model.id)
    later = query.where(or_(model.created_at > after.created_at,
                            and_(model.created_at == after.created_at, model.id > after.id)))
    return session.scalar(later.limit(1)) or session.scalar(query.limit(1))


def volunteer(session: Session, volunteer_id: int) -> Volunteer | None:
    return session.get(Volunteer, volunteer_id)


def beneficiary(session: Session, beneficiary_id: int) -> Beneficiary | None:
    return session.scalars(
        select(Beneficiary).where(Beneficiary.id == beneficiary_id)
        .options(selectinload(Beneficiary.household), selectinload(Beneficiary.statuses))
    ).first()


def registered_by_same(session: Session, person: Beneficiary) -> list[Beneficiary]:
    """Other people registered from the same WeChat account (a family member registering
    several relatives): who the registrant is, as far as the chat knows."""
    if not person.registered_by:
        return []
    return list(session.scalars(
        select(Beneficiary).where(Beneficiary.registered_by == person.registered_by, Beneficiary.id != person.id)
        .options(selectinload(Beneficiary.household)).order_by(Beneficiary.id)
    ))


def duplicates(
    session: Session, volunteers: Sequence[Volunteer] = (), beneficiaries: Sequence[Beneficiary] = (),
) -> dict[tuple[str, int], list[Duplicate]]:
    """For each given registration, keyed (kind, id), the other registrations it duplicates.

    At most four queries whatever the number of records: volunteers by phone,
    优抚对象 by phone, by ID number, and by household.
    """
    found: dict[tuple[str, int], list[Duplicate]] = defaultdict(list)
    phones = {v.mobile_bi for v in volunteers if v.mobile_bi} | {b.mobile_bi for b in beneficiaries if b.mobile_bi}
    id_numbers = {b.id_number_bi for b in beneficiaries if b.id_number_bi}
    addresses = {b.household.address_bi for b in beneficiaries if b.household and b.household.address_bi}

    def add(key: tuple[str, int], other: Duplicate) -> None:
        if key != (other.kind, other.id) and other not in found[key]:
            found[key].append(other)

    if phones:
        by_phone: dict[str, list[Duplicate]] = defaultdict(list)
        for row in session.execute(
            select(Volunteer.id, Volunteer.number, Volunteer.status, Volunteer.town, Volunteer.mobile_bi)
            .where(Volunteer.mobile_bi.in_(phones)).order_by(Volunteer.id)
        ):
            by_phone[row.mobile_bi].append(Duplicate(SAME_PHONE, VOLUNTEER, row.id, row.number, row.status, row.town))
        for row in session.execute(
            select(Beneficiary.id, Beneficiary.number, Beneficiary.status, Household.town, Beneficiary.mobile_bi)
            .join(Beneficiary.household).where(Beneficiary.mobile_bi.in_(phones)).order_by(Beneficiary.id)
        ):
            by_phone[row.mobile_bi].append(Duplicate(SAME_PHONE, BENEFICIARY, row.id, row.number, row.status, row.town))
        for v in volunteers:
            for other in by_phone.get(v.mobile_bi or "", ()):
                add((VOLUNTEER, v.id), other)
        for b in beneficiaries:
            for other in by_phone.get(b.mobile_bi or "", ()):
                add((BENEFICIARY, b.id), other)

    if id_numbers:
        by_id: dict[str, list[Duplicate]] = defaultdict(list)
        for row in session.execute(
            select(Beneficiary.id, Beneficiary.number, Beneficiary.status, Household.town, Beneficiary.id_number_bi)
            .join(Beneficiary.household).where(Beneficiary.id_number_bi.in_(id_numbers)).order_by(Beneficiary.id)
        ):
            by_id[row.id_number_bi].append(Duplicate(SAME_ID, BENEFICIARY, row.id, row.number, row.status, row.town))
        for b in beneficiaries:
            for other in by_id.get(b.id_number_bi or "", ()):
                add((BENEFICIARY, b.id), other)

    if addresses:
        by_home: dict[tuple[str, str, str], list[Duplicate]] = defaultdict(list)
        for row in session.execute(
            select(Beneficiary.id, Beneficiary.number, Beneficiary.status,
                   Household.town, Household.village, Household.address_bi)
            .join(Beneficiary.household).where(Household.address_bi.in_(addresses)).order_by(Beneficiary.id)
        ):
            by_home[(row.town, row.village, row.address_bi)].append(
                Duplicate(SAME_HOUSEHOLD, BENEFICIARY, row.id, row.number, row.status, row.town))
        for b in beneficiaries:
            home = b.household
            if home is not None and home.address_bi:
                for other in by_home.get((home.town, home.village, home.address_bi), ()):
                    add((BENEFICIARY, b.id), other)
    return dict(found)
