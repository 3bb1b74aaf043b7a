"""Fixtures: settings for SQLite and a throwaway PostgreSQL database, apps, WeChat's side."""

from __future__ import annotations

import base64
import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text

from config import Settings
from models import Base
from models.database import make_engine
from models.encrypted import configure_data_key
from models.schema import upgrade
from tests.wechat_peer import WeChatPeer

TOKEN = "testtoken123"
APP_ID = "wx0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DATA_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_admin_engine():
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def create_pg_database() -> str:
    """A throwaway database on the local PostgreSQL; the caller drops it."""
    name = f"sy_test_{uuid.uuid4().hex[:10]}"
    engine = _pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = _pg_admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_url():
    """One migrated throwaway PostgreSQL database for the run; skipped (or, in CI, failed) without a server."""
    try:
        url = create_pg_database()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def redis_url():
    """Redis database 15 on the local server, flushed before the run."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI but unreachable at {url}: {exc}")
        pytest.skip(f"Redis not reachable at {url}")
    yield url
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)  # its engine is disposed: the last connection's close folds the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


def fresh_sqlite_url(template, tmp_path) -> str:
    target = tmp_path / "test.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, sqlite_template):
    """Each database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return fresh_sqlite_url(sqlite_template, tmp_path)
    url = request.getfixturevalue("pg_url")
    _truncate_all(url)
    return url


def _truncate_all(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    return fresh_sqlite_url(sqlite_template, tmp_path)


def make_settings(database_url: str, instance_dir, **overrides) -> Settings:
    env = {
        "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(instance_dir),
        "SECRET_KEY": "test-secret-key-0123456789",
        "DATA_ENCRYPTION_KEY": DATA_KEY,
        "WECHAT_TOKEN": TOKEN,
        "APP_ENV": "development",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return Settings.from_env(env, env_file=None)


@pytest.fixture(autouse=True)
def _data_key():
    configure_data_key(DATA_KEY)


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path)


@pytest.fixture
def safe_settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_ENCODING_AES_KEY=AES_KEY)


@pytest.fixture
def apps():
    """Builds apps and closes their thread pools and engines afterwards."""
    from bot import create_app

    built = []

    def build(settings, routes=None):
        app = create_app(settings, routes)
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["shuangyong"].close()


@pytest.fixture
def plain_peer():
    return WeChatPeer(TOKEN)


@pytest.fixture
def safe_peer():
    return WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")


def count_rows(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        counts = {t.name: conn.execute(text(f"SELECT COUNT(*) FROM {t.name}")).scalar_one() for t in Base.metadata.sorted_tables}
    engine.dispose()
    return counts


@pytest.fixture
def console(apps, tmp_path):
    """Console tests: build(url) → (app, sessions, client_for(username)) with the clock at console_kit.NOW.

    The calendar rules are seeded (the dashboard and the scheduler read them)."""
    from scheduler.runner import ensure_seeded
    from tests.console_kit import NOW, runtime_of, sign_in

    def build(url):
        app = apps(make_settings(url, tmp_path))
        rt = runtime_of(app)
        rt.clock = lambda: NOW
        ensure_seeded(rt.sessions)

        def client_for(username):
            client = app.test_client()
            assert sign_in(client, username).status_code == 302
            return client

        return app, rt.sessions, client_for
    return build


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser); CI installs it."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
