"""活动报名 as transcripts, check-in by QR scene, and the capacity under concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from models import OutboxMessage
from models.activity import Activity, ActivitySignup, SignupStatus
from services import volunteers
from services.volunteers import VolunteerDetails
from tests.conftest import TOKEN, make_settings
from tests.conversation_fixtures import START, Database, chat_app, clock, db, ensure_faq, later, new_chat  # noqa: F401
from tests.transcript import Chat, has
from tests.wechat_peer import WeChatPeer


def add_volunteer(db, openid: str, name: str = "张伟民") -> None:
    with db.session() as session:
        details = VolunteerDetails(name, "13912345678", "城关镇", "河口村", ["care"], "any")
        volunteers.register(session, openid, details, START)
        session.commit()


def add_activity(db, code: str, title: str, days: int, capacity: int, place: str = "", description: str = "") -> int:
    with db.session() as session:
        activity = Activity(
            code=code, title=title, starts_at=START + later(60 * 24 * days), capacity=capacity,
            place=place, description=description,
        )
        session.add(activity)
        session.commit()
        return activity.id


def test_sign_up_needs_a_volunteer_first(new_chat):
    new_chat("oActivity0").run([("活动报名", "参加活动需要先报名拥军志愿者，回复“志愿者报名”开始，约需2分钟。")])


def test_no_upcoming_activities(new_chat, db):
    add_volunteer(db, "oActivity1")
    add_activity(db, "past", "已经结束的活动", -1, 10)
    new_chat("oActivity1").run([("活动报名", "近期没有可报名的活动。有新活动会在“最新通知”里发布。")])


def test_list_details_sign_up_and_my_activities(new_chat, db):
    add_volunteer(db, "oActivity2")
    add_activity(db, "visit", "春节走访慰问", 3, 20, place="城关镇敬老院", description="看望老复员军人，送春联")
    add_activity(db, "clean", "烈士陵园清扫", 1, 10)
    chat = new_chat("oActivity2")
    chat.run([
        ("活动报名", "近期活动如下，回复序号查看详情：\n1 12月8日（周二）上午9:00 烈士陵园清扫\n"
                    "2 12月10日（周四）上午9:00 春节走访慰问\n（回复“取消”可随时退出，“返回”上一步）"),
        ("2", "活动：春节走访慰问\n时间：12月10日（周四）上午9:00\n地点：城关镇敬老院\n内容：看望老复员军人，送春联\n"
              "名额：20人，已报0人\n1 确认报名  2 重新选择  0 取消"),
        ("2", has("近期活动如下", "（当前：12月10日（周四）上午9:00 春节走访慰问）")),
        ("1", has("活动：烈士陵园清扫")),
        ("1", "报名成功！\n活动：烈士陵园清扫\n时间：12月8日（周二）上午9:00\n请准时参加，到场后扫签到码签到。不能参加请回复“取消报名”。"),
        ("活动报名", has("近期活动如下")), ("1", has("烈士陵园清扫", "已报1人")),
        ("1", "您已经报名过“烈士陵园清扫”，当前状态：已报名。"),
        ("我的活动", "您报名的活动：\n12月8日（周二）上午9:00 烈士陵园清扫：已报名\n回复“取消报名”可取消。"),
    ])
    assert db.count(ActivitySignup) == 1


def test_a_full_activity_waitlists_and_a_cancellation_promotes(new_chat, db):
    activity_id = add_activity(db, "talk", "军民座谈联欢", 2, 1)
    for openid in ("oFirst", "oSecond", "oThird"):
        add_volunteer(db, openid)
        new_chat(openid).run([("活动报名", has("军民座谈联欢")), ("1", has("名额：1人")), ("1", has("军民座谈联欢"))])
    assert new_chat("oThird").say("我的活动") == (
        "您报名的活动：\n12月9日（周三）上午9:00 军民座谈联欢：候补第2位\n回复“取消报名”可取消。"
    )
    new_chat("oFirst").run([
        ("取消报名", "要取消哪个活动的报名？回复序号：\n1 12月9日（周三）上午9:00 军民座谈联欢\n"
                    "（回复“取消”可随时退出，“返回”上一步）"),
        ("1", "要取消“军民座谈联欢”的报名吗？\n1 确认取消报名  0 不取消了"),
        ("1", "已取消“军民座谈联欢”的报名。期待下次参加！"),
        ("取消报名", "您目前没有报名的活动。"),
    ])
    statuses = {s.openid: s.status for s in db.scalars(select(ActivitySignup).where(ActivitySignup.activity_id == activity_id))}
    assert statuses == {"oFirst": SignupStatus.CANCELLED, "oSecond": SignupStatus.REGISTERED, "oThird": SignupStatus.WAITLISTED}
    [told] = [m for m in db.scalars(select(OutboxMessage)) if m.kind == "activity_update"]
    assert told.recipient == "oSecond" and "已为您转为正式报名" in told.payload["text"]
    assert new_chat("oThird").say("我的活动").endswith("军民座谈联欢：候补第1位\n回复“取消报名”可取消。")


def test_waitlist_reply(new_chat, db):
    add_activity(db, "tiny", "送喜报", 2, 0)
    add_volunteer(db, "oWaitlist01")
    new_chat("oWaitlist01").run([
        ("活动报名", has("送喜报")), ("1", has("（已满，可报名候补）")),
        ("1", "“送喜报”名额已满，您已进入候补第1位。\n有人取消时会按顺序递补，并通知您。"),
    ])


def test_check_in_by_qr_scene(new_chat, db, clock):
    add_activity(db, "spring_visit", "春节走访慰问", 0, 5)
    add_volunteer(db, "oCheckin")
    chat = new_chat("oCheckin")
    clock.advance(minutes=-60)  # an hour before it starts: still open for sign-up
    chat.run([("活动报名", has("春节走访慰问")), ("1", has("名额")), ("1", has("报名成功"))])
    clock.advance(minutes=55)
    assert chat.event("SCAN", "checkin_spring_visit") == (
        "签到成功！\n活动：春节走访慰问\n签到时间：12月7日（周一）上午8:55\n感谢您的参与！活动结束离开时请再扫一次签退。"
    )
    assert "没有找到这个签到码对应的活动" in chat.event("SCAN", "checkin:nothing_here")  # never silence
    stranger = new_chat("oStranger")
    assert stranger.event("subscribe", "qrscene_checkin:spring_visit").endswith(
        "\n\n您还没有报名“春节走访慰问”，请联系现场工作人员登记。"
    )
    [signup] = db.scalars(select(ActivitySignup))
    assert signup.checked_in_at is not None


def test_fifty_at_once_for_twenty_places(pg_url, tmp_path, apps):
    """50 volunteers press 确认报名 at the same moment, through the webhook, on PostgreSQL."""
    ensure_faq(pg_url)
    database = Database(pg_url)
    with database.engine.begin() as conn:  # the shared test database may hold earlier rows
        conn.exec_driver_sql("TRUNCATE activity_signup, activity, volunteer, counter, status_event, consent_record, outbox_message RESTART IDENTITY CASCADE")
    activity_id = add_activity(database, "rush", "八一慰问演出", 5, 20)
    app = apps(make_settings(pg_url, tmp_path))
    peer = WeChatPeer(TOKEN)
    chats = []
    for n in range(50):
        openid = f"oRush{n:02d}"
        add_volunteer(database, openid, name=f"志愿者{'甲乙丙丁戊己庚辛壬癸'[n % 10]}")
        chat = Chat(app, peer, openid)
        chat.run([("活动报名", has("八一慰问演出")), ("1", has("名额：20人"))])
        chats.append(chat)
    barrier = threading.Barrier(50)

    def confirm(chat: Chat) -> str:
        barrier.wait()
        return chat.say("1")

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(confirm, chats))
    signups = database.scalars(select(ActivitySignup).where(ActivitySignup.activity_id == activity_id))
    database.engine.dispose()
    assert sum(s.status == SignupStatus.REGISTERED for s in signups) == 20
    assert sorted(s.created_at is not None for s in signups) and len(signups) == 50
    assert sum(a.startswith("报名成功") for a in answers) == 20
    waiting = sorted(int(a.split("候补第")[1].split("位")[0]) for a in answers if "候补第" in a)
    assert waiting == list(range(1, 31))  # every place on the waitlist given once
