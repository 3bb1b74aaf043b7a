"""The permission matrix of the console: each role × each action × in and out of the account's area.

The table below is the product's rule, written out as staff would read it (not derived from
bot.console.access), so a change to the access rules that breaks it fails here. Outcomes:
allowed (the page or action works), 403 (the role may not), 404 (the record is in another
乡镇, and a township officer does not learn it exists).
"""

from __future__ import annotations

import pytest

from models import Recipient
from models.outbox import OutboxStatus
from services import handover, help_requests, outbox, volunteers
from services.help_requests import RequestDetails
from services.volunteers import VolunteerDetails
from tests.console_kit import NOW, add_staff, csrf_token

ALL = {"admin", "officer", "viewer"}
ACTORS = {"admin", "officer"}
ADMIN = {"admin"}
HOME, ELSEWHERE = "城关镇", "青石镇"

# what staff do: (method, path template, roles allowed, whether the record's 乡镇 limits it)
MATRIX = {
    "看工作台": ("GET", "/console/", ALL, False),
    "看求助列表": ("GET", "/console/requests", ALL, False),
    "看求助详情": ("GET", "/console/requests/{request}", ALL, True),
    "受理求助": ("POST", "/console/requests/{request}/accept", ACTORS, True),
    "备注求助": ("POST", "/console/requests/{request}/note", ACTORS, True),
    "显示求助人完整号码": ("POST", "/console/requests/{request}/reveal", ACTORS, True),
    "批量受理": ("POST", "/console/requests/bulk", ACTORS, False),
    "导出求助Excel": ("GET", "/console/requests/export.xlsx", ACTORS, False),
    "看登记列表": ("GET", "/console/registrations?kind=volunteer", ALL, False),
    "看志愿者登记": ("GET", "/console/registrations/volunteer/{volunteer}", ALL, True),
    "审核志愿者": ("POST", "/console/registrations/volunteer/{volunteer}/reject", ACTORS, True),
    "显示志愿者完整号码": ("POST", "/console/registrations/volunteer/{volunteer}/reveal", ACTORS, True),
    "导出志愿者个人信息": ("POST", "/console/registrations/volunteer/{volunteer}/personal-data/export", ACTORS, True),
    # Without the typed confirmation: refused for its content (400), never carried out here.
    "删除志愿者个人信息": ("POST", "/console/registrations/volunteer/{volunteer}/personal-data/erase", ADMIN, True),
    "看人工会话列表": ("GET", "/console/handover", ALL, False),
    "看人工会话": ("GET", "/console/handover/{thread}", ALL, True),
    "回复人工会话": ("POST", "/console/handover/{thread}/reply", ACTORS, True),
    "结束人工会话": ("POST", "/console/handover/{thread}/close", ACTORS, True),
    "看推送记录": ("GET", "/console/deliveries", ADMIN, False),
    "看推送详情": ("GET", "/console/deliveries/{push}", ADMIN, False),
    "重发推送": ("POST", "/console/deliveries/{push}/retry", ADMIN, False),
    "看操作日志": ("GET", "/console/audit", ADMIN, False),
    "导出操作日志": ("GET", "/console/audit/export.xlsx", ADMIN, False),
    "管理账号": ("GET", "/console/staff", ADMIN, False),
    "编辑账号": ("GET", "/console/staff/{account}", ADMIN, False),
    "我的账号": ("GET", "/console/me", ALL, False),
    "打开台账导入": ("GET", "/console/roster/import", ACTORS, False),
    "下载台账模板": ("GET", "/console/roster/import/template.xlsx", ACTORS, False),
    "看导出台账": ("GET", "/console/exports", ACTORS, False),
    "导出花名册Excel": ("GET", "/console/exports/roster.xlsx", ACTORS, False),
    "打印花名册": ("GET", "/console/exports/roster/print", ACTORS, False),
    "看统计": ("GET", "/console/statistics", ALL, False),
    "导出统计Excel": ("GET", "/console/statistics.xlsx", ALL, False),
    "看优抚对象列表": ("GET", "/console/roster", ALL, False),
    "看优抚户": ("GET", "/console/roster/households/{household}", ALL, True),
    "修改优抚对象": ("POST", "/console/roster/people/{beneficiary}/edit", ACTORS, True),
    "终止优抚资格": ("POST", "/console/roster/people/{beneficiary}/end", ACTORS, True),
    "恢复在册": ("POST", "/console/roster/people/{beneficiary}/restore", ACTORS, True),
    "合并重复优抚对象": ("POST", "/console/roster/households/{household}/merge-person", ADMIN, True),
    "看区域与走访组": ("GET", "/console/areas", ALL, False),
    "修改区域": ("POST", "/console/areas/{area}/rename", ADMIN, True),
    "看走访慰问": ("GET", "/console/visits", ALL, False),
    "看走访户": ("GET", "/console/visits/{visit}", ALL, True),
    "登记走访": ("POST", "/console/visits/{visit}/record", ACTORS, True),
}
FORM = {"note": "已电话联系", "reason": "信息不全", "text": "您好，已收到。", "ids": "{request}"}


