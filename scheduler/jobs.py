"""The jobs of the job table. Each covers its window (run.since, run.until] and queues
pushes with deterministic idempotency keys; none of them talks to WeChat.

Waitlist promotions are told by services.activities in the transaction that promotes
(kind activity_update), so no job repeats them here."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from models.activity import Activity, ActivitySignup, ActivityStatus, SignupStatus
from models.help_request import HelpRequest, RequestStatus, Urgency
from models.status_event import StatusEvent
from models.visits import VisitPlan, VisitTeam
from scheduler.context import JobRun
from services import care_pairs, help_requests, retention, publicity_calendar, reminder_rules, visit_plans, work_queue
from services.local_time import SHANGHAI, chinese_date
from services.scheduled_pushes import STAFF, Push, queued_keys, team_member_openids

log = logging.getLogger(__name__)
ACTIVITY_LEADS_HOURS = (24, 2)
RATING_AFTER = timedelta(days=1)


# --- calendar reminders and yearly tasks ------------------------------------------------


def send_calendar_reminders(run: JobRun) -> None:
    for due in reminder_rules.due_reminders(run.session, run.work, run.since, run.until):
        for push in reminder_rules.pushes_for(run.session, due, run.today):
            run.send(push)


# --- publicity calendar -----------------------------------------------------------------


def publish_publicity(run: JobRun) -> None:
    for due in publicity_calendar.due_items(run.session, run.since, run.until):
        push = publicity_calendar.push_for(due)
        if publicity_calendar.within_budget(run.session, push, due.day) and run.send(push):
            publicity_calendar.add_notice(run.session, due)


# --- visit plans ---------------------------------------------------------------------------


def refresh_visit_plans(run: JobRun) -> None:
    today = run.today
    specs = visit_plans.plan_specs(run.session, today.year) + visit_plans.plan_specs(run.session, today.year + 1)
    for spec in specs:
        if not spec.generate_on <= today <= spec.holiday_date:
            continue
        if today <= spec.window_end:
            result = visit_plans.generate_plan(run.session, spec)
            _send_team_lists(run, result)
        if today >= spec.window_end:
            _flag_overdue(run, spec)
        run.checkpoint()


def _window_text(plan: VisitPlan) -> str:
    return f"{chinese_date(plan.window_start)}至{chinese_date(plan.window_end)}"


def _teams(run: JobRun, ids) -> dict[int, VisitTeam]:
    ids = [i for i in ids if i is not None]
    return {t.id: t for t in run.session.scalars(select(VisitTeam).where(VisitTeam.id.in_(ids)))} if ids else {}


def _send_team_lists(run: JobRun, result: visit_plans.PlanResult) -> None:
    plan = result.plan
    counts = visit_plans.team_counts(run.session, plan.id)
    teams = _teams(run, counts)
    known = queued_keys(run.session, f"visit_plan:{plan.id}:")
    for team_id, (total, key_count) in counts.items():
        team = teams.get(team_id)
        if team is None:
            continue
        text = (f"{plan.name}：{team.name}共 {total} 户待走访（重点对象 {key_count} 户），"
                f"请在{_window_text(plan)}完成。走访名单请向双拥办工作人员领取。")
        added = result.added_by_team.get(team_id, 0)
        for recipient in team_member_openids(run.session, team_id):
            first = Push("visit_plan", recipient, {"title": plan.name, "text": text},
                         key=f"visit_plan:{plan.id}:{team_id}:{recipient}")
            if not run.send(first, known) and added:
                run.send(Push("visit_plan", recipient,
                              {"title": plan.name, "text": f"{plan.name}：{team.name}新增 {added} 户，{text}"},
                              key=f"visit_plan_update:{plan.id}:{team_id}:{recipient}:{run.today}"))
    total = sum(total for total, _ in counts.values())
    unassigned = counts.get(None, (0, 0))[0]
    summary = f"{plan.name}名单已生成：共 {total} 户，{len(teams)} 个走访组，{_window_text(plan)}。"
    if unassigned:
        summary += f"另有 {unassigned} 户所在乡镇没有启用的走访组，请安排。"
    if not run.send(Push("visit_plan", STAFF, {"title": plan.name, "text": summary},
                         key=f"visit_plan:{plan.id}:{STAFF}"), known) and result.added:
        run.send(Push("visit_plan", STAFF, {"title": plan.name, "text": f"新增 {result.added} 户。" + summary},
                      key=f"visit_plan_update:{plan.id}:{STAFF}:{run.today}"))


def _flag_overdue(run: JobRun, spec: visit_plans.PlanSpec) -> None:
    plan = run.session.scalars(
        select(VisitPlan).where(VisitPlan.season == spec.season, VisitPlan.year == spec.year)
    ).first()
    if plan is None or plan.overdue_flagged_at is not None:
        return
    counts = visit_plans.flag_overdue(run.session, plan)
    teams = _teams(run, counts)
    for team_id, count in counts.items():
        team = teams.get(team_id)
        if team is None:
            continue
        text = f"{plan.name}：{team.name}还有 {count} 户未走访，节日前请抓紧完成并登记。"
        for recipient in team_member_openids(run.session, team_id):
            run.send(Push("visit_overdue", recipient, {"title": plan.name, "text": text},
                          key=f"visit_overdue:{plan.id}:{team_id}:{recipient}"))
    if counts:
        text = f"{plan.name}：截至{chinese_date(plan.window_end)}共 {sum(counts.values())} 户未走访，已标记逾期。"
        run.send(Push("visit_overdue", STAFF, {"title": plan.name, "text": text}, key=f"visit_overdue:{plan.id}:{STAFF}"))


# --- activities --------------------------------------------------------------------------


def remind_activities(run: JobRun) -> None:
    for hours in ACTIVITY_LEADS_HOURS:
        lead = timedelta(hours=hours)
        activities = run.session.scalars(
            select(Activity).where(
                Activity.status == ActivityStatus.OPEN,
                Activity.starts_at > run.since + lead,
                Activity.starts_at <= run.until + lead,
                Activity.starts_at > run.until,
            )
        )
        for activity in activities:
            starts = activity.starts_at.astimezone(SHANGHAI)
            where = f"在{activity.place}" if activity.place else ""
            text = (f"活动提醒：您报名的“{activity.title}”将于{chinese_date(starts.date())} {starts:%H:%M}{where}开始。"
                    "如不能参加，请在公众号里取消报名，把名额让给候补的朋友。")
            for openid in _registered_openids(run, activity.id):
                run.send(Push("activity_reminder", openid, {"title": activity.title, "text": text},
                              key=f"activity_reminder:{activity.id}:{openid}:{hours}h"))


def _registered_openids(run: JobRun, activity_id: int) -> list[str]:
    return list(run.session.scalars(
        select(ActivitySignup.openid).where(ActivitySignup.activity_id == activity_id,
                                            ActivitySignup.status == SignupStatus.REGISTERED,
                                            ActivitySignup.openid.is_not(None))
    ))


# --- help requests -------------------------------------------------------------------------


def check_request_deadlines(run: JobRun) -> None:
    """Requests still 待受理 past the due time fixed at submission are escalated to staff, once."""
    waiting = run.session.scalars(
        select(HelpRequest).where(HelpRequest.status == RequestStatus.SUBMITTED, HelpRequest.created_at <= run.until)
    )
    for request in waiting:
        deadline = request.due_at or help_requests.acceptance_due(run.work, request.created_at, request.urgency)
        if deadline <= run.until:
            limit = "2 小时" if request.urgency == Urgency.URGENT else "1 个工作日"
            label = help_requests.category_label(request.category)
            text = f"求助 {request.number}（{label}）超过 {limit}仍未受理，请尽快安排。"
            run.send(Push("request_escalation", STAFF, {"title": "求助超时未受理", "text": text},
                          key=f"request_escalation:{request.id}"))
    _ask_for_ratings(run)


def send_staff_digest(run: JobRun) -> None:
    """One morning message on working days with what waits in the console, instead of one per item."""
    if not run.work.is_workday(run.today):
        return
    queue = work_queue.counts(run.session, run.until)
    if not queue.anything:
        return
    text = work_queue.digest_text(queue, chinese_date(run.today))
    run.send(Push("staff_digest", STAFF, {"title": "今日待办", "text": text}, key=f"staff_digest:{run.today}"))


def _ask_for_ratings(run: JobRun) -> None:
    rows = run.session.execute(
        select(HelpRequest.id, HelpRequest.number, HelpRequest.openid)
        .join(StatusEvent, (StatusEvent.subject == "help_request") & (StatusEvent.subject_id == HelpRequest.id))
        .where(StatusEvent.to_status == RequestStatus.RESOLVED.value,
               StatusEvent.at > run.since - RATING_AFTER, StatusEvent.at <= run.until - RATING_AFTER,
               HelpRequest.status == RequestStatus.RESOLVED, HelpRequest.rating.is_(None),
               HelpRequest.openid.is_not(None))
    )
    for request_id, number, openid in rows:
        text = f"您的求助 {number} 已办结一天了。请回复“评价 {number}”为本次服务打分，帮助我们改进。"
        run.send(Push("rating_request", openid, {"title": "服务评价", "text": text}, key=f"rating_request:{request_id}"))


# --- 定点定人 pairs ----------------------------------------------------------------------------


def nudge_pairs(run: JobRun) -> None:
    """A pair with no recorded contact for 30 days nudges the volunteer — once per 30 silent
    days: the key names the silence's start and how many 30-day periods it has lasted."""
    for silent in care_pairs.silent_pairs(run.session, run.until):
        days = silent.days_silent(run.until)
        periods = days // care_pairs.SILENCE_BEFORE_NUDGE.days
        text = (f"定点定人提醒：您结对帮扶的{silent.village}家庭（{silent.household_number}）"
                f"已有{days}天没有联系记录了。请抽空打个电话或上门看看，联系后请告诉工作人员登记。")
        key = f"pair_nudge:{silent.pair_id}:{silent.silent_since:%Y%m%d}:{periods}"
        run.send(Push("pair_nudge", silent.volunteer_openid, {"title": "定点定人联系提醒", "text": text}, key=key))


# --- retention ------------------------------------------------------------------------------


def apply_retention(run: JobRun) -> None:
    result = retention.apply(run.session, run.until, run.retention)
    run.session.commit() if not run.dry_run else None
    log.info("retention applied", extra={"transcripts": result.transcripts, "drafts": result.drafts,
                                         "dedupe": result.dedupe, "anonymised": result.anonymised})
