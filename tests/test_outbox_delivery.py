"""Outbox delivery against the fake WeChat API: channels, the reply window, holds,
every errcode reaction of wechat-platform.md §11, unfollows, reports, idempotency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from models import Recipient
from models import (
    Channel,
    ConsentStatus,
    FollowerStatus,
    OutboxMessage,
    OutboxStatus,
    StaffOpenid,
    SubscriptionConsent,
    utcnow,
)
from services import delivery, delivery_log, outbox
from services.delivery_policy import PayloadError
from tests.fake_wechat_api import BIZSEND, CUSTOM, MASS, TEMPLATE, FakeWeChatApi
from tests.outbound_kit import TEMPLATE_FIELDS, Outbound, outbound_settings
from tests.wechat_peer import event_xml, text_xml

USER = "oUserAlpha0001"
OTHER = "oUserBravo0002"
UPDATE = {"text": "您的求助已受理，工作人员会尽快联系您。", "fields": TEMPLATE_FIELDS}


@pytest.fixture
def api():
    with FakeWeChatApi() as fake:
        yield fake


@pytest.fixture
def make(tmp_path, api):
    built = []

    def build(db_url, **overrides):
        kit = Outbound(outbound_settings(db_url, tmp_path, api, **overrides))
        built.append(kit)
        return kit

    yield build
    for kit in built:
        kit.close()


def _update(kit: Outbound, key: str = "req:1:accepted", recipient: str = USER, **extra) -> int:
    return kit.enqueue(kind="request_update", recipient=Recipient.person(recipient), payload=UPDATE,
                       idempotency_key=key, **extra)


def _write(apps, peer, kit: Outbound, xml: str):
    client = apps(kit.settings).test_client()
    response = peer.post(client, xml)
    assert response.status_code == 200
    return response


# --- channels ------------------------------------------------------------------


def test_sandbox_records_deliveries_without_calling_wechat(db_url, tmp_path, api):
    kit = Outbound(outbound_settings(db_url, tmp_path, None))  # no AppID: the demo sandbox
    try:
        first = _update(kit)
        second = kit.enqueue(kind="late_reply", recipient=Recipient.person(USER), channel=Channel.CUSTOMER_SERVICE,
                             payload={"msgtype": "text", "text": "好的"}, idempotency_key="late:1")
        assert kit.drain() == 2
        for row_id in (first, second):
            row = kit.row(row_id)
            assert (row.status, row.channel) == (OutboxStatus.SENT, Channel.SANDBOX)
            assert row.sent_at is not None
            assert kit.events(row_id) == [(None, "pending"), ("pending", "sending"), ("sending", "sent")]
        assert api.received == []
    finally:
        kit.close()


def test_template_message_carries_fields_and_client_msg_id(db_url, make, api):
    kit = make(db_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    row_id = _update(kit)
    kit.drain()

    row = kit.row(row_id)
    (sent,) = api.delivered(TEMPLATE)
    assert sent.body == {
        "touser": USER,
        "template_id": "TPL_PROGRESS",
        "client_msg_id": f"sy-outbox-{row_id}",
        "data": {"thing1": {"value": "求助进度更新"}, "phrase2": {"value": "已受理"}},
    }
    assert (row.status, row.channel, row.wechat_msgid) == (OutboxStatus.SENT, Channel.TEMPLATE, str(sent.msgid))
    assert api.plain_token_fetches == 0 and api.token_fetches == 1


def test_a_message_from_the_user_opens_the_window_for_customer_service(db_url, make, api, apps, plain_peer):
    kit = make(db_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    _write(apps, plain_peer, kit, text_xml("你好", openid=USER))
    row_id = _update(kit)
    kit.drain()

    (sent,) = api.delivered()
    assert sent.path == CUSTOM
    assert sent.body == {"touser": USER, "msgtype": "text", "text": {"content": UPDATE["text"]}}
    assert kit.row(row_id).channel == Channel.CUSTOMER_SERVICE
    assert kit.follower(USER).window_used == 1


def test_the_window_carries_five_messages_then_the_rest_are_held(db_url, make, api, apps, plain_peer):
    kit = make(db_url)  # no template configured: outside the window a request update waits
    _write(apps, plain_peer, kit, text_xml("你好", openid=USER))
    ids = [_update(kit, key=f"req:{n}") for n in range(6)]
    kit.drain()

    statuses = [kit.row(i).status for i in ids]
    assert statuses.count(OutboxStatus.SENT) == 5 and statuses.count(OutboxStatus.HELD) == 1
    assert len(api.delivered(CUSTOM)) == 5


def test_a_held_message_is_delivered_inside_the_next_reply_window(db_url, make, api, apps, plain_peer):
    kit = make(db_url)
    row_id = _update(kit)
    kit.drain()
    assert kit.row(row_id).status == OutboxStatus.HELD
    assert api.delivered() == []

    _write(apps, plain_peer, kit, text_xml("进度怎么样了", openid=USER))
    assert kit.row(row_id).status == OutboxStatus.PENDING  # released by the message itself
    kit.drain()

    row = kit.row(row_id)
    (sent,) = api.delivered(CUSTOM)
    assert (row.status, row.channel, sent.touser) == (OutboxStatus.SENT, Channel.CUSTOMER_SERVICE, USER)
    assert sent.at >= kit.follower(USER).last_interaction_at.timestamp() - 1
    assert [to for _f, to in kit.events(row_id)][-4:] == ["held", "pending", "sending", "sent"]


def test_a_menu_click_opens_a_short_window_of_three(db_url, make, api, apps, plain_peer):
    kit = make(db_url)
    _write(apps, plain_peer, kit, event_xml("CLICK", openid=USER, key="MENU_HELP"))
    person = kit.follower(USER)
    assert person.window_quota == 3
    assert timedelta(seconds=50) < person.window_expires_at - person.last_interaction_at <= timedelta(minutes=1)


# --- errcode reactions (wechat-platform.md §11) ----------------------------------------


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_a_closed_window_falls_back_to_a_template(sqlite_url, make, api, apps, plain_peer, errcode):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    _write(apps, plain_peer, kit, text_xml("你好", openid=USER))
    api.respond(CUSTOM, errcode)
    row_id = _update(kit)
    kit.drain()

    row = kit.row(row_id)
    assert (row.status, row.channel, row.last_errcode) == (OutboxStatus.SENT, Channel.TEMPLATE, None)
    assert len(api.calls(CUSTOM)) == 1 and len(api.delivered(TEMPLATE)) == 1
    person = kit.follower(USER)
    assert person.window_used == person.window_quota  # WeChat said closed: believed


def test_a_closed_window_without_a_template_holds_the_message(sqlite_url, make, api, apps, plain_peer):
    kit = make(sqlite_url)
    _write(apps, plain_peer, kit, text_xml("你好", openid=USER))
    api.respond(CUSTOM, 45015)
    row_id = _update(kit)
    kit.drain()
    assert kit.row(row_id).status == OutboxStatus.HELD
    assert api.delivered() == []


@pytest.mark.parametrize("errcode", [-1, 45011, None])
def test_busy_and_network_errors_are_retried_with_backoff(sqlite_url, make, api, errcode):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    api.respond(TEMPLATE, errcode if errcode is not None else ("http", 502))
    row_id = _update(kit)
    before = utcnow()
    kit.drain()

    row = kit.row(row_id)
    assert (row.status, row.attempts, row.last_errcode) == (OutboxStatus.PENDING, 1, errcode)
    assert timedelta(seconds=0.5) < row.next_attempt_at - before < timedelta(seconds=5)
    kit.make_due(row_id)
    kit.drain()
    row = kit.row(row_id)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert len(api.delivered(TEMPLATE)) == 1


def test_retries_end_in_failed_after_the_configured_attempts(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS", OUTBOX_MAX_ATTEMPTS=2)
    api.respond(TEMPLATE, -1, -1)
    row_id = _update(kit)
    kit.drain()
    kit.make_due(row_id)
    kit.drain()
    row = kit.row(row_id)
    assert (row.status, row.attempts, row.last_errcode) == (OutboxStatus.FAILED, 2, -1)
    assert api.delivered() == []


def test_daily_quota_backs_off_for_an_hour(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    api.respond(TEMPLATE, 45009)
    row_id = _update(kit)
    before = utcnow()
    kit.drain()
    row = kit.row(row_id)
    assert (row.status, row.last_errcode) == (OutboxStatus.PENDING, 45009)
    assert row.next_attempt_at - before >= timedelta(minutes=59)


@pytest.mark.parametrize(
    "errcode, status",
    [
        (40003, FollowerStatus.INVALID),
        (43004, FollowerStatus.UNSUBSCRIBED),
        (43019, FollowerStatus.BLOCKED),
        (48002, FollowerStatus.BLOCKED),
    ],
)
def test_an_unreachable_recipient_is_marked_and_nothing_more_goes_to_them(sqlite_url, make, api, errcode, status):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    api.respond(TEMPLATE, errcode)
    first = _update(kit, key="req:1", not_before=utcnow() - timedelta(minutes=1))
    later = _update(kit, key="req:2", not_before=utcnow() + timedelta(hours=1))
    kit.drain()

    assert (kit.row(first).status, kit.row(first).last_errcode) == (OutboxStatus.FAILED, errcode)
    assert kit.row(later).status == OutboxStatus.CANCELLED
    assert kit.follower(USER).status == status
    third = _update(kit, key="req:3")
    kit.drain()
    assert kit.row(third).status == OutboxStatus.CANCELLED
    assert len(api.calls(TEMPLATE)) == 1


@pytest.mark.parametrize("errcode", [40037, 47003, 40013, 48001, 45103, 99999])
def test_payload_and_configuration_errors_fail_at_once_with_the_reason(sqlite_url, make, api, errcode):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    api.respond(TEMPLATE, {"errcode": errcode, "errmsg": f"reason {errcode}"})
    row_id = _update(kit)
    kit.drain()
    row = kit.row(row_id)
    assert (row.status, row.attempts, row.last_errcode, row.last_errmsg) == (
        OutboxStatus.FAILED, 1, errcode, f"reason {errcode}")


def test_a_token_error_refreshes_once_and_retries_once(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    api.respond(TEMPLATE, 40001)  # one refusal: the retry with a fresh token goes through
    row_id = _update(kit)
    kit.drain()
    assert kit.row(row_id).status == OutboxStatus.SENT
    assert len(api.calls(TEMPLATE)) == 2 and len(api.delivered(TEMPLATE)) == 1


def test_a_template_field_too_long_for_wechat_fails_before_any_call(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    row_id = _update(kit)
    with kit.sessions.begin() as session:  # written around enqueue's checks
        session.get(OutboxMessage, row_id).payload = {"fields": {"thing1": "这一段文字远远超过了模板字段允许的二十个字符"}}
    kit.drain()
    row = kit.row(row_id)
    assert row.status == OutboxStatus.FAILED and "thing1" in row.last_errmsg
    assert api.calls(TEMPLATE) == []


# --- subscription notices, roles, mass sends -----------------------------------------


def test_an_accepted_subscription_allows_exactly_one_notice(sqlite_url, make, api, apps, plain_peer):
    kit = make(sqlite_url, WECHAT_SUBSCRIBE_TEMPLATE_IDS="activity_reminder=TPL_VISIT_REMINDER_example_0001")
    popup = (plain_peer_sample("event_subscribe_msg_popup_event.xml").replace("oPq7L5wXk3JvT9aBc2dEf4gHi6Jk", USER))
    _write(apps, plain_peer, kit, popup)
    payload = {"title": "春节走访", "text": "春节走访活动将于1月20日开始，请准时参加。"}
    first = kit.enqueue(kind="activity_reminder", recipient=Recipient.person(USER), payload=payload, idempotency_key="act:1")
    second = kit.enqueue(kind="activity_reminder", recipient=Recipient.person(USER), payload=payload, idempotency_key="act:2")
    kit.drain()

    (sent,) = api.delivered(BIZSEND)
    assert sent.body["template_id"] == "TPL_VISIT_REMINDER_example_0001"
    assert sent.body["data"] == {"thing1": {"value": "春节走访"}, "thing2": {"value": "春节走访活动将于1月20日开始，请准时…"}}
    assert kit.row(first).status == OutboxStatus.SENT
    assert kit.row(second).status == OutboxStatus.FAILED  # a reminder that cannot go now is not held
    with kit.sessions() as session:
        consents = {c.template_id: (c.status, c.remaining) for c in session.scalars(select(SubscriptionConsent))}
    assert consents == {"TPL_VISIT_REMINDER_example_0001": (ConsentStatus.ACCEPT, 0),
                        "TPL_HELP_PROGRESS_example_0002": (ConsentStatus.REJECT, 0)}


def test_43101_withdraws_the_consent(sqlite_url, make, api, apps, plain_peer):
    kit = make(sqlite_url, WECHAT_SUBSCRIBE_TEMPLATE_IDS="activity_reminder=TPL_VISIT_REMINDER_example_0001")
    _write(apps, plain_peer, kit, plain_peer_sample("event_subscribe_msg_popup_event.xml").replace("oPq7L5wXk3JvT9aBc2dEf4gHi6Jk", USER))
    api.respond(BIZSEND, 43101)
    row_id = kit.enqueue(kind="activity_reminder", recipient=Recipient.person(USER), payload={"fields": {"thing1": "春节走访"}},
                         idempotency_key="act:1")
    kit.drain()
    assert (kit.row(row_id).status, kit.row(row_id).last_errcode) == (OutboxStatus.FAILED, 43101)
    with kit.sessions() as session:
        consent = session.scalars(select(SubscriptionConsent).where(
            SubscriptionConsent.template_id == "TPL_VISIT_REMINDER_example_0001")).one()
    assert consent.status == ConsentStatus.REJECT


def test_role_staff_goes_to_every_staff_openid(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="staff_alert=TPL_ALERT")
    parent = kit.enqueue(kind="staff_alert", recipient=Recipient.role("staff"), payload={"fields": {"thing1": "新求助待分派"}},
                         idempotency_key="alert:1")
    kit.drain()
    assert kit.row(parent).status == OutboxStatus.FAILED
    assert "python -m bot staff add" in kit.row(parent).last_errmsg

    with kit.sessions.begin() as session:
        session.add_all([StaffOpenid(openid=USER, label="值班员甲"), StaffOpenid(openid=OTHER)])
    with kit.sessions.begin() as session:
        outbox.requeue(session, [parent], utcnow())
    kit.drain()
    assert sorted(d.touser for d in api.delivered(TEMPLATE)) == sorted([USER, OTHER])
    assert kit.row(parent).status == OutboxStatus.SENT
    assert len(kit.rows()) == 3


def test_publicity_is_mass_sent_within_the_monthly_budget(sqlite_url, make, api):
    kit = make(sqlite_url, MASS_SEND_MONTHLY_BUDGET=2)
    ids = [kit.enqueue(kind="publicity", recipient=target, payload={"text": f"双拥宣传月第{n}期"},
                       idempotency_key=f"pub:{n}") for n, target in enumerate([Recipient.everyone(), Recipient.tag(2), Recipient.everyone()])]
    kit.drain(concurrency=1)  # one at a time: which row meets the used-up budget is then known

    bodies = [d.body for d in api.delivered(MASS)]
    assert [b["filter"] for b in bodies] == [{"is_to_all": True}, {"is_to_all": False, "tag_id": 2}]
    assert all(b["clientmsgid"].startswith("sy-outbox-") and b["msgtype"] == "text" for b in bodies)
    third = kit.row(ids[2])
    assert third.status == OutboxStatus.PENDING and third.next_attempt_at > utcnow() + timedelta(hours=1)
    assert "mass sends of this month are used" in kit.last_note(ids[2])


def test_publicity_never_goes_out_as_a_template(sqlite_url, make):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="publicity=TPL_X")
    with pytest.raises(PayloadError, match="never goes out as a template"):
        kit.enqueue(kind="publicity", recipient=Recipient.person(USER), channel=Channel.TEMPLATE, payload={"fields": {"thing1": "宣传"}},
                    idempotency_key="pub:t")
    assert kit.rows() == []


def test_a_mass_send_wechat_already_has_counts_as_sent(sqlite_url, make, api):
    kit = make(sqlite_url)
    api.respond(MASS, 45065)
    row_id = kit.enqueue(kind="publicity", recipient=Recipient.everyone(), payload={"text": "八一慰问通知"}, idempotency_key="pub:1")
    kit.drain()
    assert (kit.row(row_id).status, kit.row(row_id).last_errcode) == (OutboxStatus.SENT, 45065)


# --- followers: unfollow, follow, reports ---------------------------------------------


def test_unfollow_cancels_pending_messages_and_a_new_follow_reactivates(db_url, make, api, apps, plain_peer):
    kit = make(db_url)
    waiting = _update(kit, key="req:1")
    kit.drain()  # held: no window, no template
    later = _update(kit, key="req:2", not_before=utcnow() + timedelta(hours=2))
    _write(apps, plain_peer, kit, event_xml("unsubscribe", openid=USER))

    assert kit.row(waiting).status == OutboxStatus.CANCELLED
    assert kit.row(later).status == OutboxStatus.CANCELLED
    assert kit.follower(USER).status == FollowerStatus.UNSUBSCRIBED

    _write(apps, plain_peer, kit, event_xml("subscribe", openid=USER))
    assert kit.follower(USER).status == FollowerStatus.ACTIVE
    fresh = _update(kit, key="req:3")
    kit.drain()
    assert kit.row(fresh).status == OutboxStatus.SENT  # inside the 3-message window of the follow
    assert len(api.delivered(CUSTOM)) == 1


def test_templatesendjobfinish_updates_the_delivery_record(db_url, make, api, apps, plain_peer):
    kit = make(db_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    ok, blocked = _update(kit, key="req:1"), _update(kit, key="req:2", recipient=OTHER)
    kit.drain()
    for row_id, status in ((ok, "success"), (blocked, "failed:user block")):
        xml = event_xml("TEMPLATESENDJOBFINISH", openid=kit.row(row_id).recipient).replace(
            "</xml>", f"<MsgID>{kit.row(row_id).wechat_msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>")
        _write(apps, plain_peer, kit, xml)
    assert (kit.row(ok).status, kit.row(ok).delivery_report) == (OutboxStatus.SENT, "success")
    assert (kit.row(blocked).status, kit.row(blocked).delivery_report) == (OutboxStatus.FAILED, "failed:user block")


def test_masssendjobfinish_records_the_counts(sqlite_url, make, api, apps, plain_peer):
    kit = make(sqlite_url)
    row_id = kit.enqueue(kind="publicity", recipient=Recipient.everyone(), payload={"text": "八一慰问通知"}, idempotency_key="pub:1")
    kit.drain()
    sample = plain_peer_sample("event_masssendjobfinish.xml").replace("1000000451", kit.row(row_id).wechat_msgid)
    _write(apps, plain_peer, kit, sample)
    assert kit.row(row_id).delivery_report == "send success 1250/1260"


# --- the outbox itself ------------------------------------------------------------------


def test_enqueueing_the_same_key_twice_yields_one_message(db_url, make):
    kit = make(db_url)
    first = _update(kit, key="req:7:accepted")
    assert _update(kit, key="req:7:accepted") == first

    results, barrier = [], threading.Barrier(6)

    def writer():
        barrier.wait()
        results.append(_update(kit, key="req:8:accepted"))

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 6
    assert sorted(r.idempotency_key for r in kit.rows()) == ["req:7:accepted", "req:8:accepted"]


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"payload": {"fields": {"thing1": "第一行\n第二行"}}}, "one line"),
        ({"payload": {"fields": {"thing1": "超" * 21}}}, "WeChat allows 20"),
        ({"payload": {}}, "payload needs text"),
        ({"recipient": Recipient.person("not an openid!")}, "not a valid person"),
        ({"recipient": "oUserAlpha0001"}, "recipient must be a Recipient"),  # a bare string states no kind
        ({"recipient": Recipient.everyone()}, "only publicity is mass-sent"),
    ],
)
def test_a_message_wechat_would_refuse_is_not_stored(sqlite_url, make, kwargs, reason):
    kit = make(sqlite_url)
    arguments = {"kind": "request_update", "recipient": Recipient.person(USER), "payload": UPDATE, "idempotency_key": "bad:1", **kwargs}
    with pytest.raises(PayloadError, match=reason):
        kit.enqueue(**arguments)
    assert kit.rows() == []


def test_a_row_left_sending_by_a_dead_worker_is_taken_back_after_its_lease(db_url, make, api):
    kit = make(db_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    row_id = _update(kit)
    with kit.sessions.begin() as session:  # a worker claims it and dies before sending
        (claimed,) = delivery.claim_due(session, utcnow(), 10, timedelta(seconds=300))
    kit.drain()
    assert kit.row(row_id).status == OutboxStatus.SENDING  # still within the lease
    with kit.sessions.begin() as session:
        session.get(OutboxMessage, row_id).next_attempt_at = utcnow() - timedelta(seconds=1)
    kit.drain()
    row = kit.row(row_id)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    # The dead worker's late write cannot touch the row any more.
    with kit.sessions.begin() as session:
        stale = delivery.Send(row_id=row_id, attempt=claimed.attempt, channel=Channel.TEMPLATE, recipient=Recipient.person(USER),
                              client_msg_id="x")
        assert delivery.record_success(session, stale, "1", utcnow()) is False


def test_postgresql_claims_skip_rows_another_worker_holds(pg_url, make):
    from tests.conftest import _truncate_all

    _truncate_all(pg_url)
    kit = make(pg_url)
    ids = [_update(kit, key=f"req:{n}") for n in range(6)]
    with kit.sessions.begin() as first:
        mine = delivery.claim_due(first, utcnow(), 3, timedelta(seconds=60))
        with kit.sessions.begin() as second:  # runs while the first transaction still holds its rows
            theirs = delivery.claim_due(second, utcnow(), 10, timedelta(seconds=60))
    assert {c.row_id for c in mine} | {c.row_id for c in theirs} == set(ids)
    assert not {c.row_id for c in mine} & {c.row_id for c in theirs}


def plain_peer_sample(name: str) -> str:
    from tests.wechat_peer import INBOUND

    return (INBOUND / name).read_text(encoding="utf-8")


def test_a_row_the_worker_cannot_read_backs_off_and_ends_failed(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS", OUTBOX_MAX_ATTEMPTS=2)
    bad, good = _update(kit, key="req:1"), _update(kit, key="req:2", recipient=OTHER)
    with kit.engine.begin() as conn:  # written with another DATA_ENCRYPTION_KEY
        conn.execute(text("UPDATE outbox_message SET payload = 'gAAAA-not-ours' WHERE id = :id"), {"id": bad})
    kit.drain()
    with kit.engine.connect() as conn:
        status, attempts, errmsg = conn.execute(
            text("SELECT status, attempts, last_errmsg FROM outbox_message WHERE id = :id"), {"id": bad}).one()
    assert (status, attempts, errmsg) == ("pending", 1, "worker error UndecryptableData")  # the key it was written with is not configured
    assert "无法解密" in delivery_log.reason_words(None, errmsg)  # what staff read in the console
    assert kit.row(good).status == OutboxStatus.SENT  # the bad row blocks nothing
    with kit.engine.begin() as conn:
        conn.execute(text("UPDATE outbox_message SET next_attempt_at = :now WHERE id = :id"),
                     {"id": bad, "now": utcnow().replace(tzinfo=None)})
    kit.drain()
    with kit.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM outbox_message WHERE id = :id"), {"id": bad}).scalar() == "failed"


def test_a_plain_text_staff_alert_goes_out_as_a_template_cut_to_fit(sqlite_url, make, api):
    kit = make(sqlite_url, WECHAT_TEMPLATE_IDS="staff_alert=TPL_ALERT")
    with kit.sessions.begin() as session:
        session.add(StaffOpenid(openid=OTHER))
    kit.enqueue(kind="staff_alert", recipient=Recipient.role("staff"), channel=Channel.TEMPLATE,
                payload={"text": "新的求助申请待分派：生活困难\n请尽快处理，谢谢"}, idempotency_key="alert:9")
    kit.drain()
    (sent,) = api.delivered(TEMPLATE)
    assert sent.touser == OTHER and sent.body["data"] == {"thing1": {"value": "新的求助申请待分派：生活困难 请尽快处…"}}


# --- a worker that dies mid-send ------------------------------------------------------


def _die_mid_send(kit: Outbound, now):
    """What a SIGKILLed worker leaves: rows claimed and planned (the call to WeChat under way),
    nothing recorded."""
    lease = timedelta(seconds=kit.settings.outbox_lease_seconds)
    config = delivery.DeliveryConfig(sandbox=False, template_ids={"request_update": "TPL_PROGRESS"})
    with kit.sessions.begin() as session:
        claimed = delivery.claim_due(session, now, 10, lease)
    sends = []
    for item in claimed:
        with kit.sessions.begin() as session:
            sends.append(delivery.plan(session, item, config, now))
    return sends


def test_a_customer_service_message_caught_mid_send_is_not_sent_twice(db_url, make, api, apps, plain_peer):
    kit = make(db_url, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS")
    _write(apps, plain_peer, kit, text_xml("你好", openid=USER))  # opens the reply window
    talking = _update(kit, "req:1:cs")
    silent = _update(kit, "req:2:template", recipient=OTHER)  # no window: a template message
    now = utcnow()
    sends = _die_mid_send(kit, now)
    assert {s.channel for s in sends} == {Channel.CUSTOMER_SERVICE, Channel.TEMPLATE}

    later = now + timedelta(seconds=kit.settings.outbox_lease_seconds + 1)
    with kit.sessions.begin() as session:
        delivery.claim_due(session, later, 10, timedelta(seconds=60))
    maybe_sent = kit.row(talking)
    assert maybe_sent.status == OutboxStatus.FAILED  # shown in the delivery log, for staff to retry
    assert "may have reached the person" in maybe_sent.last_errmsg
    from services.delivery_log import reason_words

    assert "可能已收到" in reason_words(None, maybe_sent.last_errmsg)  # what staff read
    assert kit.row(silent).status == OutboxStatus.SENDING  # taken again: client_msg_id drops a doubled one
    assert api.delivered() == []


def test_the_default_lease_brings_a_dead_workers_rows_back_within_a_minute(tmp_path):
    from tests.conftest import make_settings

    assert make_settings("sqlite:///" + str(tmp_path / "x.db"), tmp_path).outbox_lease_seconds <= 60
