"""Two workers, two messages of the same user at the same moment: they queue, nothing is lost."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from handlers.router import ROUTES, Route
from models.conversation import ConversationState
from tests.conftest import TOKEN, make_settings
from tests.conversation_fixtures import Database, ensure_faq
from tests.test_conversation_volunteer import UP_TO_SUMMARY
from tests.transcript import Chat
from tests.wechat_peer import WeChatPeer

HOLD = 0.4  # seconds each message keeps the user's row locked


def slow_routes():
    # Runs after dispatch has locked the row: makes the two messages overlap for sure.
    return (Route("hold the lock", lambda ctx: time.sleep(HOLD) or False, lambda ctx: None),) + ROUTES


@pytest.mark.parametrize("lock", ["database", "redis"])
def test_two_workers_same_user_same_moment(db_url, tmp_path, apps, lock, request):
    """With Redis the user is locked there (services.inbound_dedupe) and the row only read."""
    ensure_faq(db_url)
    peer = WeChatPeer(TOKEN)
    extra = {"REDIS_URL": request.getfixturevalue("redis_url")} if lock == "redis" else {}
    # Two apps = two workers: each has its own engine, pool and handler threads.
    worker_a = apps(make_settings(db_url, tmp_path / "a", **extra), routes=slow_routes())
    worker_b = apps(make_settings(db_url, tmp_path / "b", **extra), routes=slow_routes())
    Chat(worker_a, peer, "oTwoWorkers").run(UP_TO_SUMMARY[:3])  # now at the town question
    database = Database(db_url)
    before = database.scalars(select(ConversationState))[0].version

    answers: dict[str, str] = {}

    def send(app, text, delay):
        time.sleep(delay)
        answers[text] = Chat(app, peer, "oTwoWorkers").say(text)

    started = time.monotonic()
    threads = [
        threading.Thread(target=send, args=(worker_a, "1", 0.0)),  # 城关镇
        threading.Thread(target=send, args=(worker_b, "3", 0.1)),  # arrives while the first holds the lock
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    [state] = database.scalars(select(ConversationState))
    database.engine.dispose()
    assert elapsed >= 2 * HOLD  # the second waited for the first
    # Handled one after the other: town, then village — both answers kept, none overwritten.
    assert answers["1"].startswith("您所在的村/社区：")
    assert answers["3"].startswith("您能提供哪些服务？")
    assert state.step == "skills" and state.version == before + 2
    assert (state.answers["a"]["town"], state.answers["a"]["village"]) == ("城关镇", "河口村")
