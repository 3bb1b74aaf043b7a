"""Who may drive the simulator (issue 12): a signed-in console admin, or a loopback visitor of
`python -m bot demo`; only sandbox identities; never where WeChat is reachable."""

from __future__ import annotations

from models import utcnow
from models.outbound import Follower, StaffOpenid
from services import volunteers
from services.volunteers import VolunteerDetails
from tests.conftest import APP_ID, count_rows, make_settings
from tests.console_kit import add_staff

SEND = {"type": "text", "openid": "oDEMO0001", "content": "我的信息"}


def test_no_simulator_where_an_app_secret_could_reach_wechat(sqlite_url, tmp_path, apps):
    app = apps(make_settings(sqlite_url, tmp_path, WECHAT_SANDBOX=1, WECHAT_APP_ID=APP_ID,
                             WECHAT_APP_SECRET="a-real-secret", DEMO_MODE=1))
    client = app.test_client()
    for path in ("/simulator/", "/simulator/api/users", "/simulator/static/simulator.js"):
        assert client.get(path).status_code == 404
    assert client.post("/simulator/api/send", json=SEND).status_code == 404
    assert client.post("/simulator/api/time-travel", json={"date": "2027-01-20"}).status_code == 404


def test_strangers_and_non_admins_are_refused(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "officer1", "officer")
    add_staff(sessions, "viewer1", "viewer")
    officer, viewer, anonymous = client_for("officer1"), client_for("viewer1"), app.test_client()
    before = count_rows(sqlite_url)
    page = anonymous.get("/simulator/")
    assert page.status_code == 302 and "/console/login" in page.headers["Location"]
    for client in (anonymous, officer, viewer):
        assert client.get("/simulator/api/users").status_code == 403
        assert client.get("/simulator/api/pushes?openid=oDEMO1&after=0").status_code == 403
        refused = client.post("/simulator/api/send", json=SEND)
        assert refused.status_code == 403 and "管理员" in refused.get_json()["error"]
        assert client.post("/simulator/api/time-travel", json={"date": "2027-01-20"}).status_code == 403
    assert officer.get("/simulator/").status_code == 403
    assert count_rows(sqlite_url) == before


def test_an_admin_uses_it_but_only_as_sandbox_identities(sqlite_url, console):
    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    now = utcnow()
    with sessions.begin() as session:
        session.add_all([StaffOpenid(role="staff", openid="oREALstaff1", label=None),
                         StaffOpenid(role="staff", openid="oDEMOstaff1", label=None),
                         Follower(openid="oREALfollower")])
        volunteers.register(session, "oREALvolunteer", VolunteerDetails("张三", "13900001111", "城关镇", "河口村", ["care"], "any"), now)
    admin = client_for("boss")
    assert admin.get("/simulator/").status_code == 200
    listed = [u["openid"] for u in admin.get("/simulator/api/users").get_json()["users"]]
    assert listed == ["oDEMOstaff1"]
    for openid in ("oREALvolunteer", "oREALfollower", "oREALstaff1"):
        before = count_rows(sqlite_url)
        refused = admin.post("/simulator/api/send", json={**SEND, "openid": openid})
        assert refused.status_code == 400 and refused.get_json()["error"] == "请先选择一位用户"
        assert count_rows(sqlite_url) == before
        assert admin.get(f"/simulator/api/pushes?openid={openid}&after=0").status_code == 400
    # Time travel would move real people's reminders and mark their alerts sent: refused.
    before = count_rows(sqlite_url)
    travel = admin.post("/simulator/api/time-travel", json={"date": "2027-01-20"})
    assert travel.status_code == 400 and travel.get_json()["error"] == "数据库中有真实用户的数据，不能跳转时间"
    assert count_rows(sqlite_url) == before


def test_demo_mode_opens_it_to_loopback_only(sqlite_url, tmp_path, apps):
    app = apps(make_settings(sqlite_url, tmp_path, DEMO_MODE=1))
    local = app.test_client()
    assert local.get("/simulator/").status_code == 200
    assert local.get("/simulator/api/users").status_code == 200
    lan = app.test_client()
    lan.environ_base["REMOTE_ADDR"] = "192.168.1.20"
    assert lan.get("/simulator/api/users").status_code == 403
    assert lan.post("/simulator/api/send", json=SEND).status_code == 403
    proxied = app.test_client()  # a proxy on this machine relays visitors from anywhere
    assert proxied.get("/simulator/api/users", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
