"""The visit list a team member gets in the chat: their own households (services.
visit_assignment), in visiting order, with what they may see for the visit — a number to
report it by, village and address, "重点" for 三属/三红/残疾军人 — never a name's 身份证号
or category (domain.md PI-11), and how the visit is recorded ("已走访 编号", handlers/flows/
visits.py). Long lists are split into pages that fit one message."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from services.local_time import chinese_date

PAGE_CHARS = 900  # a customer-service text holds 1000
KEY_PRIORITY = 3  # 三属, 三红, 残疾军人: visited first, marked 重点
HOW_TO_RECORD = "每走访完一户，请在公众号回复“已走访”和编号登记，例如“已走访 {example}”。"


def member_lines(session: Session, plan_id: int, member_id: int, only: list[int] | None = None) -> list[tuple[int, str]]:
    """(visit number, line) of the member's households still to visit (or of `only` those)."""
    query = (
        select(PlannedVisit.id, PlannedVisit.priority, Household.village, Household)
        .join(Household, Household.id == PlannedVisit.household_id)
        .where(PlannedVisit.plan_id == plan_id, PlannedVisit.member_id == member_id,
               PlannedVisit.status.in_([VisitStatus.PLANNED, VisitStatus.OVERDUE]))
        .order_by(PlannedVisit.priority, Household.village, PlannedVisit.household_id)
    )
    if only is not None:
        query = query.where(PlannedVisit.id.in_(only))
    lines = []
    for number, (visit_id, priority, village, household) in enumerate(session.execute(query), start=1):
        mark = "（重点）" if priority <= KEY_PRIORITY else ""
        address = f" {household.address}" if household.address else ""
        lines.append((visit_id, f"{number}. 编号{visit_id} {village}{address}{mark}"))
    return lines


def _window(plan: VisitPlan) -> str:
    return f"{chinese_date(plan.window_start)}至{chinese_date(plan.window_end)}"


def summary_page(plan: VisitPlan, team: VisitTeam, total: int, key_count: int) -> str:
    """For a member who holds no households (a staff member of a team with volunteers)."""
    return (f"{plan.name}：{team.name}共 {total} 户待走访（重点对象 {key_count} 户），请在{_window(plan)}完成。"
            "名单已分给本组志愿者，每人收到自己负责的几户。")


def first_pages(session: Session, plan: VisitPlan, team: VisitTeam, member_id: int) -> list[str]:
    lines = member_lines(session, plan.id, member_id)
    if not lines:
        return []
    key_count = sum(1 for _, line in lines if line.endswith("（重点）"))
    head = (f"{plan.name}：{team.name}请您走访以下 {len(lines)} 户（重点对象 {key_count} 户），"
            f"请在{_window(plan)}完成。{HOW_TO_RECORD.format(example=lines[0][0])}走访名单：")
    return _paginate(head, lines)


def added_pages(session: Session, plan: VisitPlan, team: VisitTeam, member_id: int, visit_ids: list[int]) -> list[str]:
    lines = member_lines(session, plan.id, member_id, only=visit_ids)
    if not lines:
        return []
    head = (f"{plan.name}：{team.name}新分给您 {len(lines)} 户，请在{_window(plan)}走访。"
            f"{HOW_TO_RECORD.format(example=lines[0][0])}新增名单：")
    return _paginate(head, lines)


def _paginate(head: str, lines: list[tuple[int, str]]) -> list[str]:
    pages, current = [], head
    for _, line in lines:
        if len(current) + len(line) + 1 > PAGE_CHARS:
            pages.append(current)
            current = "走访名单（续）："
        current += "\n" + line
    pages.append(current)
    if len(pages) > 1:
        pages = [f"{page}\n（第{n}/{len(pages)}条）" for n, page in enumerate(pages, start=1)]
    return pages
