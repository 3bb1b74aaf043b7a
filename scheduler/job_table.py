"""The scheduler's jobs, declared in one table with stable ids (watermarks are keyed by id).

Triggers are Asia/Shanghai. A job covers the window since its watermark: after
downtime it runs once and handles everything that fell due meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler import jobs
from scheduler.context import JobRun
from services.local_time import SHANGHAI


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: BaseTrigger
    run: Callable[[JobRun], None]
    first_window: timedelta  # how far back a job looks the very first time it runs
    description: str

    def falls_due(self, since: datetime, until: datetime) -> bool:
        """Did the trigger fire in (since, until]?"""
        fire = self.trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
        return fire is not None and fire <= until


def _hourly() -> CronTrigger:
    return CronTrigger(minute=0, timezone=SHANGHAI)


def _daily(hour: int, minute: int = 0) -> CronTrigger:
    return CronTrigger(hour=hour, minute=minute, timezone=SHANGHAI)


def _every(minutes: int) -> IntervalTrigger:
    # A fixed start keeps the fire times on the quarter hours, whoever starts when.
    return IntervalTrigger(minutes=minutes, start_date=datetime(2020, 1, 1, tzinfo=SHANGHAI), timezone=SHANGHAI)


DAY = timedelta(days=1)
JOBS: tuple[JobSpec, ...] = (
    JobSpec("visit_plans", _daily(8, 30), jobs.refresh_visit_plans, DAY,
            "走访慰问计划：生成/补充名单，发给走访组，逾期提醒"),
    JobSpec("calendar_reminders", _hourly(), jobs.send_calendar_reminders, DAY,
            "节日提醒和年度任务提醒（遇非工作日提前到前一个工作日）"),
    JobSpec("publicity", _hourly(), jobs.publish_publicity, DAY, "宣传日历：按时群发（每月不超过4次）"),
    JobSpec("activity_reminders", _every(15), jobs.remind_activities, timedelta(minutes=15),
            "活动提醒（开始前24小时和2小时）"),
    JobSpec("request_deadlines", _every(15), jobs.check_request_deadlines, timedelta(minutes=15),
            "求助时限：紧急2小时、一般1个工作日未受理转给工作人员；办结1天后请求评价"),
    JobSpec("pair_nudges", _daily(10), jobs.nudge_pairs, DAY, "定点定人：30天无联系提醒志愿者"),
    JobSpec("staff_digest", _daily(8, 45), jobs.send_staff_digest, DAY,
            "工作人员每日待办汇总（工作日）：待受理求助、人工会话、待审核登记、推送失败"),
    JobSpec("retention", _daily(3, 30), jobs.apply_retention, DAY,
            "个人信息保存期限：清除过期的对话记录和草稿，匿名化多年前办结的求助"),
)
JOB_IDS = tuple(spec.id for spec in JOBS)


def job_by_id(job_id: str) -> JobSpec:
    for spec in JOBS:
        if spec.id == job_id:
            return spec
    raise KeyError(job_id)
