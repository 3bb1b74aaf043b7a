"""Invented demo data for the sandbox (`python -m bot seed-demo`, `python -m bot demo`).

Everything is created through the same service functions the chat and the staff use, so
numbers, consents, status events and outbox rows are what a real month of use would leave.
Names, phones, ID numbers and addresses are made up; openids start with "oDEMO" and activity
codes with "demo-" so nobody can mistake them for real people. A fixed random seed makes
every run produce the same people (times are relative to `now`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from models.activity import Activity, ActivitySignup
from models.beneficiary import Beneficiary, BeneficiaryCategory, BeneficiaryStatus, Household, RegistrationStatus
from models.care_pair import CareContact, CarePair, ContactMethod
from models.consent import ConsentRecord
from models.conversation import ConversationState
from models.help_request import HandoverMessage, HelpRequest, RequestStatus, Urgency
from models.outbound import Follower, FollowerEvent, StaffOpenid
from models.outbox import OutboxMessage
from models.status_event import StatusEvent
from models.visits import PlannedVisit, VisitTeam, VisitTeamMember
from models.volunteer import Volunteer, VolunteerStatus
from services import activities, beneficiaries, care_pairs, handover, help_requests, volunteers
from services.beneficiaries import NEEDS_ID_NUMBER, BeneficiaryDetails
from services.help_requests import RequestDetails
from services.volunteers import VolunteerDetails

DEMO_OPENID_PREFIX = "oDEMO"
DEMO_ACTIVITY_PREFIX = "demo-"
SEED = 20260801
HOUSEHOLDS = 200
VOLUNTEERS = 50
TEAM_TOWNS = 3  # visit teams, one per town (the demo areas.toml has 2 乡镇 and 1 街道)
STAFF = (("oDEMOstaff001", "演示工作人员 王主任"), ("oDEMOstaff002", "演示工作人员 李干事"))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "建国志强秀英桂兰玉梅国华春生德明海燕红军卫东永福淑珍凤英文革小平丽娟振华立新金花长青水生"
STREETS = ("人民路", "解放路", "建设街", "和平巷", "拥军路", "光明街", "新村路", "团结巷")
SKILLS = ("medical", "legal", "counsel", "repair", "driving", "arts", "care", "other")
RELATIONS = ("self", "self", "self", "spouse", "child", "child", "parent", "grid")
# Most households hold one status, some two (烈士遗属 and 退役军人 …); weights follow a typical county.
CATEGORY_WEIGHTS = {
    BeneficiaryCategory.VETERAN: 30, BeneficiaryCategory.FAMILY: 18, BeneficiaryCategory.SOLDIER: 8,
    BeneficiaryCategory.RURAL_OLD: 10, BeneficiaryCategory.DISABLED: 6, BeneficiaryCategory.MARTYR_F: 5,
    BeneficiaryCategory.DUTY_F: 3, BeneficiaryCategory.ILL_F: 3, BeneficiaryCategory.DEMOB_OLD: 4,
    BeneficiaryCategory.ILL_RETURN: 3, BeneficiaryCategory.WAR_TEST: 5, BeneficiaryCategory.MARTYR_CHILD: 3,
    BeneficiaryCategory.MILITIA: 2,
}
ACTIVITIES = (  # code, title, place, days from now, capacity, sign-ups
    # Dated from the day the demo is seeded, so no festival in the titles (an 八一 show in December).
    ("demo-show", "拥军慰问文艺演出", "人民广场", 12, 10, 13),  # full, three on the waitlist
    ("demo-clinic", "义诊进军营", "县人武部", 20, 30, 12),
    ("demo-repair", "为军属家庭上门维修", "城关镇城东社区", 8, 15, 9),
    ("demo-books", "送书进军营", "青石镇营区", 30, 40, 6),
    ("demo-law", "退役军人法律服务日", "东湖街道便民中心", 16, 20, 7),
)
REQUESTS = {  # category → invented descriptions
    "living": ("家里老人生病，生活开支困难，想了解临时救助。", "冬天取暖费负担重，希望得到帮助。"),
    "housing": ("老房子屋顶漏雨，想申请危房改造。", "租住房屋到期，想了解住房保障政策。"),
    "medical": ("残疾军人换药需要定期去县医院，交通不便。", "想了解优抚对象医疗补助怎么报销。"),
    "employment": ("退役后想创业开小店，想了解扶持政策。", "孩子退役回乡，想找一份工作。"),
    "legal": ("承包地纠纷，想请法律援助。", "工伤赔偿问题，需要法律咨询。"),
    "card": ("优待证一直没有收到，想问进度。", "优待证丢失了，怎么补办？"),
    "plaque": ("光荣牌褪色了，能否更换？", "搬了新家，光荣牌需要重新悬挂。"),
    "other": ("想给驻地官兵送些家乡特产，怎么联系？", "村里想组织拥军活动，请给些建议。"),
}
# How far each request has come: the path of statuses after 已受理.
PATHS = (
    (),
    (RequestStatus.ACCEPTED,),
    (RequestStatus.TRANSFERRED,),
    (RequestStatus.IN_PROGRESS,),
    (RequestStatus.TRANSFERRED, RequestStatus.IN_PROGRESS),
    (RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED),
    (RequestStatus.TRANSFERRED, RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED),
    (RequestStatus.IN_PROGRESS, RequestStatus.RESOLVED, RequestStatus.VISITED),
    (RequestStatus.REJECTED,),
)
PAIRS = 12  # 定点定人: volunteer ↔ household
# The demo's staff steps are shown as done by the demo admin the console signs in as.
DEMO_ACTOR = "staff:admin"


class NotDemoData(RuntimeError):
    """The database holds data that seed-demo did not make."""


@dataclass(frozen=True)
class DemoSummary:
    households: int
    volunteers: int
    teams: int
    activities: int
    requests: int
    pairs: int

    def line(self) -> str:
        return (
            f"demo data: {self.households} households, {self.volunteers} volunteers in {self.teams} visit teams, "
            f"{self.activities} activities, {self.requests} help requests, {self.pairs} care pairs (定点定人)"
        )


def is_demo_openid(openid: str | None) -> bool:
    return bool(openid) and openid.startswith(DEMO_OPENID_PREFIX)


def foreign_rows(session: Session, prefixes: tuple[str, ...] = (DEMO_OPENID_PREFIX,)) -> dict[str, int]:
    """Rows made by real users or staff, by kind: seed-demo refuses to delete these without --force.

    `prefixes`: the openids counted as invented (the simulator adds its own "oSIM" followers)."""
    def not_demo(column):
        invented = or_(*(column.startswith(prefix) for prefix in prefixes))
        return column.isnot(None) & ~invented
    counts = {
        "volunteers": session.scalar(select(func.count()).select_from(Volunteer).where(not_demo(Volunteer.openid))),
        "registrations": session.scalar(
            select(func.count()).select_from(Beneficiary).where(not_demo(Beneficiary.registered_by))
        ),
        "help requests": session.scalar(select(func.count()).select_from(HelpRequest).where(not_demo(HelpRequest.openid))),
        "activities": session.scalar(
            select(func.count()).select_from(Activity).where(~Activity.code.startswith(DEMO_ACTIVITY_PREFIX))
        ),
        "followers": session.scalar(select(func.count()).select_from(Follower).where(not_demo(Follower.openid))),
        "staff openids": session.scalar(select(func.count()).select_from(StaffOpenid).where(not_demo(StaffOpenid.openid))),
    }
    return {kind: n for kind, n in counts.items() if n}


def has_people(session: Session) -> bool:
    """Whether anyone (demo or not) is registered yet: `demo` seeds only an empty database."""
    return any(session.scalar(select(func.count()).select_from(m)) for m in (Volunteer, Beneficiary, HelpRequest, Activity))


def clear(session: Session) -> None:
    """Remove the people data (demo and, with --force, everything else of that kind).

    Calendar, FAQ, publicity, job watermarks and staff accounts stay."""
    for model in (
        CareContact, CarePair, PlannedVisit, VisitTeamMember, VisitTeam, ActivitySignup, Activity,
        BeneficiaryStatus, Beneficiary, Household, HandoverMessage, HelpRequest, Volunteer, StatusEvent, ConsentRecord,
        ConversationState, FollowerEvent, Follower, OutboxMessage,
    ):
        if model is OutboxMessage:
            # Delivery history of the people removed: their queued and sent messages and staff alerts about them.
            from models.outbound import OutboxEvent

            session.execute(delete(OutboxEvent))
        session.execute(delete(model))
    session.execute(delete(StaffOpenid).where(StaffOpenid.openid.startswith(DEMO_OPENID_PREFIX)))
    from models.counter import Counter

    session.execute(
        delete(Counter).where(or_(*(Counter.name.startswith(f"{kind}:") for kind in ("volunteer", "beneficiary", "help_request"))))
    )
    session.flush()


def seed(session: Session, towns: list[tuple[str, tuple[str, ...]]], now: datetime, force: bool = False) -> DemoSummary:
    """Re-create the demo data in the caller's transaction. `towns`: (乡镇/街道, its 村/社区) from areas.toml."""
    foreign = foreign_rows(session)
    if foreign and not force:
        raise NotDemoData(", ".join(f"{n} {kind}" for kind, n in foreign.items()))
    clear(session)
    rng = random.Random(SEED)
    villages = [(town, village) for town, names in towns for village in names]
    people = _households(session, rng, villages, now)
    team_towns = [town for town, _ in towns[:TEAM_TOWNS]]
    crew = _volunteers(session, rng, villages, team_towns, now)
    teams = _teams(session, crew, team_towns, now)
    signups = _activities(session, rng, crew, now)
    requests = _requests(session, rng, people, now)
    pairs = _pairs(session, rng, crew, people, now)
    for openid, label in STAFF:
        session.add(StaffOpenid(role="staff", openid=openid, label=label, created_at=now))
    session.flush()
    return DemoSummary(len(people), len(crew), teams, signups, requests, pairs)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))


