"""The roster's surroundings: the area tree (县/区 → 乡镇/街道 → 村/社区), the history of
staff edits to a person or household, and Excel imports (column mappings kept per site,
one batch row per confirmed file)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, LabelledStrEnum, status_enum, utcnow
from models.encrypted import EncryptedText


class AreaLevel(LabelledStrEnum):
    COUNTY = "county", "县/区"
    TOWN = "town", "乡镇/街道"
    VILLAGE = "village", "村/社区"


class Area(Base):
    """Seeded from deploy/areas.toml when empty, then edited in the console. Households keep
    the names (town, village) so a renamed area is renamed in one service call."""

    __tablename__ = "area"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"))
    level: Mapped[AreaLevel] = mapped_column(status_enum(AreaLevel, 16))
    name: Mapped[str] = mapped_column(String(40))
    code: Mapped[str | None] = mapped_column(String(12))  # 统计用区划代码, optional
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    children: Mapped[list["Area"]] = relationship(order_by="(Area.position, Area.id)")

    __table_args__ = (UniqueConstraint("parent_id", "name"), Index("ix_area_level", "level", "active"))


class RosterChange(Base):
    """One field of a person or household changed by staff or an import: the edit history.
    Values are encrypted, as the record itself is."""

    __tablename__ = "roster_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(24))  # beneficiary | household | beneficiary_status
    subject_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(EncryptedText())
    new_value: Mapped[str | None] = mapped_column(EncryptedText())
    actor: Mapped[str] = mapped_column(String(64))  # staff:<id> | import:<batch id> | system
    reason: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_roster_change_subject", "subject", "subject_id", "at"),)


class ImportMapping(Base):
    """How a county's 台账 columns map onto roster fields, saved once per header layout."""

    __tablename__ = "import_mapping"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), default="roster")
    header_key: Mapped[str] = mapped_column(String(64))  # hash of the normalised header row
    headers: Mapped[list] = mapped_column(JSON)  # the header texts as found
    mapping: Mapped[dict] = mapped_column(JSON)  # header text → field name
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("kind", "header_key"),)


class ImportBatch(Base):
    """One confirmed import: which file (by hash), what it did. A file whose rows all match
    what is stored changes nothing and says so."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), default="roster")
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
