"""Per-team visit lists for the visitors: one table per team, in visiting order (三属 and other
重点 first, then by village), with the address and a phone to call ahead, the number to
report the visit by in the chat ("已走访 编号"), and a column to sign.

As in the chat lists (services.visit_lists, domain.md PI-11), visitors get no ID number and
no category: 重点 marks the households to visit first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.visits import VisitTeamMember
from models.volunteer import Volunteer
from services.exports.common import VISIT_STATUS_LABELS, Export, Options, Table, phone
from services.exports.visits_common import VisitRow, plan_rows, subtitle, team_names
from services.visit_lists import KEY_PRIORITY

SLUG, NAME = "team-lists", "走访组走访名单"
HEADER = ["序号", "编号", "户主", "村（社区）", "常住地址", "联系电话", "重点", "负责人", "挂点领导", "状态",
          "走访人签名"]
WIDTHS = [6, 8, 10, 12, 32, 14, 6, 10, 10, 11, 16]
SIGN = 10
NO_TEAM = "未分组"


def build(session: Session, options: Options) -> Export:
    plan, team, rows = plan_rows(session, options, order="visit", with_phone=True)
    teams = team_names(session, (r.team_id for r in rows))
    members = _member_names(session, {r.member_id for r in rows if r.member_id is not None})
    tables: dict[int | None, Table] = {}
    for r in rows:
        table = tables.get(r.team_id)
        if table is None:
            title = teams.get(r.team_id, NO_TEAM)
            table = tables[r.team_id] = Table(title=title, header=HEADER, widths=WIDTHS, sign_columns=frozenset({SIGN}))
        table.rows.append(_row(len(table.rows) + 1, r, members, options.reveal))
    for table in tables.values():
        key = sum(1 for row in table.rows if row[6])
        table.totals = ["合计", "", f"共{len(table.rows)}户", "", "", "", f"{key}户", "", "", "", ""]
    ordered = sorted(tables.values(), key=lambda t: t.title == NO_TEAM)  # teams in id order, 未分组 last
    return Export(SLUG, NAME, subtitle(plan, team, options.town), ordered, landscape=True, revealed=options.reveal,
                  subject_id=plan.id)


def _row(n: int, r: VisitRow, members: dict[int, str], reveal: bool) -> list:
    return [n, r.id, r.head.name if r.head else "", r.village, r.address or "",
            phone(r.head.mobile if r.head else None, reveal), "重点" if r.priority <= KEY_PRIORITY else "",
            members.get(r.member_id, ""), r.leader or "", VISIT_STATUS_LABELS.get(r.status, r.status), ""]


def _member_names(session: Session, member_ids: set[int]) -> dict[int, str]:
    """Volunteers by name; staff members of a team as 工作人员 (their accounts are not people's names here)."""
    if not member_ids:
        return {}
    rows = session.execute(
        select(VisitTeamMember.id, Volunteer.name)
        .outerjoin(Volunteer, Volunteer.id == VisitTeamMember.volunteer_id)
        .where(VisitTeamMember.id.in_(sorted(member_ids)))
    )
    return {member_id: name or "工作人员" for member_id, name in rows}
