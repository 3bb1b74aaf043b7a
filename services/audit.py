"""The audit log: who viewed a person's full details, changed or exported what, when, from where.

Entries name the action, the record and the fields involved, never the personal
data itself, so the log can be read by an auditor without exposing anyone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.staff_account import AuditEntry, StaffAccount

ACTION_LABELS = {
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出登录",
    "reveal": "查看完整信息",
    "export": "导出",
    "personal.export": "导出个人信息",
    "personal.erase": "删除个人信息",
    "request.accept": "受理求助",
    "request.transfer": "转办求助",
    "request.assign": "指派求助",
    "request.note": "添加备注",
    "request.resolve": "办结求助",
    "request.reject": "不予受理",
    "request.reopen": "重新办理",
    "request.follow_up": "记录回访",
    "registration.approve": "通过审核",
    "registration.reject": "审核不通过",
    "roster.edit": "修改优抚对象",
    "roster.end": "终止优抚资格",
    "roster.restore": "恢复在册",
    "roster.merge": "合并重复记录",
    "area.add": "添加区域",
    "area.rename": "修改区域",
    "area.enable": "启用区域",
    "area.disable": "停用区域",
    "team.create": "新建走访组",
    "team.update": "修改走访组",
    "team.member_add": "加入走访组成员",
    "team.member_remove": "移出走访组成员",
    "visit.record": "登记走访",
    "visit.correct": "更正走访记录",
    "visit.leader": "安排挂点领导",
    "visit.photo_delete": "删除走访照片",
    "handover.reply": "人工回复",
    "handover.close": "结束人工会话",
    "outbox.retry": "重发消息",
    "outbox.cancel": "取消消息",
    "staff.create": "新建账号",
    "staff.update": "修改账号",
    "staff.password": "重设密码",
    "staff.disable": "停用账号",
    "staff.enable": "启用账号",
    "roster.import": "导入台账",
    "staff.link": "绑定微信",
    "staff.unlink": "解除微信绑定",
    "activity.create": "新建活动",
    "activity.update": "修改活动",
    "activity.capacity": "修改活动名额",
    "activity.cancel": "取消活动",
    "activity.qr": "生成签到二维码",
    "activity.checkin": "代为签到",
    "activity.checkout": "代为签退",
    "hours.approve": "确认服务时长",
    "hours.correct": "修改服务时长",
    "volunteer.id_number": "录入志愿者证件号码",
    "team.create": "新建志愿服务队",
    "team.update": "修改志愿服务队",
    "team.member_add": "队伍添加队员",
    "team.member_remove": "队伍移除队员",
    "notice.send": "发送通知",
    "notice.cancel": "撤回通知",
    "faq.create": "新增政策问答",
    "faq.update": "修改政策问答",
    "faq.enable": "启用政策问答",
    "faq.disable": "停用政策问答",
    "publicity.update": "修改宣传日历",
    "calendar.rule": "修改日历规则",
    "calendar.reminder": "修改提醒规则",
    "calendar.workdays": "录入放假调休",
    "calendar.workday_clear": "删除放假调休",
}


def record(
    session: Session,
    staff: StaffAccount | None,
    action: str,
    *,
    subject: str | None = None,
    subject_id: int | None = None,
    detail: str | None = None,
    ip: str | None = None,
    at: datetime,
    username: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        staff_id=staff.id if staff else None,
        staff_username=(staff.username if staff else username or "-")[:40],
        action=action,
        subject=subject,
        subject_id=subject_id,
        detail=detail,
        ip=(ip or "")[:64] or None,
    )
    session.add(entry)
    return entry


def label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def search(
    session: Session, *, username: str | None = None, action: str | None = None, subject: str | None = None,
    subject_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
    page: int = 1, per_page: int = 50,
) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if username:
        query = query.where(AuditEntry.staff_username == username)
    if action:
        query = query.where(AuditEntry.action == action)
    if subject:
        query = query.where(AuditEntry.subject == subject)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total
