"""Who may do what in the console: one table of roles per action, plus the area scope.

Every view asks `require(action)` (a decorator) and, for a record, `in_scope`;
tests walk this table as a matrix (each role × each action × in/out of area).
"""

from __future__ import annotations

import functools
from typing import Callable

from flask import abort
from flask_login import current_user, login_required

from models.staff_account import StaffAccount, StaffRole

ADMIN, OFFICER, VIEWER = StaffRole.ADMIN, StaffRole.OFFICER, StaffRole.VIEWER

RULES: dict[str, frozenset[StaffRole]] = {
    "view": frozenset({ADMIN, OFFICER, VIEWER}),  # work queue, lists, details (masked)
    "request.act": frozenset({ADMIN, OFFICER}),  # 受理 转办 指派 备注 办结 不予受理 重新办理
    "registration.review": frozenset({ADMIN, OFFICER}),  # 通过 / 不通过
    "handover.reply": frozenset({ADMIN, OFFICER}),  # answer and close 人工 chats
    "reveal": frozenset({ADMIN, OFFICER}),  # show a full phone or ID number (audited)
    "export": frozenset({ADMIN, OFFICER}),  # Excel of a list (audited)
    "personal.export": frozenset({ADMIN, OFFICER}),  # a person's copy of their data, on their request (audited)
    "personal.erase": frozenset({ADMIN}),  # a person's deletion request carried out (audited)
    "outbox.view": frozenset({ADMIN}),  # the delivery log
    "outbox.manage": frozenset({ADMIN}),  # retry / cancel a push
    "audit.view": frozenset({ADMIN}),
    "staff.manage": frozenset({ADMIN}),  # accounts, roles, areas
    "roster.import": frozenset({ADMIN, OFFICER}),  # Excel 台账 import (a township account: its own 乡镇 only)
    "roster.edit": frozenset({ADMIN, OFFICER}),  # 优抚对象: edit a person, status, household; end an entitlement
    "roster.merge": frozenset({ADMIN}),  # merge duplicate people or households (audited)
    "areas.manage": frozenset({ADMIN}),  # the area table and the visit teams
    "visit.record": frozenset({ADMIN, OFFICER}),  # 走访慰问: record or correct a visit, 挂点领导
    "visit.photo": frozenset({ADMIN, OFFICER}),  # see a visit's photos (faces, homes: not for 只读)
    "activity.manage": frozenset({ADMIN, OFFICER}),  # create, edit, cancel activities; check-in codes; 代签到
    "hours.approve": frozenset({ADMIN, OFFICER}),  # approve and correct service hours (audited)
    "volunteer.manage": frozenset({ADMIN, OFFICER}),  # teams, members, a volunteer's ID number (audited)
    "notice.send": frozenset({ADMIN, OFFICER}),  # compose, schedule, cancel notices (township: own 乡镇 only)
    "content.edit": frozenset({ADMIN, OFFICER}),  # FAQ and publicity calendar (county-wide accounts)
    "calendar.edit": frozenset({ADMIN, OFFICER}),  # calendar rules, reminder lead times, 放假调休 (county-wide)
    # The national hours record (audited); like every export, not for 只读 accounts.
    "hours.export": frozenset({ADMIN, OFFICER}),
}


def can(staff: StaffAccount | None, action: str) -> bool:
    if staff is None or not getattr(staff, "is_authenticated", False):
        return False
    return staff.role in RULES[action]


def in_scope(staff: StaffAccount, town: str | None) -> bool:
    """A county-wide account sees everything; a township account its own township only.

    Records with no known township (a request from someone not registered) belong to
    the county office.
    """
    return staff.town is None or (town is not None and town == staff.town)


def require(action: str) -> Callable:
    """Sign-in required, then the role: 403 with a plain explanation otherwise."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not can(current_user, action):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_action = action  # the route-coverage test reads this
        return wrapped

    return decorate


def check_scope(town: str | None) -> None:
    """404 rather than 403 outside the area: a township officer does not learn the record exists."""
    if not in_scope(current_user, town):
        abort(404)


def found(record, town_of: Callable = lambda record: record.town):
    """The record a URL names: 404 when there is none or it lies outside the account's area."""
    if record is None:
        abort(404)
    check_scope(town_of(record))
    return record


def scope_filter(column):
    """A WHERE clause limiting a query to the signed-in account's area (None: no limit)."""
    if current_user.town is None:
        return None
    return column == current_user.town
