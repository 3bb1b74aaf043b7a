"""Check-in window, check-out, hours, teams and the WeChat check-in QR code, as services and
against the fake WeChat API (qrcode/create as documented)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from models.activity import Activity, ActivitySignup
from models.volunteer import Volunteer
from services import activities, activity_admin, checkin_qr, service_hours, volunteer_teams, volunteers
from services.activity_admin import ActivityDetails
from services.volunteer_teams import TeamDetails
from services.volunteers import VolunteerDetails
from services.workflow import TransitionError
from tests.conftest import make_settings
from tests.console_kit import NOW, add_staff, runtime_of, sign_in
from tests.fake_wechat_api import APP_ID, APP_SECRET, QRCODE, FakeWeChatApi

START = datetime(2026, 12, 8, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


@pytest.fixture
def session(db_url):
    from models.database import make_engine, make_session_factory

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def _activity(session, **changes) -> Activity:
    details = ActivityDetails("烈士陵园清扫", START, START + timedelta(hours=3), 5, "烈士陵园")
    activity = activity_admin.create(session, details, NOW)
    for key, value in changes.items():
        setattr(activity, key, value)
    return activity


def _volunteer(session, openid: str, town: str = "城关镇") -> Volunteer:
    v = volunteers.register(session, openid, VolunteerDetails("林晓雨", "13900001111", town, "河口村", ["care"], "any"), NOW)
    volunteers.approve(session, v, NOW, actor="staff:test")
    return v


def _signed_up(session, openid: str = "oHours00001") -> tuple[Activity, ActivitySignup]:
    activity = _activity(session)
    v = _volunteer(session, openid)
    result = activities.sign_up(session, activity.id, openid, v.id, NOW)
    return activity, result.signup


# --- the window ---------------------------------------------------------------------------------


def test_the_check_in_window_runs_from_two_hours_before_the_start_to_the_end(session):
    activity, signup = _signed_up(session)
    Outcome = activities.ScanOutcome
    week_early = activities.check_in(session, activity, signup.openid, START - timedelta(days=7))
    assert week_early.outcome == Outcome.TOO_EARLY and week_early.opens_at == START - timedelta(hours=2)
    assert activities.check_in(session, activity, signup.openid, START - timedelta(hours=2, minutes=1)).outcome == Outcome.TOO_EARLY
    assert signup.checked_in_at is None
    assert activities.check_in(session, activity, signup.openid, START + timedelta(hours=3, minutes=1)).outcome == Outcome.OVER
    assert activities.check_in(session, activity, signup.openid, START - timedelta(hours=2)).outcome == Outcome.CHECKED_IN
    assert signup.checked_in_at == START - timedelta(hours=2)


def test_a_second_scan_checks_out_after_half_an_hour_and_never_twice(session):
    activity, signup = _signed_up(session)
    Outcome = activities.ScanOutcome
    activities.check_in(session, activity, signup.openid, START)
    assert activities.check_in(session, activity, signup.openid, START + timedelta(minutes=5)).outcome == Outcome.ALREADY_IN
    assert signup.checked_out_at is None
    assert activities.check_in(session, activity, signup.openid, START + timedelta(hours=2)).outcome == Outcome.CHECKED_OUT
    assert activities.check_in(session, activity, signup.openid, START + timedelta(hours=2, minutes=30)).outcome == Outcome.ALREADY_OUT
    assert signup.checked_out_at == START + timedelta(hours=2)


def test_cancelled_activities_and_people_not_registered_are_told_so(session):
    activity, signup = _signed_up(session)
    stranger = activities.check_in(session, activity, "oStranger0001", START)
    assert stranger.outcome == activities.ScanOutcome.NOT_SIGNED_UP
    activity_admin.cancel(session, activity, "天气原因", NOW, actor="staff:test")
    assert activities.check_in(session, activity, signup.openid, START).outcome == activities.ScanOutcome.CANCELLED


# --- hours --------------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes, counted", [(15, 0), (16, 30), (44, 30), (45, 60), (60, 60), (135, 120), (136, 150), (200, 210)])
def test_hours_are_rounded_as_the_volunteer_systems_do(minutes, counted):
    assert service_hours.rounded(minutes) == counted


def test_hours_count_from_the_start_to_the_check_out_or_the_end(session):
    activity, signup = _signed_up(session)
    activities.check_in(session, activity, signup.openid, START - timedelta(hours=1))  # early: counts from 09:00
    assert service_hours.proposed_minutes(signup, START + timedelta(hours=1)) is None  # not over yet
    assert service_hours.proposed_minutes(signup, START + timedelta(hours=3)) == 180  # no check-out: to the end
    activities.check_in(session, activity, signup.openid, START + timedelta(hours=1, minutes=40))
    assert service_hours.proposed_minutes(signup, START + timedelta(hours=1, minutes=40)) == 90  # 100 min → 1.5 h


def test_approval_counts_once_and_corrections_move_the_running_total(session):
    activity, signup = _signed_up(session)
    volunteer = session.get(Volunteer, signup.volunteer_id)
    activities.check_in(session, activity, signup.openid, START)
    later = START + timedelta(hours=5)
    assert service_hours.approve(session, signup, later, actor="staff:a") is True
    assert service_hours.approve(session, signup, later, actor="staff:a") is False  # a double click
    assert (signup.service_minutes, volunteer.service_minutes) == (180, 180)
    service_hours.correct(session, signup, "2", "提前离开", later, actor="staff:a")
    assert (signup.service_minutes, volunteer.service_minutes, signup.hours_note) == (120, 120, "提前离开")
    for bad in ("", "abc", "25", "-1", "1.2", "nan"):
        with pytest.raises(TransitionError):
            service_hours.correct(session, signup, bad, "原因", later, actor="staff:a")
    assert volunteer.service_minutes == 120


def test_someone_who_never_scanned_has_no_hours_until_staff_enter_them(session):
    activity, signup = _signed_up(session)
    assert service_hours.approve_all(session, activity, START + timedelta(hours=5), actor="staff:a") == []
    service_hours.correct(session, signup, "3", "忘记扫码，负责人确认", START + timedelta(hours=5), actor="staff:a")
    [row] = service_hours.record_rows(session, year=2026)
    assert (row.activity, row.day, row.minutes) == ("烈士陵园清扫", date(2026, 12, 8), 180)


def test_team_totals_add_up_their_members_approved_hours(session):
    activity, signup = _signed_up(session)
    other = _volunteer(session, "oHours00002")
    team = volunteer_teams.create(session, TeamDetails("城关镇老兵志愿服务队", "城关镇", date(2026, 5, 20)), NOW)
    volunteer_teams.add_member(session, team, session.get(Volunteer, signup.volunteer_id), date(2026, 6, 1))
    assert volunteer_teams.add_member(session, team, other, date(2026, 6, 1)) is True
    assert volunteer_teams.add_member(session, team, other, date(2026, 6, 1)) is False
    service_hours.correct(session, signup, "2.5", "补录", START + timedelta(hours=5), actor="staff:a")
    assert service_hours.team_totals(session, [team], 2026) == {team.id: (2, 150)}
    assert service_hours.team_totals(session, [team], 2025) == {team.id: (2, 0)}
    with pytest.raises(TransitionError):
        volunteer_teams.create(session, TeamDetails("城关镇老兵志愿服务队", None, None), NOW)
    with pytest.raises(TransitionError, match="不在城关镇"):
        volunteer_teams.add_member(session, team, _volunteer(session, "oHours00003", town="青石镇"), date(2026, 6, 1))


# --- capacity -----------------------------------------------------------------------------------


def test_capacity_changes_promote_in_order_and_never_below_those_registered(session):
    activity = _activity(session, capacity=1)
    for n in range(4):
        v = _volunteer(session, f"oCap0000{n}")
        activities.sign_up(session, activity.id, v.openid, v.id, NOW + timedelta(minutes=n))
    with pytest.raises(TransitionError):
        activity_admin.change_capacity(session, activity, 0, NOW)
    promoted = activity_admin.change_capacity(session, activity, 3, NOW)
    assert [s.openid for s in promoted] == ["oCap00001", "oCap00002"]


# --- the QR code ---------------------------------------------------------------------------------


def test_the_sandbox_code_carries_the_scene_the_chat_understands(session):
    activity = _activity(session)
    code = checkin_qr.code_for(activity, NOW, None)
    assert code.content == f"checkin_{activity.code}" and len(code.content) <= 64 and code.image_url is None


def test_a_wechat_ticket_is_asked_once_reused_and_renewed_near_its_expiry(session):
    activity = _activity(session)
    asked = []

    def create(body):
        asked.append(body)
        return {"ticket": f"T{len(asked)}", "expire_seconds": body["expire_seconds"], "url": f"http://weixin.qq.com/q/{len(asked)}"}

    first = checkin_qr.code_for(activity, NOW, create)
    assert asked[0]["action_name"] == "QR_STR_SCENE"
    assert asked[0]["action_info"] == {"scene": {"scene_str": f"checkin_{activity.code}"}}
    # It lives until a day after the activity ends.
    assert asked[0]["expire_seconds"] == int((START + timedelta(hours=3, days=1) - NOW).total_seconds())
    assert first.content == "http://weixin.qq.com/q/1" and first.image_url.endswith("showqrcode?ticket=T1")
    assert checkin_qr.code_for(activity, NOW + timedelta(days=3), create).content == "http://weixin.qq.com/q/1"
    assert len(asked) == 1
    renewed = checkin_qr.code_for(activity, activity.qr_expires_at - timedelta(hours=12), create)
    assert len(asked) == 2 and renewed.content == "http://weixin.qq.com/q/2"


def test_far_away_activities_get_a_thirty_day_code():
    activity = Activity(code="far", title="x", starts_at=NOW + timedelta(days=90), ends_at=None, capacity=1)
    assert checkin_qr.request_body(activity, NOW)["expire_seconds"] == 2_592_000


def test_the_console_asks_the_fake_wechat_api_for_the_code_once(apps, sqlite_url, tmp_path):
    with FakeWeChatApi() as api:
        app = apps(make_settings(sqlite_url, tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET,
                                 WECHAT_API_BASE_URL=api.base_url))
        rt = runtime_of(app)
        rt.clock = lambda: NOW
        add_staff(rt.sessions, "admin", "admin")
        with rt.sessions.begin() as s:
            activity_id = _activity(s).id
        client = app.test_client()
        assert sign_in(client, "admin").status_code == 302
        sheet = client.get(f"/console/activities/{activity_id}/sheet").get_data(as_text=True)
        assert "二维码有效期至" in sheet and "演示环境" not in sheet
        image = client.get(f"/console/activities/{activity_id}/qr.svg")
        assert image.status_code == 200 and b"<svg" in image.data
        [issued] = api.qr_codes  # the sheet and its image share one ticket
        with rt.sessions() as s:
            activity = s.get(Activity, activity_id)
            assert (activity.qr_ticket, activity.qr_url) == (issued["ticket"], issued["url"])
            assert issued["scene"] == f"checkin_{activity.code}"
        assert [c.body["action_name"] for c in api.calls(QRCODE)] == ["QR_STR_SCENE"]

        api.respond(QRCODE, 45009)  # WeChat refusing (quota): the sheet still prints, with a plain note
        with rt.sessions.begin() as s:
            s.get(Activity, activity_id).qr_expires_at = NOW
        refused = client.get(f"/console/activities/{activity_id}/sheet").get_data(as_text=True)
        assert "暂时连不上微信，签到码没有生成" in refused


def test_the_sign_up_list_puts_those_registered_first_then_the_waitlist_then_cancellations(session):
    activity = _activity(session, capacity=1)
    for n in range(3):
        v = _volunteer(session, f"oOrder000{n}")
        activities.sign_up(session, activity.id, v.openid, v.id, NOW)
    activities.cancel(session, activity.id, "oOrder0000", NOW)  # the first cancels: the second moves up
    assert [(s.openid, s.status.value) for s in service_hours.signups(session, activity.id)] == [
        ("oOrder0001", "registered"), ("oOrder0002", "waitlisted"), ("oOrder0000", "cancelled")]


def test_someone_early_who_scans_again_as_it_starts_is_not_checked_out(session):
    activity, signup = _signed_up(session)
    activities.check_in(session, activity, signup.openid, START - timedelta(hours=1, minutes=30))
    again = activities.check_in(session, activity, signup.openid, START)
    assert again.outcome == activities.ScanOutcome.ALREADY_IN and signup.checked_out_at is None
