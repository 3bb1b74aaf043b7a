"""走访慰问 records: what a visit brought and who went, the same for the console and the chat.

A visit is recorded once (a second submit of the same form changes nothing); a correction of a
recorded visit keeps every changed field in the edit history (services.roster_history). A visit
brings 慰问金 or 慰问品 — or its note says why neither. Photos are optional, JPEG or PNG only
(checked by their first bytes, not by the name), at most 5 MB each and 6 per visit. "需要跟进"
opens a help request (services.help_requests) linked to the visit, in the staff's queue.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.beneficiary import Beneficiary, Household
from models.help_request import HelpRequest, Urgency
from models.staff_account import StaffAccount
from models.visits import PlannedVisit, VisitPhoto, VisitPlan, VisitStatus, VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from services import help_requests, roster_history, visit_plans
from services.help_requests import RequestDetails
from services.local_time import local_date, local_instant
from services.visit_plans import VisitError

SUBJECT = visit_plans.SUBJECT  # "planned_visit": status events and edit history of a visit
MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_MONEY_CENTS = 100_000 * 100  # 10万元: far above any 慰问金, catches a mistyped extra zero
EARLIEST_BEFORE_WINDOW = timedelta(days=31)  # lists go out a week before the window; allow paper back-filling
RECENT_PLAN_GRACE = timedelta(days=31)  # a plan's late visits can still be recorded a month after its window
TEXT_LIMITS = {"visitors": 200, "goods": 200, "note": 1000}
IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
FOLLOW_UP_WORDS = ("需要跟进", "需跟进", "要跟进", "请跟进")
OPEN = (VisitStatus.PLANNED, VisitStatus.OVERDUE)
STATUS_LABELS = {VisitStatus.PLANNED: "待走访", VisitStatus.DONE: "已走访", VisitStatus.OVERDUE: "逾期未走访",
                 VisitStatus.CANCELLED: "已取消"}
# Which request category a follow-up note points at: the most specific words first.
CATEGORY_WORDS = (
    ("card", ("优待证",)),
    ("plaque", ("光荣牌",)),
    ("medical", ("医", "病", "药", "住院", "看病", "治疗")),
    ("housing", ("房", "漏雨", "漏水", "危房", "住房")),
    ("legal", ("法律", "纠纷", "官司", "诉讼", "维权")),
    ("employment", ("就业", "找工作", "创业", "失业")),
    ("living", ("困难", "生活", "低保", "救助", "缺钱", "吃饭")),
    ("policy", ("政策", "咨询", "待遇", "补助")),
)


class InvalidVisit(VisitError):
    """What the form got wrong, field by field (messages for staff and volunteers, in Chinese)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Photo:
    data: bytes
    filename: str = ""


@dataclass(frozen=True)
class VisitDetails:
    visited_on: date
    visitors: str
    money_cents: int | None = None
    goods: str | None = None
    note: str | None = None
    follow_up: bool = False
    follow_up_category: str | None = None  # None: taken from the note's words


@dataclass
class Recorded:
    visit: PlannedVisit
    already: bool = False  # it was recorded before: nothing changed now
    request: HelpRequest | None = None  # the follow-up request opened now
    changed: list[str] = field(default_factory=list)


# --- reading what people typed -----------------------------------------------------------


def parse_yuan(text: str | None) -> int | None:
    """"500", "500.5", "１,000元", "0" → fen (None for empty or 0); ValueError with a message otherwise."""
    value = unicodedata.normalize("NFKC", text or "").strip().replace(",", "").replace("，", "")
    value = re.sub(r"\s*(元|块钱|块)$", "", value).strip()
    if not value:
        return None
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", value):
        raise ValueError("金额请填数字（单位：元），最多两位小数，例如500或500.50")
    yuan, _, fen = value.partition(".")
    cents = int(yuan) * 100 + int((fen + "00")[:2])
    if cents > MAX_MONEY_CENTS:
        raise ValueError("金额超过10万元，请核对是否多输了一个0")
    return cents or None


