"""绑定 123456: a staff member links their WeChat to their console account.

The code comes from the console's 我的账号 page; once linked, `role:staff` alerts
(the morning digest, overdue requests) reach this WeChat.
"""

from __future__ import annotations

from handlers.fields import normalize
from handlers.message import Context
from services import audit, staff_accounts

WRONG_CODE = "绑定码不对或已过期，请在工作台“我的账号”重新获取。"


def _code(ctx: Context) -> str | None:
    if ctx.message.msg_type != "text":
        return None
    match = staff_accounts.LINK_WORDS.match(normalize(ctx.message.text))
    return match.group(1) if match else None


def is_link_request(ctx: Context) -> bool:
    return _code(ctx) is not None


def link(ctx: Context) -> str:
    try:
        account = staff_accounts.link_by_code(ctx.session, _code(ctx), ctx.message.openid, ctx.now)
    except staff_accounts.AccountError as error:
        return str(error)
    if account is None:
        return WRONG_CODE
    audit.record(ctx.session, account, "staff.link", subject="staff_account", subject_id=account.id,
                 detail="在公众号发送绑定码完成绑定", ip="wechat", at=ctx.now)
    return f"绑定成功！以后工作提醒会发到这个微信。（账号：{account.username}）"
