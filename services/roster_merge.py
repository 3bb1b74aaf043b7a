"""Merging duplicates on the roster: one human entered twice (two person records), or one
family split in two households. One record is kept; statuses, members, visits, care pairs
and the edit history move to it; every changed field is written to the history and the
caller audits the merge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import utcnow
from models.beneficiary import Beneficiary, Household, RegistrationStatus
from models.care_pair import CarePair
from models.roster import RosterChange
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitStatus
from services import roster_history
from services.roster import CATEGORY_LABELS, PERSON_FLAGS, RosterError


@dataclass
class MergeResult:
    kept: str  # the kept person's number, or the household's head number
    dropped: str
    moved: dict[str, int] = field(default_factory=dict)


def merge_people(session: Session, keep: Beneficiary, drop: Beneficiary, *, actor: str,
                 reason: str | None = None) -> MergeResult:
    """One human entered twice: `keep` takes `drop`'s statuses, missing details and history; `drop`
    is removed. If `drop` was alone in another household, that household merges into `keep`'s."""
    if keep.id == drop.id:
        raise RosterError("不能和自己合并。")
    result = MergeResult(keep.number, drop.number)
    fill = {name: getattr(drop, name) for name in ("mobile", "id_number", "card_number", "registered_by")
            if getattr(keep, name) is None and getattr(drop, name) is not None}
    fill |= {flag: True for flag in PERSON_FLAGS if getattr(drop, flag) and not getattr(keep, flag)}
    if keep.status == RegistrationStatus.PENDING and drop.status == RegistrationStatus.VERIFIED:
        fill["status"] = RegistrationStatus.VERIFIED
    roster_history.apply(session, keep, fill, actor=actor, reason=reason)
    result.moved["statuses"] = _move_statuses(session, keep, drop, actor, reason)
    for model in (RosterChange, StatusEvent):
        session.execute(update(model).where(model.subject == "beneficiary", model.subject_id == drop.id)
                        .values(subject_id=keep.id).execution_options(synchronize_session=False))
    _record(session, "beneficiary", keep.id, drop.number, keep.number, actor, reason)
    old_home = drop.household
    if old_home.head_id == drop.id:
        same_home = old_home.id == keep.household_id
        roster_history.apply(session, old_home, {"head_id": keep.id if same_home else None}, actor=actor,
                             reason=reason or f"合并自{drop.number}")
        if same_home:
            roster_history.apply(session, keep, {"relation_to_head": "户主"}, actor=actor, reason=reason)
    session.flush()
    session.delete(drop)
    session.flush()
    session.expire(old_home)
    if old_home.id != keep.household_id and not session.scalar(
            select(func.count(Beneficiary.id)).where(Beneficiary.household_id == old_home.id)):
        merged = merge_households(session, keep.household, old_home, actor=actor, reason=reason)
        result.moved |= merged.moved
    return result


def _move_statuses(session: Session, keep: Beneficiary, drop: Beneficiary, actor: str, reason: str | None) -> int:
    moved = 0
    for row in list(drop.statuses):
        same = next((s for s in keep.statuses if s.category == row.category), None)
        if same is None:
            drop.statuses.remove(row)
            keep.statuses.append(row)
            session.add(RosterChange(subject="beneficiary", subject_id=keep.id, field="added", old_value=None,
                                     new_value=CATEGORY_LABELS.get(str(row.category), str(row.category)),
                                     actor=actor, reason=reason or f"合并自{drop.number}", at=utcnow()))
            moved += 1
            continue
        fill = {name: getattr(row, name) for name in (
            "start_date", "end_date", "evidence_ref", "disability_grade", "disability_cause",
            "deceased_name", "deceased_relation", "deceased_on") if getattr(same, name) is None
            and getattr(row, name) is not None}
        roster_history.apply(session, same, fill, actor=actor, reason=reason or f"合并自{drop.number}")
    session.flush()
    return moved


