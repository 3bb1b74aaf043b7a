"""The visit list a team's members get in the chat: their own households, in visiting
order, with what a volunteer may see for the visit (a number to report it by, village and
address) and never a 身份证号 or a name's category beyond "重点" (domain.md PI-11), and how
the visit is recorded (handlers/flows/visits.py: "已走访 编号"). Long lists are split into pages that fit one message."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.beneficiary import Household
from models.visits import PlannedVisit, VisitPlan, VisitStatus, VisitTeam
from services.local_time import chinese_date

PAGE_CHARS = 900  # a customer-service text holds 1000
KEY_PRIORITY = 3  # 三属, 三红, 残疾军人: visited first, marked 重点
HOW_TO_RECORD = "每走访完一户，请在公众号回复“已走访”和编号登记，例如“已走访 {example}”。"


def team_lines(session: Session, plan_id: int, team_id: int) -> list[tuple[int, str]]:
    """(visit number, line) of the households the team still has to visit."""
    rows = session.execute(
        select(PlannedVisit.id, PlannedVisit.priority, Household.village, Household)
        .join(Household, Household.id == PlannedVisit.household_id)
        .where(PlannedVisit.plan_id == plan_id, PlannedVisit.team_id == team_id,
               PlannedVisit.status.in_([VisitStatus.PLANNED, VisitStatus.OVERDUE]))
        .order_by(PlannedVisit.priority, Household.village, PlannedVisit.household_id)
    )
    lines = []
    for number, (visit_id, priority, village, household) in enumerate(rows, start=1):
        mark = "（重点）" if priority <= KEY_PRIORITY else ""
        address = f" {household.address}" if household.address else ""
        lines.append((visit_id, f"{number}. 编号{visit_id} {village}{address}{mark}"))
    return lines


def team_pages(session: Session, plan: VisitPlan, team: VisitTeam, total: int, key_count: int) -> list[str]:
    """The messages for one team member: the first carries the summary and how to record."""
    lines = team_lines(session, plan.id, team.id)
    how = HOW_TO_RECORD.format(example=lines[0][0] if lines else 1)
    head = (f"{plan.name}：{team.name}共 {total} 户待走访（重点对象 {key_count} 户），"
            f"请在{chinese_date(plan.window_start)}至{chinese_date(plan.window_end)}完成。{how}"
            "走访名单：")
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
