"""走访慰问台账: every household of a plan with what its visit brought, by town and village,
with a totals row (households, visited, 慰问金)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.exports.common import CATEGORY_LABELS, VISIT_STATUS_LABELS, Export, Options, Table, yuan
from services.exports.visits_common import VisitRow, plan_rows, subtitle, team_names
from services.local_time import local_date

SLUG, NAME = "visit-ledger", "走访慰问台账"
HEADER = ["序号", "户主", "类别", "乡镇（街道）", "村（社区）", "常住地址", "走访组", "走访日期",
          "走访人员", "慰问金（元）", "慰问品", "状态"]
WIDTHS = [6, 10, 16, 12, 12, 30, 14, 12, 16, 12, 16, 11]
MONEY = 9


def build(session: Session, options: Options) -> Export:
    plan, team, rows = plan_rows(session, options)
    teams = team_names(session, (r.team_id for r in rows))
    table = Table(title=NAME, header=HEADER, widths=WIDTHS, money_columns=frozenset({MONEY}))
    table.rows = [_row(n, r, teams) for n, r in enumerate(rows, start=1)]
    table.totals = _totals(rows)
    return Export(SLUG, NAME, subtitle(plan, team, options.town), [table], landscape=True,
                  revealed=options.reveal, subject_id=plan.id)


def _row(n: int, r: VisitRow, teams: dict[int, str]) -> list:
    return [n, r.head.name if r.head else "", CATEGORY_LABELS.get(r.category, "其他"), r.town, r.village,
            r.address or "", teams.get(r.team_id, ""),
            local_date(r.visited_at).isoformat() if r.visited_at else "", r.visitors or "", yuan(r.money_cents),
            r.goods or "", VISIT_STATUS_LABELS.get(r.status, r.status)]


def _totals(rows: list[VisitRow]) -> list:
    done = sum(1 for r in rows if r.status == "done")
    money = sum(r.money_cents or 0 for r in rows)
    goods = sum(1 for r in rows if r.goods)
    return ["合计", f"共{len(rows)}户", "", "", "", "", "", f"已走访{done}户", "", yuan(money),
            f"{goods}户" if goods else "", ""]