def _mobile(rng: random.Random) -> str:
    return f"170{rng.randrange(10**8):08d}"  # 170: a virtual-operator range, plainly invented


def _id_number(rng: random.Random) -> str:
    """An invented 18-digit ID number with a valid checksum (GB 11643), born 1935–1975."""
    body = f"{rng.choice(('341122', '341124', '341181'))}{rng.randrange(1935, 1976)}{rng.randrange(1, 13):02d}"
    body += f"{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def _ago(rng: random.Random, now: datetime, days: int) -> datetime:
    return now - timedelta(days=rng.randrange(1, days), minutes=rng.randrange(600))


def _households(session, rng, villages, now) -> list[Beneficiary]:
    categories, weights = list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values())
    people = []
    for n in range(1, HOUSEHOLDS + 1):
        town, village = villages[n % len(villages)]
        held = list(dict.fromkeys(rng.choices(categories, weights, k=rng.choice((1, 1, 1, 2)))))
        details = BeneficiaryDetails(
            relation=rng.choice(RELATIONS), name=_name(rng), categories=[str(c) for c in held], mobile=_mobile(rng),
            town=town, village=village, address=f"{village}{rng.choice(STREETS)}{n}号",  # one house each: one household each
            id_number=_id_number(rng) if set(held) & NEEDS_ID_NUMBER else None,
        )
        at = _ago(rng, now, 180)
        person = beneficiaries.register(session, f"{DEMO_OPENID_PREFIX}yf{n:04d}", details, at)
        if n % 5:  # four in five verified by staff, the rest still waiting
            beneficiaries.change_status(session, person, RegistrationStatus.VERIFIED, at + timedelta(days=2), actor=DEMO_ACTOR)
        people.append(person)
    return people


