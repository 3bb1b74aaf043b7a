"""Calendar expressions for campaign windows, resolved around an anchor day.

    expression := term | min(term, term, …) | max(term, term, …)
    term       := rule_code[±days] | MM-DD[±days]

A rule code is a calendar_rule (laba, yuanxiao, bayi …), a MM-DD a Gregorian day; each
term is the occurrence nearest the anchor (either side), so "laba" for 春节 2027 is
2027-01-15 and "01-15" is the 15 January of the anchor's season. "min(laba, 01-15)" is
whichever comes first: the 两节 campaign's start.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.calendar import CalendarRule
from services.holiday_calendar import RuleError, _safe_date, nearest_occurrence

_FUNCTION = re.compile(r"^\s*(min|max)\s*\((.*)\)\s*$", re.IGNORECASE)
_TERM = re.compile(r"^\s*(?:(\d{1,2})-(\d{1,2})|([a-z][a-z0-9_]*))\s*(?:([+-])\s*(\d{1,3}))?\s*$")


Rules = Mapping[str, CalendarRule]


def rules_by_code(session: Session) -> dict[str, CalendarRule]:
    """Every calendar rule by code: read once for all the expressions of a run."""
    return {rule.code: rule for rule in session.scalars(select(CalendarRule))}


def resolve(rules: Rules, expression: str, anchor: date) -> date:
    """The day an expression names for the campaign anchored at `anchor`; RuleError if wrong."""
    function = _FUNCTION.match(expression or "")
    if function is None:
        return _term(rules, expression, anchor)
    days = [_term(rules, part, anchor) for part in function.group(2).split(",")]
    return min(days) if function.group(1).lower() == "min" else max(days)


def check(session: Session, expression: str) -> str:
    """The expression if it resolves (tried around 春节 2027), else RuleError for staff."""
    resolve(rules_by_code(session), expression, date(2027, 2, 6))
    return expression.strip()


def _term(rules: Rules, text: str, anchor: date) -> date:
    found = _TERM.match((text or "").strip().lower())
    if found is None:
        raise RuleError(f"日期写法不对：{text!r}（例如laba、01-15、bayi-12、min(laba, 01-15)）")
    month, day, code, sign, amount = found.groups()
    offset = int(amount or 0) * (-1 if sign == "-" else 1)
    if code is not None:
        rule = rules.get(code)
        if rule is None:
            raise RuleError(f"走访活动引用了不存在的日历规则{code}")
        occurrence = nearest_occurrence(rule, anchor, before=False)
        if occurrence is None:
            raise RuleError(f"日历规则{code}在{anchor.year}年前后没有日期")
        return occurrence.start + timedelta(days=offset)
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        raise RuleError(f"日期写法不对：{text!r}")
    candidates = [_safe_date(anchor.year + shift, int(month), int(day)) for shift in (-1, 0, 1)]
    return min(candidates, key=lambda d: abs((d - anchor).days)) + timedelta(days=offset)