@pytest.fixture
def world(console, sqlite_url):
    """One of everything in 城关镇, and nine accounts: three roles × county-wide / 城关镇 / 青石镇."""
    app, sessions, client_for = console(sqlite_url)
    with sessions.begin() as s:
        request = help_requests.submit(s, "oAsker000000001", RequestDetails(
            "housing", "屋顶漏雨", "normal", "self", "王大山", "13811110000", town=HOME), NOW)
        volunteer = volunteers.register(s, "oVolunteer00001", VolunteerDetails(
            "张伟民", "13912345678", HOME, "河口村", ["repair"], "weekend"), NOW)
        thread, _ = handover.open_thread(s, "oAsker000000002", NOW, during=None, contact={}, town=HOME)
        push = outbox.enqueue(s, kind="request_update", recipient=Recipient.person("oAsker000000001"), payload={"text": "进度"},
                              idempotency_key="matrix:1")
        outbox.transition(s, push, OutboxStatus.FAILED, NOW, errcode=45015)
        ids = {"request": request.id, "volunteer": volunteer.id, "thread": thread.id, "push": push.id}
        person = _roster_person(s)
        ids |= {"beneficiary": person.id, "household": person.household_id, "area": _home_area(s, app)}
        ids["visit"] = _planned_visit(s, person.household_id)
    for role in ALL:
        for area, town in (("county", None), ("home", HOME), ("away", ELSEWHERE)):
            add_staff(sessions, f"{role}_{area}", role, town)
    ids["account"] = 1
    return client_for, ids


def _roster_person(s):
    from models.beneficiary import Beneficiary, BeneficiaryStatus, Household, RegistrationStatus

    home = Household(town=HOME, village="河口村", address="虚构路1号")
    s.add(home)
    s.flush()
    person = Beneficiary(number="YF2026-0900", household_id=home.id, name="王秀英", relation="self",
                         status=RegistrationStatus.VERIFIED, statuses=[BeneficiaryStatus(category="VETERAN")])
    s.add(person)
    s.flush()
    return person


def _planned_visit(s, household_id: int) -> int:
    from datetime import date

    from models.visits import PlannedVisit, VisitPlan

    plan = VisitPlan(season="liangjie", year=2027, name="2027年元旦春节走访慰问", holiday_date=date(2027, 2, 6),
                     window_start=date(2027, 1, 15), window_end=date(2027, 2, 20))
    s.add(plan)
    s.flush()
    visit = PlannedVisit(plan_id=plan.id, household_id=household_id, priority=11, category="VETERAN")
    s.add(visit)
    s.flush()
    return visit.id


def _home_area(s, app) -> int:
    from services import areas

    areas.seed_from_toml(s, app.extensions["shuangyong"].settings)
    return areas.town_area(s, HOME).id


def outcome(roles: set[str], scoped: bool, role: str, area: str) -> int | str:
    if role not in roles:
        return 403
    if scoped and area == "away":
        return 404
    return "allowed"


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize("area", ["county", "home", "away"])
def test_each_role_and_area_gets_what_the_matrix_says(world, role, area):
    client_for, ids = world
    client = client_for(f"{role}_{area}")
    token = csrf_token(client, "/console/me")
    wrong = []
    for what, (method, template, roles, scoped) in MATRIX.items():
        path = template.format(**ids)
        if method == "GET":
            response = client.get(path)
        else:
            data = {k: v.format(**ids) for k, v in FORM.items()}
            response = client.post(path, data={**data, "csrf_token": token})
        expected = outcome(roles, scoped, role, area)
        got = response.status_code
        if expected == "allowed":
            # A form may be refused for its content (400, shown beside the field), never for the role.
            ok = got < 400 or (got == 400 and method == "POST")
        else:
            ok = got == expected
        if not ok:
            wrong.append(f"{what}: expected {expected}, got {got}")
    assert not wrong, f"{role}/{area}:\n" + "\n".join(wrong)