def yuan(cents: int | None) -> str:
    """500元 / 500.50元 / 无."""
    if not cents:
        return "无"
    whole, rest = divmod(cents, 100)
    return f"{whole}元" if not rest else f"{whole}.{rest:02d}元"


def wants_follow_up(note: str | None) -> bool:
    return bool(note) and any(word in note for word in FOLLOW_UP_WORDS)


def guess_category(text: str | None) -> str:
    text = text or ""
    return next((code for code, words in CATEGORY_WORDS if any(w in text for w in words)), "other")


def photo_type(data: bytes) -> str | None:
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


def _clean(value: str | None) -> str | None:
    value = re.sub(r"\s+", " ", value or "").strip()
    return value or None


# --- checking a record ---------------------------------------------------------------------


def check(details: VisitDetails, plan: VisitPlan, today: date, photos: list[Photo], photos_before: int = 0) -> dict[str, str]:
    """Field → what is wrong (empty: the record can be saved)."""
    errors: dict[str, str] = {}
    if details.visited_on > today:
        errors["visited_on"] = "走访日期不能晚于今天"
    elif details.visited_on < plan.window_start - EARLIEST_BEFORE_WINDOW:
        errors["visited_on"] = f"走访日期早于本次走访慰问（{plan.window_start:%Y-%m-%d}开始），请核对"
    if not _clean(details.visitors):
        errors["visitors"] = "请填写走访人员，例如“王书记、李干事”"
    for name, limit in TEXT_LIMITS.items():
        if len(getattr(details, name) or "") > limit:
            errors[name] = f"内容太长了，请控制在{limit}字以内"
    if details.money_cents is not None and not 0 <= details.money_cents <= MAX_MONEY_CENTS:
        errors["money"] = "金额超过10万元，请核对是否多输了一个0"
    if not details.money_cents and not _clean(details.goods) and not _clean(details.note) and "money" not in errors:
        errors["money"] = "请填写慰问金或慰问品；都没有的话，请在情况说明里写明原因"
    photo_error = check_photos(photos, photos_before)
    if photo_error:
        errors["photos"] = photo_error
    return errors


def check_photos(photos: list[Photo], before: int = 0) -> str | None:
    if before + len(photos) > MAX_PHOTOS:
        return f"每户最多{MAX_PHOTOS}张照片（已有{before}张），请少选几张"
    for photo in photos:
        name = f"“{photo.filename}”" if photo.filename else "有一个文件"
        if photo_type(photo.data) is None:
            return f"{name}不是照片，只能上传JPG或PNG格式的照片"
        if len(photo.data) > MAX_PHOTO_BYTES:
            return f"{name}超过5MB，请换一张小一些的照片"
    return None


def visited_at(day: date, now: datetime) -> datetime:
    """Today's visit is recorded at this moment; an earlier day at noon of that day (Shanghai)."""
    return now if day == local_date(now) else local_instant(day, "12:00")


# --- recording, correcting -----------------------------------------------------------------


def _locked(session: Session, visit_id: int) -> PlannedVisit:
    # PostgreSQL: a second submit of the same form waits here, then sees the visit done.
    visit = session.get(PlannedVisit, visit_id, with_for_update=True)
    if visit is None:
        raise VisitError("没有这条走访记录")
    return visit


def record(session: Session, visit_id: int, details: VisitDetails, *, actor: str, now: datetime,
           photos: list[Photo] = ()) -> Recorded:
    """A household visited, with what the visit brought. Recorded once: a repeat is `already`."""
    visit = _locked(session, visit_id)
    if visit.status == VisitStatus.DONE:
        return Recorded(visit, already=True)
    if visit.status == VisitStatus.CANCELLED:
        raise VisitError("这户已不在本次走访名单中")
    plan = session.get(VisitPlan, visit.plan_id)
    photos = list(photos)
    errors = check(details, plan, local_date(now), photos)
    if errors:
        raise InvalidVisit(errors)
    visit_plans.record_visit(session, visit.id, actor=actor, at=visited_at(details.visited_on, now), note="登记走访")
    visit.visitors, visit.goods = _clean(details.visitors), _clean(details.goods)
    visit.money_cents, visit.note = details.money_cents or None, _clean(details.note)
    visit.recorded_by = actor
    _add_photos(session, visit, photos, actor, now)
    result = Recorded(visit)
    if details.follow_up or wants_follow_up(details.note):
        result.request = open_follow_up(session, visit, details, now, actor=actor)
    return result


