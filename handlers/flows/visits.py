"""登记走访: a visit team member reports a household of their list as visited ("已走访 编号")."""

from __future__ import annotations

import re

from handlers.fields import normalize
from handlers.message import Context
from models.beneficiary import Household
from services import visit_plans

PATTERN = re.compile(r"已走访\s*(?:编号)?\s*(\d{1,9})")


def record(ctx: Context) -> str:
    match = PATTERN.search(normalize(ctx.message.text))
    if match is None:
        return "请回复“已走访 编号”，例如“已走访 12”。编号在走访名单里。"
    visit_id = int(match.group(1))
    try:
        visit, left = visit_plans.record_by_member(ctx.session, visit_id, ctx.message.openid, ctx.now)
    except visit_plans.VisitError as error:
        return str(error)
    village = ctx.session.get(Household, visit.household_id).village
    rest = f"本组还有 {left} 户待走访。" if left else "本组名单已全部走访完成，辛苦了！"
    return f"已登记：编号{visit_id}（{village}）已走访。谢谢您！{rest}"
