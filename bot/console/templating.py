"""Jinja filters and globals for the console: one date style, masking, labels, permissions."""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint
from flask_login import current_user

from bot.console import access
from handlers.display import mask_id, mask_mobile
from services.help_requests import category_label
from services.local_time import SHANGHAI

NAV = (  # (endpoint, label, action needed, group): daily work first, then records and settings
    ("console.dashboard", "工作台", "view", "work"),
    ("console.requests", "求助", "view", "work"),
    ("console.handover_inbox", "人工会话", "view", "work"),
    ("console.registrations", "登记审核", "view", "work"),
    ("console.roster", "优抚对象", "view", "work"),
    ("console.visits", "走访慰问", "view", "work"),
    ("console.volunteers", "志愿者", "view", "work"),
    ("console.activities_list", "活动", "view", "work"),
    ("console.notices", "通知", "view", "work"),
    ("console.statistics_page", "统计", "view", "work"),
    ("console.exports_page", "导出台账", "export", "records"),
    ("console.roster_import_page", "台账导入", "roster.import", "records"),
    ("console.faq_list", "政策问答", "view", "records"),
    ("console.calendar", "日历提醒", "view", "records"),
    ("console.deliveries", "推送记录", "outbox.view", "records"),
    ("console.audit_log", "操作日志", "audit.view", "records"),
    ("console.areas", "区域与走访组", "view", "records"),
    ("console.staff_list", "账号管理", "staff.manage", "records"),
)


def when(value: datetime | None) -> str:
    """2027-01-20 09:30, Shanghai time: one style everywhere."""
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def day(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return value.strftime("%Y-%m-%d")


def mask_name(value: str | None) -> str:
    """张*民 / 张*: enough to recognise someone you already know, not to identify a stranger."""
    if not value:
        return ""
    if len(value) == 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def register(blueprint: Blueprint) -> None:
    filters = {
        "when": when,
        "day": day,
        "mask_phone": lambda v: mask_mobile(v) if v else "",
        "mask_id": lambda v: mask_id(v) if v else "",
        "mask_name": mask_name,
        "category": category_label,
        "label": lambda v: getattr(v, "label", v or ""),
    }
    for name, function in filters.items():
        blueprint.add_app_template_filter(function, name)

    @blueprint.app_context_processor
    def _globals():
        return {
            "can": lambda action: access.can(current_user, action),
            "nav": [(e, label, group) for e, label, action, group in NAV if access.can(current_user, action)],
        }
