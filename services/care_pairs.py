"""定点定人帮困 pairs: pair a volunteer with a household, record contacts, find silent pairs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household
from models.care_pair import CareContact, CarePair, ContactMethod, PairStatus
from models.volunteer import Volunteer, VolunteerStatus
from services import status_events, workflow

SUBJECT = "care_pair"
FLOW = workflow.Workflow(SUBJECT, {
    PairStatus.ACTIVE: frozenset({PairStatus.ENDED}),
    PairStatus.ENDED: frozenset({PairStatus.ACTIVE}),
})
SILENCE_BEFORE_NUDGE = timedelta(days=30)


class PairError(ValueError):
    """A pairing request that cannot be carried out; the text says why (no personal data)."""


def pair(session: Session, volunteer_number: str, beneficiary_number: str, now: datetime, actor: str) -> CarePair:
    """Pair an approved volunteer with the household of a registered person (again, if it ended)."""
    volunteer = session.scalars(select(Volunteer).where(Volunteer.number == volunteer_number)).first()
    if volunteer is None:
        raise PairError(f"no volunteer {volunteer_number}")
    if volunteer.status != VolunteerStatus.APPROVED:
        raise PairError(f"volunteer {volunteer_number} is {volunteer.status}, not approved")
    person = session.scalars(select(Beneficiary).where(Beneficiary.number == beneficiary_number)).first()
    if person is None:
        raise PairError(f"no registered person {beneficiary_number}")
    existing = session.scalars(
        select(CarePair).where(CarePair.volunteer_id == volunteer.id, CarePair.household_id == person.household_id)
    ).first()
    if existing is not None:
        if existing.status == PairStatus.ENDED:
            _move(session, existing, PairStatus.ACTIVE, now, actor, "paired again")
            existing.started_at, existing.ended_at, existing.last_contact_at = now, None, None
        return existing
    row = CarePair(volunteer_id=volunteer.id, household_id=person.household_id, status=PairStatus.ACTIVE, started_at=now)
    session.add(row)
    session.flush()
    status_events.record(session, SUBJECT, row.id, PairStatus.ACTIVE, at=now, actor=actor, note="paired")
    return row


def end(session: Session, pair_id: int, now: datetime, actor: str) -> CarePair:
    row = _get(session, pair_id)
    if row.status == PairStatus.ACTIVE:
        _move(session, row, PairStatus.ENDED, now, actor, "pair ended")
        row.ended_at = now
    return row


def record_contact(
    session: Session, pair_id: int, at: datetime, method: ContactMethod, now: datetime, note: str | None = None
) -> CareContact:
    """A visit, call or message; a contact dated in the future is refused."""
    row = _get(session, pair_id)
    if at > now:
        raise PairError("a contact cannot be dated in the future")
    contact = CareContact(pair_id=row.id, at=at, method=method, note=note, recorded_at=now)
    session.add(contact)
    if row.last_contact_at is None or at > row.last_contact_at:
        row.last_contact_at = at
    session.flush()
    return contact


@dataclass(frozen=True)
class SilentPair:
    pair_id: int
    volunteer_openid: str
    village: str
    household_number: str  # the registered person's number, to name the household without a name
    silent_since: datetime

    def days_silent(self, now: datetime) -> int:
        return (now - self.silent_since).days


def silent_pairs(session: Session, now: datetime, silence: timedelta = SILENCE_BEFORE_NUDGE) -> list[SilentPair]:
    """Active pairs whose volunteer can be reached and who recorded no contact for `silence`."""
    since = func.coalesce(CarePair.last_contact_at, CarePair.started_at)
    first_member = (
        select(func.min(Beneficiary.number)).where(Beneficiary.household_id == Household.id).scalar_subquery()
    )
    rows = session.execute(
        select(CarePair.id, Volunteer.openid, Household.village, first_member, CarePair.last_contact_at, CarePair.started_at)
        .join(Volunteer, Volunteer.id == CarePair.volunteer_id)
        .join(Household, Household.id == CarePair.household_id)
        .where(
            CarePair.status == PairStatus.ACTIVE,
            Volunteer.status == VolunteerStatus.APPROVED,
            Volunteer.openid.is_not(None),
            since <= now - silence,
        )
        .order_by(CarePair.id)
    )
    return [
        SilentPair(pair_id, openid, village, number or "", last or started)
        for pair_id, openid, village, number, last, started in rows
    ]


def list_pairs(session: Session) -> list[tuple[CarePair, str, str]]:
    """Every pair with the volunteer's number and the household's village, for operators."""
    rows = session.execute(
        select(CarePair, Volunteer.number, Household.village)
        .join(Volunteer, Volunteer.id == CarePair.volunteer_id)
        .join(Household, Household.id == CarePair.household_id)
        .order_by(CarePair.id)
    )
    return [tuple(row) for row in rows]


def forget(session: Session, now: datetime, volunteer_id: int | None = None, household_ids: list[int] = ()) -> None:
    """删除我的信息: end the person's pairs and blank the notes recorded about their contacts."""
    conditions = []
    if volunteer_id is not None:
        conditions.append(CarePair.volunteer_id == volunteer_id)
    if household_ids:
        conditions.append(CarePair.household_id.in_(list(household_ids)))
    if not conditions:
        return
    for row in session.scalars(select(CarePair).where(or_(*conditions))):
        if row.status == PairStatus.ACTIVE:
            _move(session, row, PairStatus.ENDED, now, "user", "本人删除信息")
            row.ended_at = now
        session.execute(update(CareContact).where(CareContact.pair_id == row.id).values(note=None))


def _get(session: Session, pair_id: int) -> CarePair:
    row = session.get(CarePair, pair_id)
    if row is None:
        raise PairError(f"no pair {pair_id}")
    return row


def _move(session: Session, row: CarePair, to: PairStatus, now: datetime, actor: str, note: str) -> None:
    workflow.transition(session, FLOW, row, to, now, actor=actor, note=note)
