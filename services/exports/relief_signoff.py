"""慰问金签领表: who receives the 慰问金 of a plan, the amount, and blank columns for the
recipient's signature and the date; a totals row. One table per town (each town's 服务站
hands out its own), households in village order."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from services.exports.common import CATEGORY_LABELS, Export, Options, Table, yuan
from services.exports.visits_common import VisitRow, plan_rows, subtitle

SLUG, NAME = "relief-signoff", "慰问金签领表"
HEADER = ["序号", "姓名", "类别", "村（社区）", "金额（元）", "领取人签名", "领取日期", "备注"]
WIDTHS = [6, 12, 18, 14, 12, 22, 14, 14]
MONEY, SIGN, DATE = 4, 5, 6


def build(session: Session, options: Options) -> Export:
    plan, team, rows = plan_rows(session, options)
    tables: dict[str, Table] = {}
    for r in rows:
        table = tables.get(r.town)
        if table is None:
            table = tables[r.town] = Table(title=r.town, header=HEADER, widths=WIDTHS, money_columns=frozenset({MONEY}),
                                           sign_columns=frozenset({SIGN, DATE}))
        table.rows.append(_row(len(table.rows) + 1, r))
    for table in tables.values():
        total = sum((row[MONEY] for row in table.rows if row[MONEY] is not None), Decimal("0.00"))
        table.totals = ["合计", f"共{len(table.rows)}人", "", "", total, "", "", ""]
    return Export(SLUG, NAME, subtitle(plan, team, options.town), list(tables.values()), landscape=False,
                  revealed=options.reveal, subject_id=plan.id)


def _row(n: int, r: VisitRow) -> list:
    return [n, r.head.name if r.head else "", CATEGORY_LABELS.get(r.category, "其他"), r.village,
            yuan(r.money_cents), "", "", ""]
