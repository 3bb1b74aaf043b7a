"""The jobs of the job table. Each covers its window (run.since, run.until] and queues
pushes with deterministic idempotency keys; none of them talks to WeChat. Pushes carry a
"valid until" (services.push_validity): past it a row is expired, never sent late; request
escalations alone have none (a request waiting for 受理 stays worth telling).

Waitlist promotions are told by services.activities in the transaction that promotes
(kind activity_update), so no job repeats them here."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select

from models import Recipient
from models.activity import Activity, ActivitySignup, ActivityStatus, SignupStatus
from models.help_request import HelpRequest, RequestStatus, Urgency
from models.status_event import StatusEvent
from models.visits import VisitPlan, VisitTeam
from scheduler.context import JobRun
from services import (care_pairs, help_requests, publicity_calendar, reminder_rules, retention,
                      visit_assignment, visit_campaigns, visit_lists, visit_plans, work_queue)
from services.local_time import SHANGHAI, chinese_date
from services.push_validity import end_of_day
from services.scheduled_pushes import STAFF, Push, queued_keys, team_member_openids

log = logging.getLogger(__name__)
ACTIVITY_LEADS_HOURS = (24, 2)
RATING_AFTER = timedelta(days=1)
RATING_VALID = timedelta(days=7)  # asking for a rating weeks later reads oddly
CATCH_UP_VALID = timedelta(days=14)  # "还有 N 户未走访" goes stale as visits are recorded


# --- calendar reminders and yearly tasks ------------------------------------------------

SUPERSEDED = "a later reminder of the same event fell due in the same run (after downtime)"


def send_calendar_reminders(run: JobRun) -> None:
    due = reminder_rules.due_reminders(run.session, run.work, run.since, run.until)
    latest, superseded = reminder_rules.latest_per_event(due)
    for reminder in superseded:
        for push in reminder_rules.pushes_for(run.session, reminder, run.today):
            run.send(push, stale_reason=SUPERSEDED)
    for reminder in latest:
        for push in reminder_rules.pushes_for(run.session, reminder, run.today):
            if run.send(push):
                reminder_rules.expire_earlier(run.session, push, run.until)
    _ask_for_next_years_swaps(run)


def _ask_for_next_years_swaps(run: JobRun) -> None:
    """Once each December, while next year's 调休 swaps are neither in chinese-calendar nor entered."""
    year = run.today.year + 1
    if run.today.month != 12 or run.work.swaps_known(year):
        return
    text = (f"{year}年的放假调休安排还没有录入。国务院通知发布后，请录入调休上班日和放假日，"
            "以免提醒日期和求助时限算错（法定节假日本身已自动计入）。")
    payload = {"title": f"{year}年调休安排", "text": text, "event": "workday_swaps", "event_date": str(year)}
    run.send(Push("yearly_task", STAFF, payload, key=f"workday_swaps_missing:{year}", not_before=run.until,
                  expires_at=end_of_day(date(run.today.year, 12, 31))))


# --- publicity calendar -----------------------------------------------------------------


def publish_publicity(run: JobRun) -> None:
    for due in publicity_calendar.due_items(run.session, run.since, run.until):
        push = publicity_calendar.push_for(due)
        if push.expires_at is not None and run.until >= push.expires_at:
            run.send(push)  # recorded as expired: a greeting is not sent after its day
        elif publicity_calendar.within_budget(run.session, push, due.day) and run.send(push):
            publicity_calendar.add_notice(run.session, due)


# --- visit plans ---------------------------------------------------------------------------


def refresh_visit_plans(run: JobRun) -> None:
    """Level-triggered: every campaign whose planning day has come and whose window has not
    ended has its plan (made now if missing, never beside an overlapping plan of another
    campaign); every plan whose window has ended is closed."""
    today = run.today
    for spec in visit_campaigns.specs_around(run.session, today):
        if spec.generate_on <= today <= spec.window_end:
            if visit_plans.overlapping_plan(run.session, spec) is not None:
                continue
            result = visit_plans.generate_plan(run.session, spec)
            _send_team_lists(run, result)
            run.checkpoint()
    for plan in visit_plans.plans_to_close(run.session, today):
        _flag_overdue(run, plan)
        run.checkpoint()


def _window_text(plan: VisitPlan) -> str:
    return f"{chinese_date(plan.window_start)}至{chinese_date(plan.window_end)}"


def _teams(run: JobRun, ids) -> dict[int, VisitTeam]:
    ids = [i for i in ids if i is not None]
    return {t.id: t for t in run.session.scalars(select(VisitTeam).where(VisitTeam.id.in_(ids)))} if ids else {}


