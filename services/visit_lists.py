"""The visit list a team member gets in the chat: their own households (services.
visit_assignment), in visiting order, with what they may see for the visit — a number to
report it by, village and address, "重点" for 三属/三红/残疾军人 — never a name's 身份证号
or category (domain.md PI-11), and how the visit is recorded ("已走访 编号", handlers/flows/
visits.py). Long lists are split into pages that fit one message."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from services.local_time import chinese_date

PAGE_CHARS = 900  # a customer-service text holds 1000
KEY_PRIORITY = 3  # 三属, 三红, 残疾军人: visited first, marked 重点
HOW_TO_RECORD = ("每走访完一户，请在公众号回复“已走访”和编号，例如“已走访{example}”；"
                 "要登记慰问金和情况，请回复“走访登记”。")


@dataclass(frozen=True)
class Line:
    visit_id: int
    household_id: int
    text: str  # without its number in the list
    key: bool


def open_lines(session: Session, plan_id: int) -> dict[int, list[Line]]:
    """Member id → their households still to visit, in visiting order (one query for the plan)."""
    rows = session.execute(
        select(PlannedVisit.id, PlannedVisit.household_id, PlannedVisit.member_id, PlannedVisit.priority,
               Household.village, Household.address)
        .join(Household, Household.id == PlannedVisit.household_id)
        .where(PlannedVisit.plan_id == plan_id, PlannedVisit.member_id.is_not(None),
               PlannedVisit.status.in_([VisitStatus.PLANNED, VisitStatus.OVERDUE]))
        .order_by(PlannedVisit.member_id, PlannedVisit.priority, Household.village, PlannedVisit.household_id)
    )
    lines: dict[int, list[Line]] = {}
    for visit_id, household_id, member_id, priority, village, address in rows:
        key = priority <= KEY_PRIORITY
        lines.setdefault(member_id, []).append(Line(visit_id, household_id, line_text(visit_id, village, address, key), key))
    return lines


def line_text(visit_id: int, village: str, address: str | None, key: bool) -> str:
    """编号12：河口村，3组12号（重点）"""
    return f"编号{visit_id}：{village}{f'，{address}' if address else ''}{'（重点）' if key else ''}"


def _window(plan: VisitPlan) -> str:
    return f"{chinese_date(plan.window_start)}至{chinese_date(plan.window_end)}"


def summary_page(plan: VisitPlan, team: VisitTeam, total: int, key_count: int) -> str:
    """For a member who holds no households (a staff member of a team with volunteers)."""
    return (f"{plan.name}：{team.name}共{total}户待走访（重点对象{key_count}户），请在{_window(plan)}完成。"
            "名单已分给本组志愿者，每人收到自己负责的几户。")


def first_pages(plan: VisitPlan, team: VisitTeam, lines: list[Line]) -> list[str]:
    if not lines:
        return []
    key_count = sum(1 for line in lines if line.key)
    head = (f"{plan.name}：{team.name}请您走访以下{len(lines)}户（重点对象{key_count}户），"
            f"请在{_window(plan)}完成。{HOW_TO_RECORD.format(example=lines[0].visit_id)}走访名单：")
    return _paginate(head, lines)


def added_pages(plan: VisitPlan, team: VisitTeam, lines: list[Line], household_ids: list[int]) -> list[str]:
    wanted = set(household_ids)
    lines = [line for line in lines if line.household_id in wanted]
    if not lines:
        return []
    head = (f"{plan.name}：{team.name}新分给您{len(lines)}户，请在{_window(plan)}走访。"
            f"{HOW_TO_RECORD.format(example=lines[0].visit_id)}新增名单：")
    return _paginate(head, lines)


def _paginate(head: str, lines: list[Line]) -> list[str]:
    pages, current = [], head
    for number, line in enumerate(lines, start=1):
        text = f"{number}. {line.text}"
        if len(current) + len(text) + 1 > PAGE_CHARS:
            pages.append(current)
            current = "走访名单（续）："
        current += "\n" + text
    pages.append(current)
    if len(pages) > 1:
        pages = [f"{page}\n（第{n}/{len(pages)}条）" for n, page in enumerate(pages, start=1)]
    return pages