def _volunteers(session, rng, villages, team_towns, now) -> list[Volunteer]:
    crew = []
    nearby = [(t, v) for t, v in villages if t in team_towns]
    for n in range(1, VOLUNTEERS + 1):
        town, village = nearby[n % len(nearby)]
        details = VolunteerDetails(
            name=_name(rng), mobile=_mobile(rng), town=town, village=village,
            skills=sorted(rng.sample(SKILLS, rng.choice((1, 2, 3)))), availability=rng.choice(("weekday", "weekend", "any")),
        )
        at = _ago(rng, now, 300)
        volunteer = volunteers.register(session, f"{DEMO_OPENID_PREFIX}zy{n:04d}", details, at)
        volunteers.change_status(session, volunteer, VolunteerStatus.APPROVED, at + timedelta(days=1), actor=DEMO_ACTOR)
        volunteer.service_minutes = rng.randrange(0, 40) * 30
        crew.append(volunteer)
    return crew


def _teams(session, crew, team_towns, now) -> int:
    # No service creates teams yet (the console will); the visit plan would make the same rows.
    for n, town in enumerate(team_towns):
        team = VisitTeam(town=town, name=f"{town}走访组", active=True, created_at=now)
        session.add(team)
        session.flush()
        session.add_all(VisitTeamMember(team_id=team.id, volunteer_id=v.id) for v in crew if v.town == town)
        session.add(VisitTeamMember(team_id=team.id, staff_openid=STAFF[n % len(STAFF)][0]))
    return len(team_towns)