def _send_team_lists(run: JobRun, result: visit_plans.PlanResult) -> None:
    """Each team member gets their own households once, then only the ones given to them later."""
    plan, given = result.plan, result.given
    counts = visit_plans.team_counts(run.session, plan.id)
    teams = _teams(run, counts)
    known = queued_keys(run.session, f"visit_plan:{plan.id}:")
    valid = end_of_day(plan.window_end)
    lines: dict[int, list[visit_lists.Line]] | None = None  # loaded only when someone needs a list
    for team_id, (total, key_count) in counts.items():
        team = teams.get(team_id)
        if team is None:
            continue
        holders = {openid: member_id for member_id, openid in visit_assignment.list_holders(run.session, team_id)}
        for recipient in team_member_openids(run.session, team_id):
            member_id = holders.get(recipient)
            first_key = f"visit_plan:{plan.id}:{team_id}:{recipient}"
            if first_key not in known or member_id in given:
                lines = visit_lists.open_lines(run.session, plan.id) if lines is None else lines
            if first_key not in known:
                pages = visit_lists.first_pages(plan, team, lines.get(member_id, [])) if member_id else []
                pages = pages or [visit_lists.summary_page(plan, team, total, key_count)]
                keys = [first_key] + [f"visit_list:{plan.id}:{team_id}:{recipient}:{n}" for n in range(2, len(pages) + 1)]
            elif member_id in given:
                pages = visit_lists.added_pages(plan, team, lines.get(member_id, []), given[member_id])
                keys = [f"visit_plan_update:{plan.id}:{team_id}:{recipient}:{run.today}:{n}"
                        for n in range(1, len(pages) + 1)]
            else:
                continue
            for key, text in zip(keys, pages):
                push = Push("visit_plan", Recipient.person(recipient), {"title": plan.name, "text": text}, key=key, expires_at=valid)
                run.send(push, known if key == first_key else None)
    total = sum(total for total, _ in counts.values())
    unassigned = counts.get(None, (0, 0))[0]
    summary = f"{plan.name}名单已生成：共{total}户，{len(teams)}个走访组，{_window_text(plan)}。"
    if unassigned:
        summary += f"另有{unassigned}户所在乡镇没有启用的走访组，请安排。"
    if not run.send(Push("visit_plan", STAFF, {"title": plan.name, "text": summary},
                         key=f"visit_plan:{plan.id}:{STAFF}", expires_at=valid), known) and result.added:
        run.send(Push("visit_plan", STAFF, {"title": plan.name, "text": f"新增{result.added}户。" + summary},
                      key=f"visit_plan_update:{plan.id}:{STAFF}:{run.today}", expires_at=valid))


def _flag_overdue(run: JobRun, plan: VisitPlan) -> None:
    counts = visit_plans.flag_overdue(run.session, plan)
    teams = _teams(run, counts)
    ended = chinese_date(plan.window_end)
    for team_id, count in counts.items():
        team = teams.get(team_id)
        if team is None:
            continue
        text = (f"{plan.name}已于{ended}结束，{team.name}还有{count}户没有走访。"
                "请尽快补访，走访后回复“已走访”和编号登记。")
        for recipient in team_member_openids(run.session, team_id):
            run.send(Push("visit_overdue", Recipient.person(recipient), {"title": plan.name, "text": text},
                          key=f"visit_overdue:{plan.id}:{team_id}:{recipient}", expires_at=run.until + CATCH_UP_VALID))
    if counts:
        text = f"{plan.name}：截至{ended}共{sum(counts.values())}户未走访，已标记逾期。"
        run.send(Push("visit_overdue", STAFF, {"title": plan.name, "text": text}, key=f"visit_overdue:{plan.id}:{STAFF}",
                      expires_at=run.until + CATCH_UP_VALID))


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
                run.send(Push("activity_reminder", Recipient.person(openid), {"title": activity.title, "text": text},
                              key=f"activity_reminder:{activity.id}:{openid}:{hours}h", expires_at=activity.starts_at))


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
            text = f"求助{request.number}（{label}）超过{limit}仍未受理，请尽快安排。"
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
    run.send(Push("staff_digest", STAFF, {"title": "今日待办", "text": text}, key=f"staff_digest:{run.today}",
                  expires_at=end_of_day(run.today)))


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
        text = f"您的求助{number}已办结一天了。请回复“评价{number}”为本次服务打分，帮助我们改进。"
        run.send(Push("rating_request", Recipient.person(openid), {"title": "服务评价", "text": text}, key=f"rating_request:{request_id}",
                      expires_at=run.until + RATING_VALID))


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
        # Valid until the next nudge would come: a later one says the days silent anew.
        run.send(Push("pair_nudge", Recipient.person(silent.volunteer_openid), {"title": "定点定人联系提醒", "text": text}, key=key,
                      expires_at=run.until + care_pairs.SILENCE_BEFORE_NUDGE))


# --- retention ------------------------------------------------------------------------------


def apply_retention(run: JobRun) -> None:
    """Purge old transcripts, drafts and dedupe records; anonymise long-closed requests; log the counts."""
    result = retention.apply(run.session, run.until, run.retention)
    if not run.dry_run:
        run.session.commit()
    log.info("retention applied", extra={"transcripts": result.transcripts, "drafts": result.drafts,
                                         "dedupe": result.dedupe, "anonymised": result.anonymised})
