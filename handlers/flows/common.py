"""Pieces several flows share: the area questions, contact prefill, option lists."""

from __future__ import annotations

from handlers.forms import Answers, Field, Stop
from handlers.fields import Option, consent
from handlers.message import Context
from services import areas, beneficiaries, volunteers


def town_options(ctx: Context, _answers: Answers) -> list[Option]:
    # The area table (edited in the console); areas.toml only until the table is seeded.
    return [Option(t.name, t.name) for t in areas.towns(ctx.session, ctx.settings)]


def village_options(ctx: Context, answers: Answers) -> list[Option]:
    town = next((t for t in areas.towns(ctx.session, ctx.settings) if t.name == answers.get("town")), None)
    if town is None:
        raise Stop("抱歉，地区列表刚刚更新，请重新开始填写。")
    return [Option(v, v) for v in town.villages]


def area_fields() -> tuple[Field, Field]:
    return (
        Field(
            "town", "乡镇/街道", "您所在的乡镇/街道：", options=town_options, resets=("village",),
            hint="请选择您居住地所属的乡镇或街道，回复前面的数字。",
        ),
        Field(
            "village", "村/社区", "您所在的村/社区：", options=village_options,
            hint="请选择您居住的村或社区，回复前面的数字。",
        ),
    )


def consent_field(notice: str) -> Field:
    return Field(
        "consent", "同意", f"{notice}\n回复“同意”继续，回复“取消”退出。", parse=consent,
        editable=False, in_summary=False,
        hint="我们需要您同意后才能保存信息，这是《个人信息保护法》的要求。",
    )


def known_contact(ctx: Context) -> Answers:
    """What we already know about how to reach this user, to offer instead of asking again."""
    openid = ctx.message.openid
    volunteer = volunteers.find(ctx.session, openid)
    if volunteer is not None and volunteer.mobile:
        return {"name": volunteer.name, "mobile": volunteer.mobile, "town": volunteer.town, "village": volunteer.village}
    own = next((b for b in beneficiaries.registered_by(ctx.session, openid) if b.relation == "self"), None)
    if own is not None:
        return {"name": own.name, "mobile": own.mobile, "town": own.household.town, "village": own.household.village}
    return {}


def numbered(lines: list[str]) -> str:
    return "\n".join(f"{n} {line}" for n, line in enumerate(lines, start=1))