def correct(session: Session, visit_id: int, details: VisitDetails, *, actor: str, now: datetime,
            photos: list[Photo] = (), reason: str | None = None) -> Recorded:
    """Change a recorded visit; each changed field is kept in the edit history with who and when."""
    visit = _locked(session, visit_id)
    if visit.status != VisitStatus.DONE:
        raise VisitError("这户还没有登记走访，请先登记")
    plan = session.get(VisitPlan, visit.plan_id)
    photos = list(photos)
    errors = check(details, plan, local_date(now), photos, photos_before=len(visit.photos))
    if errors:
        raise InvalidVisit(errors)
    changes = {"visitors": _clean(details.visitors), "money_cents": details.money_cents or None,
               "goods": _clean(details.goods), "note": _clean(details.note)}
    if visit.visited_at is None or local_date(visit.visited_at) != details.visited_on:
        changes["visited_at"] = visited_at(details.visited_on, now)
    why = _clean(reason) or "更正走访记录"
    changed = roster_history.apply(session, visit, changes, actor=actor, reason=why, at=now)
    if photos:
        before = len(visit.photos)
        _add_photos(session, visit, photos, actor, now)
        roster_history.apply(session, _Count(visit.id, before), {"photos": before + len(photos)}, actor=actor,
                             reason=why, at=now)
        changed.append("photos")
    result = Recorded(visit, changed=changed)
    if (details.follow_up or wants_follow_up(details.note)) and visit.follow_up_request_id is None:
        result.request = open_follow_up(session, visit, details, now, actor=actor)
        changed.append("follow_up")
    return result


@dataclass
class _Count:
    """The number of a visit's photos, as a field the edit history can record."""

    id: int
    photos: int
    __tablename__ = SUBJECT


def _add_photos(session: Session, visit: PlannedVisit, photos: list[Photo], actor: str, now: datetime) -> None:
    for photo in photos:
        visit.photos.append(VisitPhoto(content_type=photo_type(photo.data), data=photo.data, uploaded_by=actor,
                                       uploaded_at=now))
    session.flush()


def remove_photo(session: Session, photo: VisitPhoto, *, actor: str, now: datetime) -> None:
    """A photo taken down (the wrong household, someone asked): the history keeps that it was."""
    visit = session.get(PlannedVisit, photo.visit_id)
    before = len(visit.photos)
    visit.photos.remove(photo)
    session.flush()
    roster_history.apply(session, _Count(visit.id, before), {"photos": before - 1}, actor=actor, reason="删除照片",
                         at=now)


def history(session: Session, visit_id: int):
    return roster_history.history(session, SUBJECT, visit_id)


# --- follow-up -------------------------------------------------------------------------------


def _head(session: Session, household: Household) -> Beneficiary | None:
    if household.head_id is not None:
        head = session.get(Beneficiary, household.head_id)
        if head is not None:
            return head
    return session.scalars(select(Beneficiary).where(Beneficiary.household_id == household.id)
                           .order_by(Beneficiary.id)).first()


def open_follow_up(session: Session, visit: PlannedVisit, details: VisitDetails, now: datetime, *,
                   actor: str) -> HelpRequest:
    """A help request for the household, from what the visitors saw, linked to the visit. Nobody
    is messaged in WeChat (the household did not ask themselves): staff phone the contact."""
    if visit.follow_up_request_id is not None:
        return session.get(HelpRequest, visit.follow_up_request_id)
    household = session.get(Household, visit.household_id)
    plan = session.get(VisitPlan, visit.plan_id)
    head = _head(session, household)
    note = _clean(details.note) or "走访时发现需要跟进的情况（未写明）"
    category = details.follow_up_category if details.follow_up_category in help_requests.CATEGORIES else None
    request = help_requests.submit(session, None, RequestDetails(
        category=category or guess_category(note),
        description=f"{plan.name}走访时发现：{note}（走访编号{visit.id}，{household.village}，登记人：{_clean(details.visitors) or actor}）",
        urgency=Urgency.NORMAL, for_whom="other",
        contact_name=head.name if head else None, contact_phone=head.mobile if head else None,
        town=household.town,
    ), now, source="visit")
    visit.follow_up_request_id = request.id
    session.flush()
    return request


