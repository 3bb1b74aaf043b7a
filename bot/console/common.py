"""Small helpers every console view uses: the clock, the signed-in account, audit, paging."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import flash, request
from flask_login import current_user

from bot.console import db
from bot.runtime import runtime
from models.staff_account import StaffAccount
from services import audit

PER_PAGE = 50
MAX_ID = 2**31 - 1  # the database's integer: a larger id names no record (and would crash the query)


def now() -> datetime:
    return runtime().clock()


def me() -> StaffAccount:
    """The signed-in account as a database row of this request's session."""
    return current_user.account


def actor() -> str:
    return f"staff:{me().username}"


def client_ip() -> str:
    return request.remote_addr or "-"  # ProxyFix puts the real address here behind nginx


def record(action: str, *, subject: str | None = None, subject_id: int | None = None,
           detail: str | None = None) -> None:
    audit.record(db(), me(), action, subject=subject, subject_id=subject_id, detail=detail,
                 ip=client_ip(), at=now())


def commit(message: str | None = None) -> None:
    """Commit the request's work (SQLite writers queue on the process's write lock first)."""
    with runtime().serial_writes:
        db().commit()
    if message:
        flash(message, "success")


def parse_id(value: str | None) -> int | None:
    """A record id from a form or the address: ASCII digits within the database's integer, else None."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        number = int(value)
        return number if 0 < number <= MAX_ID else None
    return None


def page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 100_000))
    except ValueError:
        return 1


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    number: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.total)

    def url(self, number: int) -> str:
        """The same list (filters kept) on another page."""
        args = {k: v for k, v in request.args.items() if k != "page" and v}
        args["page"] = number
        return f"{request.path}?{urlencode(args)}"


def query_args(**changes) -> str:
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    args.update({k: v for k, v in changes.items() if v is not None})
    return urlencode(args)

