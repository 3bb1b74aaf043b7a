"""Staff console accounts, their sign-in attempts, and the audit log of what staff did.

A password is kept only as a werkzeug hash. `session_version` goes up when the
password changes or the account is disabled, which ends every session signed in
with the old one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, LabelledStrEnum, status_enum, utcnow


class StaffRole(LabelledStrEnum):
    ADMIN = "admin", "管理员"
    OFFICER = "officer", "经办人"
    VIEWER = "viewer", "只读"


class StaffAccount(Base):
    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))  # werkzeug.security.generate_password_hash
    role: Mapped[StaffRole] = mapped_column(status_enum(StaffRole, 16), default=StaffRole.ADMIN)
    display_name: Mapped[str | None] = mapped_column(String(40))
    # A 乡镇/街道 from deploy/areas.toml: the account sees that area only. NULL: the whole county.
    town: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    # Linked by sending the console's one-time code to the account in WeChat: role:staff alerts go here.
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    receives_alerts: Mapped[bool] = mapped_column(default=True)
    link_code_hash: Mapped[str | None] = mapped_column(String(64))
    link_code_expires_at: Mapped[datetime | None]
    session_version: Mapped[int] = mapped_column(default=0)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def name(self) -> str:
        return self.display_name or self.username


class LoginAttempt(Base):
    """Every sign-in try, so throttling works across web workers (no process memory)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool]
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_login_attempt_username", "username", "at"),
        Index("ix_login_attempt_ip", "ip", "at"),
    )


class AuditEntry(Base):
    """Who viewed a person's full details, changed or exported what, when and from where.

    `detail` names fields and counts, never the personal data itself.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[int | None]
    staff_username: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))  # login, reveal, export, request.accept …
    subject: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_subject", "subject", "subject_id"),
        Index("ix_audit_log_staff", "staff_username", "at"),
    )