def merge_households(session: Session, keep: Household, drop: Household, *, actor: str,
                     reason: str | None = None) -> MergeResult:
    """One family in two households: `keep` takes `drop`'s members, missing details, visits, care
    pairs and history; `drop` is removed."""
    if keep.id == drop.id:
        raise RosterError("这是同一户，不用合并。")
    label = _household_label(drop)
    result = MergeResult(_household_label(keep), label)
    why = reason or f"合并自{label}"
    fill = {name: getattr(drop, name) for name in ("address", "hukou_address", "honor_plaque_on")
            if getattr(keep, name) is None and getattr(drop, name) is not None}
    if drop.conscript_family and not keep.conscript_family:
        fill["conscript_family"] = True
    if keep.head_id is None and drop.head_id is not None:
        fill["head_id"] = drop.head_id
    roster_history.apply(session, keep, fill, actor=actor, reason=why)
    members = list(drop.members)
    for member in members:
        changes: dict[str, Any] = {"household_id": keep.id}
        if member.id == drop.head_id and keep.head_id != member.id:
            changes["relation_to_head"] = None  # the other household's 户主: staff say how they are related
        roster_history.apply(session, member, changes, actor=actor, reason=why)
    drop.head_id = None
    session.flush()
    result.moved["members"] = len(members)
    result.moved["visits"] = _move_visits(session, keep.id, drop.id)
    result.moved["care_pairs"] = _move_pairs(session, keep.id, drop.id)
    session.execute(update(RosterChange).where(RosterChange.subject == "household", RosterChange.subject_id == drop.id)
                    .values(subject_id=keep.id).execution_options(synchronize_session=False))
    _record(session, "household", keep.id, label, result.kept, actor, reason)
    session.expire(drop)
    session.delete(session.get(Household, drop.id))
    session.flush()
    session.expire_all()  # members and visits moved under the objects' feet: read them again
    return result


def _household_label(home: Household) -> str:
    head = next((m for m in home.members if m.id == home.head_id), None) or min(
        home.members, key=lambda m: m.id, default=None)
    return f"{home.town}{home.village}的户（{head.number}）" if head else f"{home.town}{home.village}的户"


def _move_visits(session: Session, keep_id: int, drop_id: int) -> int:
    """Per plan one row per household: where both have one, the visited row wins (its photos and
    notes kept); a second visited row's photos and note join the kept row."""
    mine = {v.plan_id: v for v in session.scalars(select(PlannedVisit).where(PlannedVisit.household_id == keep_id))}
    moved = 0
    for visit in list(session.scalars(select(PlannedVisit).where(PlannedVisit.household_id == drop_id))):
        other = mine.get(visit.plan_id)
        if other is None:
            visit.household_id = keep_id
            moved += 1
            continue
        if visit.status == VisitStatus.DONE and other.status != VisitStatus.DONE:
            session.delete(other)
            session.flush()
            visit.household_id = keep_id
            moved += 1
            continue
        if visit.status == VisitStatus.DONE:  # visited twice: keep what the second visit recorded
            for photo in list(visit.photos):
                visit.photos.remove(photo)
                other.photos.append(photo)
            other.note = "；".join(filter(None, [other.note, visit.note, "（合并的另一户也已走访）"]))[:2000]
        session.delete(visit)
        session.flush()
    session.flush()
    return moved


def _move_pairs(session: Session, keep_id: int, drop_id: int) -> int:
    paired = set(session.scalars(select(CarePair.volunteer_id).where(CarePair.household_id == keep_id)))
    moved = 0
    for pair in session.scalars(select(CarePair).where(CarePair.household_id == drop_id)):
        if pair.volunteer_id in paired:
            session.delete(pair)
        else:
            pair.household_id = keep_id
            moved += 1
    session.flush()
    return moved


def _record(session: Session, subject: str, subject_id: int, old: str, new: str, actor: str,
            reason: str | None) -> None:
    session.add(RosterChange(subject=subject, subject_id=subject_id, field="merged", old_value=old,
                             new_value=new, actor=actor, reason=reason, at=utcnow()))
