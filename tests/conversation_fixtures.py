"""Fixtures for the conversation tests: an app on SQLite or PostgreSQL, a movable clock,
and helpers to read what the chat wrote to the database."""

from __future__ import annotations

import functools
import importlib.util
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from models.database import make_engine, make_session_factory
from models.faq import FaqEntry
from models.schema import PROJECT_ROOT
from tests.conftest import TOKEN, make_settings
from tests.transcript import Chat, Clock
from tests.wechat_peer import WeChatPeer

# Monday 2026-12-07 09:00 Shanghai: the tests' "now".
START = datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)


def migration_faq() -> list[tuple[str, str, str, int]]:
    """The FAQ a migrated database starts with: (topic, keywords, answer, position), in insertion order."""
    return list(_migration_faq())


@functools.cache
def _migration_faq() -> tuple[tuple[str, str, str, int], ...]:
    # Loaded once per test process: every PostgreSQL conversation test puts the FAQ back.
    path = PROJECT_ROOT / "migrations" / "versions" / "0013_faq_answers.py"
    spec = importlib.util.spec_from_file_location("faq_defaults_0013", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inserted_at = module.MARTYR_FAMILY_POSITION  # the topics from there on moved down one
    seeded = [(topic, keywords, answer, n if n < inserted_at else n + 1)
              for n, (topic, keywords, answer) in enumerate(module.FAQ_DEFAULTS, start=1)]
    return tuple(seeded + [(*module.MARTYR_FAMILY, inserted_at)])


def ensure_faq(url: str) -> None:
    """The PostgreSQL test database is truncated between tests; put the seeded FAQ back."""
    engine = make_engine(url)
    try:
        _ensure_faq(make_session_factory(engine))
    finally:
        engine.dispose()


def _ensure_faq(sessions) -> None:
    with sessions.begin() as session:
        if not session.scalar(select(func.count(FaqEntry.id))):
            for topic, keywords, answer, position in migration_faq():
                session.add(FaqEntry(topic=topic, keywords=keywords, answer=answer, position=position, enabled=True))


class Database:
    """Direct access for setting the scene and checking results (never through the chat)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)

    def session(self):
        return self.sessions()

    def scalars(self, statement):
        with self.sessions() as session:
            return list(session.scalars(statement))

    def raw(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def count(self, model) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    _ensure_faq(database.sessions)  # on the fixture's own engine: no second engine and connection per test
    yield database
    database.engine.dispose()


@pytest.fixture
def chat_app(db, tmp_path, apps):
    return apps(make_settings(db.url, tmp_path))


@pytest.fixture
def new_chat(chat_app, clock):
    peer = WeChatPeer(TOKEN)

    def build(openid: str = "oChatUser0001") -> Chat:
        return Chat(chat_app, peer, openid, clock)

    return build


def later(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)