# --- 挂点领导 -----------------------------------------------------------------------------------


def assign_leader(session: Session, plan_id: int, visit_ids: list[int], leader: str | None, *, actor: str,
                  now: datetime, town: str | None = None) -> int:
    """County leaders' visits: `leader` visits these households of the plan (empty: none).
    Only the plan's visits in `town` when given (a township account); returns how many changed."""
    leader = _clean(leader)
    if leader and len(leader) > 60:
        raise InvalidVisit({"leader": "领导姓名和职务请控制在60字以内"})
    query = select(PlannedVisit).where(PlannedVisit.plan_id == plan_id, PlannedVisit.id.in_(visit_ids[:500]))
    if town is not None:
        query = query.join(Household, Household.id == PlannedVisit.household_id).where(Household.town == town)
    changed = 0
    for visit in session.scalars(query):
        if roster_history.apply(session, visit, {"leader": leader}, actor=actor, reason="挂点领导", at=now):
            changed += 1
    return changed


# --- progress ------------------------------------------------------------------------------


@dataclass
class Progress:
    team_id: int | None
    name: str
    town: str
    done: int = 0
    planned: int = 0
    overdue: int = 0

    @property
    def total(self) -> int:
        return self.done + self.planned + self.overdue

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def progress(session: Session, plan_id: int, town: str | None = None) -> list[Progress]:
    """Per team (and "未分组" for households without one): done / still planned / overdue."""
    query = (select(PlannedVisit.team_id, Household.town, PlannedVisit.status, func.count(PlannedVisit.id))
             .join(Household, Household.id == PlannedVisit.household_id)
             .where(PlannedVisit.plan_id == plan_id, PlannedVisit.status != VisitStatus.CANCELLED)
             .group_by(PlannedVisit.team_id, Household.town, PlannedVisit.status))
    if town is not None:
        query = query.where(Household.town == town)
    teams = {t.id: t for t in session.scalars(select(VisitTeam))}
    rows: dict[tuple, Progress] = {}
    for team_id, household_town, status, count in session.execute(query):
        team = teams.get(team_id)
        key = (team_id, None if team else household_town)
        entry = rows.setdefault(key, Progress(team_id, team.name if team else "未分组", team.town if team else household_town))
        attr = {VisitStatus.DONE: "done", VisitStatus.PLANNED: "planned", VisitStatus.OVERDUE: "overdue"}[VisitStatus(status)]
        setattr(entry, attr, getattr(entry, attr) + count)
    return sorted(rows.values(), key=lambda p: (p.team_id is None, p.town, p.name))


def total(rows: list[Progress]) -> Progress:
    overall = Progress(None, "合计", "")
    for row in rows:
        overall.done += row.done
        overall.planned += row.planned
        overall.overdue += row.overdue
    return overall


def plans(session: Session, year: int | None = None) -> list[VisitPlan]:
    query = select(VisitPlan).order_by(VisitPlan.window_start.desc(), VisitPlan.id.desc())
    if year is not None:
        query = query.where(VisitPlan.year == year)
    return list(session.scalars(query))


def plan_years(session: Session) -> list[int]:
    return list(session.scalars(select(VisitPlan.year).distinct().order_by(VisitPlan.year.desc())))


def team_rows(session: Session, plan_id: int, team_id: int | None, town: str | None = None) -> list[tuple[PlannedVisit, Household]]:
    """A team's households in visiting order (priority, then village), with their household."""
    query = (select(PlannedVisit, Household).join(Household, Household.id == PlannedVisit.household_id)
             .where(PlannedVisit.plan_id == plan_id, PlannedVisit.status != VisitStatus.CANCELLED)
             .order_by(PlannedVisit.priority, Household.village, PlannedVisit.household_id))
    query = query.where(PlannedVisit.team_id.is_(None) if team_id is None else PlannedVisit.team_id == team_id)
    if town is not None:
        query = query.where(Household.town == town)
    return [(visit, household) for visit, household in session.execute(query)]


