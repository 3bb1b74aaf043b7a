"""优抚对象: persons with one or more statuses (domain.md §1.2), grouped in households.

A person can hold several statuses at once (烈士遗属 and 退役军人 …), so statuses are
rows of their own; visits and 光荣牌 go per household.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from models.base import Base, LabelledStrEnum, status_enum, utcnow
from models.encrypted import EncryptedText, blind_index


class BeneficiaryCategory(enum.StrEnum):
    SOLDIER = "SOLDIER"  # 现役军人
    FAMILY = "FAMILY"  # 军人家属
    MARTYR_F = "MARTYR_F"  # 烈士遗属
    DUTY_F = "DUTY_F"  # 因公牺牲军人遗属
    ILL_F = "ILL_F"  # 病故军人遗属
    DISABLED = "DISABLED"  # 残疾军人
    DEMOB_OLD = "DEMOB_OLD"  # 在乡复员军人
    ILL_RETURN = "ILL_RETURN"  # 带病回乡退伍军人
    WAR_TEST = "WAR_TEST"  # 参战/参试退役人员
    RURAL_OLD = "RURAL_OLD"  # 60岁以上农村籍退役士兵
    MARTYR_CHILD = "MARTYR_CHILD"  # 烈士老年子女
    RED = "RED"  # 红军失散人员 (legacy data only)
    MILITIA = "MILITIA"  # 伤残民兵民工
    VETERAN = "VETERAN"  # 退役军人


class RegistrationStatus(LabelledStrEnum):
    PENDING = "pending", "待核实"
    VERIFIED = "verified", "已核实"
    REJECTED = "rejected", "未通过"
    ERASED = "erased", "已删除"  # the person asked for their data to be deleted


class EndReason(LabelledStrEnum):
    """Why a person's entitlement ended (优抚对象 leave the roster, they are never deleted)."""

    DIED = "died", "去世"
    MOVED = "moved", "迁出"
    REASSESSED = "reassessed", "资格变更"


class DisabilityCause(LabelledStrEnum):
    WAR = "war", "因战"
    DUTY = "duty", "因公"
    ILLNESS = "illness", "因病"


# A member's relation to the 户主, read as "this person is the head's …" (配偶 = the head's
# spouse, 子女 = the head's child), so the direction is never ambiguous.
RELATIONS_TO_HEAD = ("户主", "配偶", "子女", "父母", "祖父母", "孙子女", "兄弟姐妹", "儿媳女婿", "其他")


class Household(Base):
    """One household however many people registered it. `address` is 常住地 (where visitors go);
    `hukou_address` is 户籍地. Visits, 光荣牌 and 优待金 go per household."""

    __tablename__ = "household"

    id: Mapped[int] = mapped_column(primary_key=True)
    town: Mapped[str] = mapped_column(String(40))  # 乡镇/街道 (a name of the area table)
    village: Mapped[str] = mapped_column(String(40))  # 村/社区
    address: Mapped[str | None] = mapped_column(EncryptedText())
    address_bi: Mapped[str | None] = mapped_column(String(64))  # blind index: same household
    hukou_address: Mapped[str | None] = mapped_column(EncryptedText())  # 户籍地
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiary.id", ondelete="SET NULL", use_alter=True, name="fk_household_head_id_beneficiary")
    )
    conscript_family: Mapped[bool] = mapped_column(Boolean, default=False)  # 义务兵家庭: 优待金
    honor_plaque_on: Mapped[date | None] = mapped_column(Date)  # 光荣牌 悬挂 date
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list["Beneficiary"]] = relationship(
        back_populates="household", foreign_keys="Beneficiary.household_id"
    )

    __table_args__ = (Index("ix_household_address_bi", "town", "village", "address_bi"),)

    @validates("address")
    def _index_address(self, _key: str, value: str | None) -> str | None:
        self.address_bi = blind_index(value)
        return value


class Beneficiary(Base):
    __tablename__ = "beneficiary"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # YF2026-0007
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    name: Mapped[str] = mapped_column(EncryptedText())
    name_bi: Mapped[str | None] = mapped_column(String(64), index=True)  # blind index: exact-name search
    mobile: Mapped[str | None] = mapped_column(EncryptedText())
    id_number: Mapped[str | None] = mapped_column(EncryptedText())
    mobile_bi: Mapped[str | None] = mapped_column(String(64), index=True)  # blind indexes: duplicates, search
    id_number_bi: Mapped[str | None] = mapped_column(String(64), index=True)
    # Who registered this person from the chat, and how they are related (本人, 子女 …).
    registered_by: Mapped[str | None] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(16))
    relation_to_head: Mapped[str | None] = mapped_column(String(16))  # one of RELATIONS_TO_HEAD
    key_care: Mapped[bool] = mapped_column(Boolean, default=False)  # 重点优抚对象 (定期抚恤补助)
    lonely_elderly: Mapped[bool] = mapped_column(Boolean, default=False)  # 孤老
    hardship: Mapped[bool] = mapped_column(Boolean, default=False)  # 生活困难
    card_number: Mapped[str | None] = mapped_column(EncryptedText())  # 优待证 number
    # End of entitlement: the person stays on record, leaves every plan and list.
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[EndReason | None] = mapped_column(status_enum(EndReason, 16))
    source: Mapped[str] = mapped_column(String(16), default="chat")  # chat | import | console
    status: Mapped[RegistrationStatus] = mapped_column(
        status_enum(RegistrationStatus), default=RegistrationStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    household: Mapped[Household] = relationship(back_populates="members", foreign_keys=[household_id])
    statuses: Mapped[list["BeneficiaryStatus"]] = relationship(
        back_populates="beneficiary", cascade="all, delete-orphan", order_by="BeneficiaryStatus.id"
    )

    __table_args__ = (Index("ix_beneficiary_registered_by", "registered_by"),)

    @validates("name")
    def _index_name(self, _key: str, value: str | None) -> str | None:
        self.name_bi = blind_index(value, "name")
        return value

    @validates("mobile")
    def _index_mobile(self, _key: str, value: str | None) -> str | None:
        self.mobile_bi = blind_index(value, "phone")
        return value

    @validates("id_number")
    def _index_id_number(self, _key: str, value: str | None) -> str | None:
        self.id_number_bi = blind_index(value, "id")
        return value


class BeneficiaryStatus(Base):
    """One status a person holds, with dates and evidence once staff verify it."""

    __tablename__ = "beneficiary_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"))
    category: Mapped[BeneficiaryCategory] = mapped_column(status_enum(BeneficiaryCategory, 16))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    evidence_ref: Mapped[str | None] = mapped_column(String(200))
    # 残疾军人: 残疾等级 (1–10) and its cause.
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    disability_cause: Mapped[DisabilityCause | None] = mapped_column(status_enum(DisabilityCause, 16))
    # 烈士/因公牺牲/病故军人遗属: the soldier the family is related to, and how: "the soldier is
    # this person's …" (父亲, 配偶, 子女, 兄弟姐妹).
    deceased_name: Mapped[str | None] = mapped_column(EncryptedText())
    deceased_relation: Mapped[str | None] = mapped_column(String(16))
    deceased_on: Mapped[date | None] = mapped_column(Date)

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="statuses")

    __table_args__ = (Index("ix_beneficiary_status_beneficiary_id", "beneficiary_id"),)
