"""Staff console accounts: create, change password, disable, sign in with throttling, link WeChat.

Used by the CLI (`python -m bot staff-user …`), the console's account pages and the
chat (a staff member sends "绑定 123456" to link their WeChat). Passwords are kept
only as werkzeug hashes; sign-in attempts are rows, so throttling holds across
web workers.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.outbound import StaffOpenid
from models.staff_account import LoginAttempt, StaffAccount, StaffRole

USERNAME = re.compile(r"[A-Za-z0-9_.\-]{2,40}")
MIN_PASSWORD = 10
LOCK_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20
LINK_CODE_TTL = timedelta(minutes=10)
LINK_WORDS = re.compile(r"^\s*绑定\s*(\d{6})\s*$")
# Wrong codes sent from one WeChat are counted like failed sign-ins (login_attempt rows
# under a name no account can have), so nobody can try the million codes.
LINK_ATTEMPT = "#wechat-link"
MAX_LINK_FAILURES = 5
TOO_MANY_TRIES = "尝试次数过多，请15分钟后再试。"
@functools.cache
def _dummy_hash() -> str:
    """A hash to compare against when the username does not exist, so both cases take as long.
    Made at the first sign-in, not at import: every process imports this module (CLI commands,
    workers, the scheduler) and the hash costs about 0.1 s of CPU."""
    return generate_password_hash("not a real password")


class AccountError(ValueError):
    """A request about an account that cannot be carried out; the text is fit to show."""


@dataclass(frozen=True)
class SignIn:
    account: StaffAccount | None
    error: str | None = None


def by_username(session: Session, username: str) -> StaffAccount | None:
    return session.scalars(select(StaffAccount).where(StaffAccount.username == username)).first()


def by_id(session: Session, account_id: int) -> StaffAccount | None:
    return session.get(StaffAccount, account_id)


def all_accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.username)))


def active_accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).where(StaffAccount.active.is_(True)).order_by(StaffAccount.username)))


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少{MIN_PASSWORD}位。")
    if password.isdigit() or password.isalpha():
        raise AccountError("密码请同时包含字母和数字。")
    return password


def create(
    session: Session, username: str, password: str, now: datetime, *,
    role: StaffRole = StaffRole.OFFICER, town: str | None = None, display_name: str | None = None,
) -> StaffAccount:
    if not USERNAME.fullmatch(username or ""):
        raise AccountError("用户名为2到40位字母、数字、下划线、点或减号。")
    if by_username(session, username) is not None:
        raise AccountError(f"用户名{username}已存在。")
    account = StaffAccount(
        username=username,
        password_hash=generate_password_hash(check_password(password)),
        role=StaffRole(role),
        town=town or None,
        display_name=(display_name or "").strip() or None,
        active=True,
        password_changed_at=now,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def set_password(session: Session, account: StaffAccount, password: str, now: datetime) -> None:
    """A new password ends every session signed in with the old one."""
    account.password_hash = generate_password_hash(check_password(password))
    account.password_changed_at = now
    account.session_version += 1


def update(
    session: Session, account: StaffAccount, *, role: StaffRole, town: str | None, display_name: str | None,
    receives_alerts: bool,
) -> None:
    role = StaffRole(role)
    if account.role == StaffRole.ADMIN and role != StaffRole.ADMIN and account.active and _active_admins(session) <= 1:
        raise AccountError("这是最后一个启用的管理员账号，不能改为其他角色。")
    if account.role != role or account.town != (town or None):
        account.session_version += 1  # new powers take effect at the next sign-in, not mid-session
    account.role = role
    account.town = town or None
    account.display_name = (display_name or "").strip() or None
    account.receives_alerts = receives_alerts


def change_own_password(session: Session, account: StaffAccount, current: str, new: str, now: datetime) -> None:
    """A signed-in member changing their own password: the current one is asked for first."""
    if not check_password_hash(account.password_hash, current or ""):
        raise AccountError("当前密码不对。")
    set_password(session, account, new, now)


def disable(session: Session, account: StaffAccount) -> None:
    if account.role == StaffRole.ADMIN and account.active and _active_admins(session) <= 1:
        raise AccountError("这是最后一个启用的管理员账号，不能停用。")
    account.active = False
    account.session_version += 1


def enable(session: Session, account: StaffAccount) -> None:
    account.active = True


def _active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(StaffAccount)
        .where(StaffAccount.role == StaffRole.ADMIN, StaffAccount.active.is_(True))
    ) or 0


# --- signing in ----------------------------------------------------------------------


def sign_in(session: Session, username: str, password: str, ip: str, now: datetime) -> SignIn:
    """Check a password with throttling per username and per address; every try is a row."""
    username = (username or "").strip()[:40]
    since = now - LOCK_WINDOW
    if _failures(session, LoginAttempt.username == username, since) >= MAX_FAILURES_PER_USER or \
            _failures(session, LoginAttempt.ip == ip, since) >= MAX_FAILURES_PER_IP:
        session.add(LoginAttempt(username=username, ip=ip, success=False, at=now))
        return SignIn(None, TOO_MANY_TRIES)
    account = by_username(session, username)
    valid = check_password_hash(account.password_hash if account else _dummy_hash(), password or "")
    ok = bool(account and valid and account.active)
    session.add(LoginAttempt(username=username, ip=ip, success=ok, at=now))
    if not ok:
        if account and valid and not account.active:
            return SignIn(None, "这个账号已停用，请联系管理员。")
        return SignIn(None, "用户名或密码不对，请重新输入。")
    account.last_login_at = now
    return SignIn(account)


def _failures(session: Session, who, since: datetime) -> int:
    last_success = select(func.max(LoginAttempt.at)).where(who, LoginAttempt.success.is_(True)).scalar_subquery()
    return session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            who, LoginAttempt.success.is_(False), LoginAttempt.at >= since,
            LoginAttempt.at > func.coalesce(last_success, since),
        )
    ) or 0


def prune_attempts(session: Session, now: datetime, keep: timedelta = timedelta(days=90)) -> int:
    rows = session.execute(LoginAttempt.__table__.delete().where(LoginAttempt.at < now - keep))
    return rows.rowcount or 0


# --- linking WeChat ------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(f"staff-link:{code}".encode()).hexdigest()


def new_link_code(session: Session, account: StaffAccount, now: datetime) -> str:
    """A 6-digit code the staff member sends to the official account to link their WeChat."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    account.link_code_hash = _code_hash(code)
    account.link_code_expires_at = now + LINK_CODE_TTL
    return code