def head_names(session: Session, households: list[Household]) -> dict[int, str]:
    """household id → the name of its 户主 (or first member)."""
    ids = [h.id for h in households]
    heads = {h.id: h.head_id for h in households}
    names: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(select(Beneficiary.household_id, Beneficiary.id, Beneficiary.name)
                               .where(Beneficiary.household_id.in_(ids[start:start + 500])).order_by(Beneficiary.id))
        for household_id, person_id, name in rows:
            if household_id not in names or heads.get(household_id) == person_id:
                names[household_id] = name
    return names


# --- the chat: a team member's own list ---------------------------------------------------------


@dataclass(frozen=True)
class Member:
    member_ids: tuple[int, ...]
    team_ids: tuple[int, ...]
    staff: bool  # a staff member (may record any household of their team)
    name: str
    actor: str


def member(session: Session, openid: str) -> Member | None:
    """The visit-team membership of a WeChat user (an approved volunteer or a linked staff member)."""
    rows = session.execute(
        select(VisitTeamMember.id, VisitTeamMember.team_id, VisitTeamMember.staff_openid, Volunteer.name,
               Volunteer.number)
        .join(VisitTeam, VisitTeam.id == VisitTeamMember.team_id)
        .outerjoin(Volunteer, Volunteer.id == VisitTeamMember.volunteer_id)
        .where(VisitTeam.active.is_(True))
        .where((VisitTeamMember.staff_openid == openid)
               | ((Volunteer.openid == openid) & (Volunteer.status == VolunteerStatus.APPROVED)))
        .order_by(VisitTeamMember.id)
    ).all()
    if not rows:
        return None
    staff = any(row.staff_openid for row in rows)
    if staff:
        account = session.scalars(select(StaffAccount).where(StaffAccount.wechat_openid == openid)).first()
        name, actor = (account.name, f"staff:{account.username}") if account else ("工作人员", "team_member")
    else:
        name, actor = rows[0].name, f"volunteer:{rows[0].number}"
    return Member(tuple(r.id for r in rows), tuple(dict.fromkeys(r.team_id for r in rows)), staff, name, actor)


def current_plan(session: Session, today: date) -> VisitPlan | None:
    """The plan whose visits are being made now: the latest one already generated whose window
    has not been over for long."""
    return session.scalars(
        select(VisitPlan).where(VisitPlan.window_end >= today - RECENT_PLAN_GRACE)
        .order_by(VisitPlan.window_start.desc(), VisitPlan.id.desc())
    ).first()


def open_for(session: Session, who: Member, plan: VisitPlan) -> list[tuple[PlannedVisit, Household]]:
    """The member's households still to visit, in visiting order: their own list; a staff member
    holding none gets their team's."""
    base = (select(PlannedVisit, Household).join(Household, Household.id == PlannedVisit.household_id)
            .where(PlannedVisit.plan_id == plan.id, PlannedVisit.status.in_(OPEN))
            .order_by(PlannedVisit.priority, Household.village, PlannedVisit.household_id))
    own = list(session.execute(base.where(PlannedVisit.member_id.in_(who.member_ids))))
    if own or not who.staff:
        return [(v, h) for v, h in own]
    return [(v, h) for v, h in session.execute(base.where(PlannedVisit.team_id.in_(who.team_ids)))]


def record_for_member(session: Session, visit_id: int, openid: str, details: VisitDetails, now: datetime) -> Recorded:
    """The chat's 走访登记: only a household the member may record (their list, or their team's for staff)."""
    who = member(session, openid)
    visit = session.get(PlannedVisit, visit_id)
    if who is None or visit is None or visit.team_id not in who.team_ids or (
            not who.staff and visit.member_id not in who.member_ids):
        raise VisitError("这一户不在您的走访名单里。")
    return record(session, visit_id, details, actor=who.actor, now=now)
