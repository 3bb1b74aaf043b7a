"""Helpers for the outbound-messaging tests: settings pointing at the fake WeChat API,
a delivery worker run until nothing is due, and readers for rows and events."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select

from worker.main import build_worker
from config import Settings
from models import Follower, OutboxEvent, OutboxMessage, utcnow
from models.database import make_engine, make_session_factory
from services import outbox
from tests.conftest import make_settings
from tests.fake_wechat_api import APP_ID, APP_SECRET, FakeWeChatApi

TEMPLATE_FIELDS = {"thing1": "求助进度更新", "phrase2": "已受理"}


def outbound_settings(db_url: str, tmp_path, api: FakeWeChatApi | None, **overrides) -> Settings:
    env = {"OUTBOX_SEND_RATE": 1000}
    if api is not None:
        env.update(WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET, WECHAT_API_BASE_URL=api.base_url)
    env.update(overrides)
    return make_settings(db_url, tmp_path, **env)


@dataclass
class Outbound:
    settings: Settings

    def __post_init__(self):
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_session_factory(self.engine)

    def enqueue(self, **kwargs) -> int:
        with self.sessions.begin() as session:
            return outbox.enqueue(session, **kwargs).id

    def drain(self, concurrency: int = 4) -> int:
        """Run one worker until nothing is due; returns how many rows it handled."""
        worker = build_worker(self.settings, self.sessions, self.engine, concurrency)
        worker.poll_seconds = 0.05
        worker.run(threading.Event(), until_idle=True)
        return worker.delivered

    def row(self, row_id: int) -> OutboxMessage:
        with self.sessions() as session:
            return session.get(OutboxMessage, row_id)

    def rows(self) -> list[OutboxMessage]:
        with self.sessions() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def events(self, row_id: int) -> list[tuple[str | None, str]]:
        with self.sessions() as session:
            found = session.scalars(select(OutboxEvent).where(OutboxEvent.outbox_id == row_id).order_by(OutboxEvent.id))
            return [(e.from_status, e.to_status) for e in found]

    def last_note(self, row_id: int) -> str:
        with self.sessions() as session:
            return session.scalars(
                select(OutboxEvent.note).where(OutboxEvent.outbox_id == row_id).order_by(OutboxEvent.id.desc())
            ).first() or ""

    def follower(self, openid: str) -> Follower | None:
        with self.sessions() as session:
            return session.scalars(select(Follower).where(Follower.openid == openid)).first()

    def make_due(self, row_id: int) -> None:
        with self.sessions.begin() as session:
            session.get(OutboxMessage, row_id).next_attempt_at = utcnow()

    def close(self) -> None:
        self.engine.dispose()
