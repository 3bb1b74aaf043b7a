"""志愿服务队: a named team with its 授旗 date, and its members (volunteers)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.volunteer import Volunteer


class VolunteerTeam(Base):
    __tablename__ = "volunteer_team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    town: Mapped[str | None] = mapped_column(String(40))  # None: a county-wide team
    flag_date: Mapped[date | None] = mapped_column(Date)  # 授旗日期
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list["VolunteerTeamMember"]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="VolunteerTeamMember.id"
    )


class VolunteerTeamMember(Base):
    __tablename__ = "volunteer_team_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_team.id", ondelete="CASCADE"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id"), index=True)
    joined_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[VolunteerTeam] = relationship(back_populates="members")
    volunteer: Mapped[Volunteer] = relationship()

    __table_args__ = (UniqueConstraint("team_id", "volunteer_id"),)