def link_by_code(session: Session, code: str, openid: str, now: datetime) -> StaffAccount | None:
    """The account whose live code this is, now linked to `openid`; None for a wrong or stale code.

    AccountError after too many wrong codes from this WeChat in the last 15 minutes.
    """
    who = and_(LoginAttempt.username == LINK_ATTEMPT, LoginAttempt.ip == openid[:64])
    if _failures(session, who, now - LOCK_WINDOW) >= MAX_LINK_FAILURES:
        raise AccountError(TOO_MANY_TRIES)
    digest = _code_hash(code)
    account = session.scalars(
        select(StaffAccount).where(StaffAccount.link_code_hash == digest, StaffAccount.active.is_(True))
    ).first()
    ok = bool(account is not None and account.link_code_expires_at is not None
              and account.link_code_expires_at >= now and hmac.compare_digest(account.link_code_hash, digest))
    session.add(LoginAttempt(username=LINK_ATTEMPT, ip=openid[:64], success=ok, at=now))
    if not ok:
        return None
    other = session.scalars(select(StaffAccount).where(StaffAccount.wechat_openid == openid)).first()
    if other is not None and other.id != account.id:
        other.wechat_openid = None  # one WeChat, one account
        session.flush()  # the unique openid is free before it is given to this account
    account.wechat_openid = openid
    account.link_code_hash = None
    account.link_code_expires_at = None
    return account


def unlink(session: Session, account: StaffAccount) -> None:
    account.wechat_openid = None


def alert_openids(session: Session, role: str) -> list[str]:
    """Who gets messages addressed to role:<role>: linked active accounts plus hand-added openids."""
    linked = session.scalars(
        select(StaffAccount.wechat_openid).where(
            StaffAccount.active.is_(True), StaffAccount.receives_alerts.is_(True),
            StaffAccount.wechat_openid.is_not(None),
        ).order_by(StaffAccount.id)
    ).all() if role == "staff" else []
    added = session.scalars(select(StaffOpenid.openid).where(StaffOpenid.role == role).order_by(StaffOpenid.id)).all()
    return list(dict.fromkeys([*linked, *added]))
