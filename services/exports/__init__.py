"""The exports staff print and hand on (issue 13): each a function from the database to titled
tables, shared by the console (bot/console/exports.py) and the CLI (`python -m bot export`).

Every export masks phones and ID numbers unless `Options.reveal`, keeps to `Options.town`
(a township account's own 乡镇), and is written to the audit log with its row count
(`audit_export`).
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType

from sqlalchemy.orm import Session

from models.staff_account import StaffAccount
from services import audit
from services.exports import conscript_allowance, relief_signoff, roster, team_lists, visit_ledger
from services.exports.common import Export, ExportError, Options, Table, list_plans

__all__ = ["EXPORTS", "Export", "ExportError", "Options", "Table", "audit_export", "build", "list_plans", "needs_plan"]

EXPORTS: dict[str, ModuleType] = {m.SLUG: m for m in (visit_ledger, team_lists, relief_signoff, roster,
                                                       conscript_allowance)}
PLAN_EXPORTS = frozenset({visit_ledger.SLUG, team_lists.SLUG, relief_signoff.SLUG})


def needs_plan(slug: str) -> bool:
    return slug in PLAN_EXPORTS


def build(session: Session, slug: str, options: Options) -> Export:
    module = EXPORTS.get(slug)
    if module is None:
        raise ExportError(f"没有“{slug}”这种导出。")
    return module.build(session, options)


def audit_export(session: Session, export: Export, *, at: datetime, staff: StaffAccount | None = None,
                 username: str | None = None, ip: str | None = None, kind: str = "Excel",
                 subject: str | None = "beneficiary") -> None:
    """One audit row per export: what, which plan or filters, how many rows, full numbers or not."""
    revealed = "；含完整电话和身份证号" if export.revealed else ""
    audit.record(session, staff, "export", subject=subject, username=username, ip=ip, at=at,
                 detail=f"{export.name}（{kind}）：{export.subtitle}；{export.row_count}行{revealed}")