def _activities(session, rng, crew, now) -> int:
    for code, title, place, days, capacity, wanted in ACTIVITIES:
        starts = (now + timedelta(days=days)).replace(hour=1, minute=30, second=0, microsecond=0)  # 09:30 in Shanghai
        activity = Activity(
            code=code, title=title, place=place, description=f"{title}，欢迎志愿者报名参加。", starts_at=starts,
            ends_at=starts + timedelta(hours=3), capacity=capacity, created_at=now - timedelta(days=10),
        )
        session.add(activity)
        session.flush()
        for volunteer in rng.sample(crew, wanted):
            activities.sign_up(session, activity.id, volunteer.openid, volunteer.id, _ago(rng, now, 9))
    return len(ACTIVITIES)


def _requests(session, rng, people, now) -> int:
    """30 requests along every path of the workflow, taken by the same service calls the console uses,
    plus a few 人工 chats waiting for an answer."""
    categories = list(REQUESTS)
    for n in range(30):
        person = people[(n * 7) % len(people)]
        category = categories[n % len(categories)]
        details = RequestDetails(
            category=category, description=rng.choice(REQUESTS[category]),
            urgency=Urgency.URGENT if n % 9 == 4 else Urgency.NORMAL, for_whom="self" if person.relation == "self" else "family",
            contact_name=person.name, contact_phone=person.mobile, town=person.household.town,
        )
        # The first paths are recent: some waiting today, one already past its 受理 deadline.
        at = now - timedelta(hours=3 + n * 7) if n < 3 else _ago(rng, now, 60)
        request = help_requests.submit(session, person.registered_by, details, at)
        path = PATHS[n % len(PATHS)]
        gap = min(timedelta(days=1), (now - at) / (len(path) + 1))  # a day apart, but never in the future
        for step, status in enumerate(path, start=1):
            _take_step(session, request, status, at + gap * step, rng)
    for n in range(3):
        person = people[(n * 11 + 5) % len(people)]
        contact = {"name": person.name, "mobile": person.mobile}
        at = now - timedelta(hours=2 + n * 5)
        thread, _ = handover.open_thread(session, person.registered_by, at, during=None, contact=contact,
                                         town=person.household.town)
        handover.record_incoming(session, thread, at + timedelta(minutes=1), msg_type="text", text=HANDOVER_ASKS[n])
    return 30


HANDOVER_ASKS = (
    "你好，我想问一下今年的优待金什么时候发？",
    "我父亲是老复员军人，腿脚不方便，能不能上门办优待证？",
    "光荣牌掉色了，可以换一块吗？",
)


def _take_step(session, request, status, when, rng) -> None:
    actor = DEMO_ACTOR
    if status == RequestStatus.ACCEPTED:
        help_requests.accept(session, request, when, actor=actor)
    elif status == RequestStatus.TRANSFERRED:
        help_requests.transfer(session, request, rng.choice(("县退役军人事务局", "县住建局", "县人民法院")), when, actor=actor)
    elif status == RequestStatus.IN_PROGRESS:
        help_requests.change_status(session, request, status, when, actor=actor)
    elif status == RequestStatus.RESOLVED:
        help_requests.resolve(session, request, "已上门了解情况并协调办理，问题已解决。", when, actor=actor)
    elif status == RequestStatus.VISITED:
        help_requests.rate(session, request, rng.choice((4, 5, 5)), None, when)
    elif status == RequestStatus.REJECTED:
        help_requests.reject(session, request, "不属于双拥办受理范围，已告知转民政部门", when, actor=actor)


def _pairs(session, rng, crew, people, now) -> int:
    verified = [p for p in people if p.status == RegistrationStatus.VERIFIED]
    for n, volunteer in enumerate(crew[:PAIRS]):
        same_town = [p for p in verified if p.household.town == volunteer.town] or verified
        row = care_pairs.pair(session, volunteer.number, rng.choice(same_town).number, now - timedelta(days=90), actor=DEMO_ACTOR)
        if n % 3:  # the others stay silent, so the scheduler's 30-day nudge has someone to remind
            care_pairs.record_contact(session, row.id, _ago(rng, now, 25), rng.choice(list(ContactMethod)), now)
    return PAIRS
