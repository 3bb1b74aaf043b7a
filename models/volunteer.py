"""拥军志愿者: registration from the chat, reviewed by staff."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from models.base import Base, LabelledStrEnum, status_enum, utcnow
from models.encrypted import EncryptedText, blind_index


class VolunteerStatus(LabelledStrEnum):
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "未通过"
    WITHDRAWN = "withdrawn", "已退出"  # also after the person asked to delete their data


class Volunteer(Base):
    __tablename__ = "volunteer"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # ZY2026-0042
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(EncryptedText())
    name_bi: Mapped[str | None] = mapped_column(String(64), index=True)  # blind index: exact-name search
    mobile: Mapped[str | None] = mapped_column(EncryptedText())
    mobile_bi: Mapped[str | None] = mapped_column(String(64), index=True)  # blind index: duplicates, search
    town: Mapped[str] = mapped_column(String(40))
    village: Mapped[str] = mapped_column(String(40))
    skills: Mapped[Any] = mapped_column(JSON)  # list of skill codes
    availability: Mapped[str] = mapped_column(String(16))
    status: Mapped[VolunteerStatus] = mapped_column(status_enum(VolunteerStatus), default=VolunteerStatus.PENDING)
    service_minutes: Mapped[int] = mapped_column(default=0)  # confirmed 志愿服务时长
    # 证件号码 for the national volunteer record; entered by staff, never asked in the chat.
    id_number: Mapped[str | None] = mapped_column(EncryptedText())
    id_number_bi: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @validates("name")
    def _index_name(self, _key: str, value: str | None) -> str | None:
        self.name_bi = blind_index(value, "name")
        return value

    @validates("id_number")
    def _index_id_number(self, _key: str, value: str | None) -> str | None:
        self.id_number_bi = blind_index(value, "id")
        return value

    @validates("mobile")
    def _index_mobile(self, _key: str, value: str | None) -> str | None:
        self.mobile_bi = blind_index(value, "phone")
        return value
