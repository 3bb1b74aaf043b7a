"""Fixtures: settings for SQLite and a throwaway PostgreSQL database, apps, WeChat's side."""

from __future__ import annotations

import base64
import fcntl
import functools
import gc
import itertools
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from jinja2 import BytecodeCache
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


PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_CODE = ("bot", "config.py", "handlers", "models", "migrations", "scheduler", "services", "wechat", "worker", "bench")


def pytest_configure(config):
    """Compile the project's modules once before the run. With PYTHONDONTWRITEBYTECODE set (as on
    these machines) every `python -m bot` process the tests start would otherwise compile them all
    from source again (0.35 of its 1.5 s of CPU); reading .pyc files is still allowed."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    import compileall

    for name in PROJECT_CODE:
        path = PROJECT_ROOT / name
        if path.is_dir():
            compileall.compile_dir(path, quiet=1, workers=1)
        elif path.exists():
            compileall.compile_file(path, quiet=1)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    """Keep pytest's assert-rewritten test modules (tests/__pycache__/*-pytest-*.pyc, ignored by
    git). With PYTHONDONTWRITEBYTECODE set pytest rewrites and compiles every test module again on
    each run, and under xdist in every worker (each collects the whole suite): about 3.4 s of CPU
    per worker. Only while collecting, where the test modules are imported; pytest writes each
    file atomically, so workers collecting at once do not clash, and it checks the source's mtime
    and size, so an edited test is rewritten again."""
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = saved


# --- how the run is spread over the cores (pytest-xdist, --dist loadfile) -------------------------
# A worker takes a whole file at a time. The files that take one worker longest are handed out
# first: otherwise xdist hands out the files with the most tests first, and the run ended with one
# worker on the drill or a year of daily runs while the others had nothing left. Those that mostly
# wait for the processes they start (a lease to run out, a server to start) alternate with those
# that keep a core busy, so that the two workers are seldom both waiting. (A third worker on the
# 2 cores was measured too: 216 s against 190 s, and a third more CPU.)
# Seconds on one worker, 2-core machine, 2026-11; only an order: other files follow in theirs.
BUSY_FILES = {
    "test_year_as_county.py": 29, "test_drill.py": 21, "test_year_as_county_postgresql.py": 20,
    "test_console_browser.py": 14, "test_outbox_delivery.py": 10, "test_simulator.py": 9,
    "test_console_roster_import.py": 8, "test_console_visits.py": 8,
}
WAITING_FILES = {
    "test_scheduler_process.py": 27, "test_outbox_workers.py": 23, "test_demo.py": 19,
    "test_webhook_reliability.py": 12, "test_drill_findings.py": 11, "test_serve.py": 11,
    "test_conversation_concurrency.py": 10,
}


def _longest_first(files: dict[str, int]) -> list[str]:
    return sorted(files, key=files.get, reverse=True)


def pytest_collection_modifyitems(items):
    busy, waiting = _longest_first(BUSY_FILES), _longest_first(WAITING_FILES)
    order = [name for pair in itertools.zip_longest(busy, waiting) for name in pair if name]
    rank = {name: n for n, name in enumerate(order)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def pytest_collection_finish(session):
    """What exists once collection is done (the modules, the collected tests) lives to the end of
    the run: frozen, the garbage collector's full collections no longer walk it."""
    gc.collect()
    gc.freeze()


def _share_compiled_sql() -> None:
    """Most tests build engines of their own (each app, each seeded_sessions), and SQLAlchemy keeps
    the SQL it compiles per engine and per dialect instance (the engine's statement cache, and each
    mapper's cache of INSERT/UPDATE statements, keyed by the dialect): every test compiled again
    the statements the tests before it had compiled: a fifth of the in-process tests' CPU (six
    console, notice, export and conversation files under cProfile: 56 s before, 40 s after). The mapper
    caches kept each finished test's compiled statements (up to 100 per mapper), a heap of a
    million objects by the end of a run that every full garbage collection scanned.

    Here engines made by models.database.make_engine share one statement cache per dialect class,
    and a dialect equals another of its class when their settings are the same (the plain values
    SQLAlchemy set from the engine's arguments and the server on the first connection, and the JSON
    functions): equal dialects compile the same SQL. So each statement is compiled once per test
    process and database kind, as in a production process, whose one engine keeps its statements
    for its whole life. Only the caching is shared: each engine keeps its own dialect, pool,
    connections and event listeners, and runs the same SQL as before. Processes the tests start
    do not have this."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
    from sqlalchemy.util import LRUCache

    from models import database

    plain = (type(None), bool, int, float, str, bytes)

    def is_plain(value) -> bool:
        return isinstance(value, plain) or (isinstance(value, tuple) and all(map(is_plain, value)))

    def settings(dialect) -> tuple:
        values = tuple(sorted((k, v) for k, v in vars(dialect).items() if is_plain(v)))
        return values + (id(dialect.dbapi), id(getattr(dialect, "_json_serializer", None)),
                         id(getattr(dialect, "_json_deserializer", None)))

    def same_settings(self, other) -> bool:  # before its first connection a dialect equals only itself
        if self is other:
            return True
        mine = self.__dict__.get("_settings_when_initialized")
        return mine is not None and type(self) is type(other) and mine == other.__dict__.get("_settings_when_initialized")

    def by_class(self) -> int:  # constant for a dialect's life
        return hash(type(self))

    for dialect_class in (SQLiteDialect_pysqlite, PGDialect_psycopg):
        def initialize(self, connection, _initialize=dialect_class.initialize):
            _initialize(self, connection)
            self._settings_when_initialized = settings(self)

        dialect_class.initialize = initialize
        dialect_class.__eq__, dialect_class.__hash__ = same_settings, by_class

    caches: dict[type, LRUCache] = {}
    create_engine = database.create_engine

    def create_engine_sharing_compiled_sql(*args, **kwargs):
        engine = create_engine(*args, **kwargs)
        if engine._compiled_cache is not None:
            engine._compiled_cache = caches.setdefault(type(engine.dialect), LRUCache(5000))
        return engine

    database.create_engine = create_engine_sharing_compiled_sql


_share_compiled_sql()


def _reuse_werkzeug_route_compilation() -> None:
    """Most tests build an app of their own (create_app), and werkzeug compiles each of its ~140
    routes again for each app: it parses the rule with a regular expression and generates Python
    source (an ast) for two URL builders per rule and compiles them: create_app took 37 ms of CPU,
    5 ms with this. Both results depend only on the rule (its text, parsed parts, defaults and
    converters), not on the app, so each distinct rule is parsed and compiled once per test
    process and the results serve every later app:

    - a parse is replayed: the same parts, and converters made again through get_converter with
      the arguments the first parse gave it;
    - a builder is one function taking the rule as its first argument, so one serves every rule
      with the same text, parts, defaults and converter types.

    Matching and building still run werkzeug's code. Pinned to the werkzeug these internals were
    read from (requirements.txt): another version compiles as usual. Processes the tests start
    (python -m bot, the servers) do not have this."""
    from importlib.metadata import version

    from werkzeug.routing.rules import Rule

    if not version("werkzeug").startswith("3.1."):
        return
    parse_rule, compile_builder = Rule._parse_rule, Rule._compile_builder
    parsed: dict = {}
    compiled: dict = {}

    def reused_parse(self, rule: str):
        key = (rule, tuple(self.map.converters.items()))
        entry = parsed.get(key)
        if entry is None:
            made = []

            def recording(variable_name, converter_name, args, kwargs):
                made.append((variable_name, converter_name, args, dict(kwargs)))
                return Rule.get_converter(self, variable_name, converter_name, args, kwargs)

            trace_from = len(self._trace)
            self.get_converter = recording
            try:
                parts = list(parse_rule(self, rule))
            finally:
                del self.get_converter
            entry = parsed[key] = (parts, self._trace[trace_from:], made)
            return iter(parts)
        parts, trace, made = entry
        for variable_name, converter_name, args, kwargs in made:
            self._converters[variable_name] = self.get_converter(variable_name, converter_name, args, kwargs)
            self.arguments.add(variable_name)
        self._trace.extend(trace)
        return iter(parts)

    def reused_builder(self, append_unknown: bool = True):
        defaults = self.defaults or {}
        key = (append_unknown, self.rule, tuple(self._trace), tuple(defaults.items()),
               tuple(self._converters), tuple(map(type, self._converters.values())))
        try:
            builder = compiled.get(key)
        except TypeError:  # an unhashable default: compile as werkzeug would
            return compile_builder(self, append_unknown)
        if builder is None:
            builder = compiled[key] = compile_builder(self, append_unknown)
        return builder

    Rule._parse_rule, Rule._compile_builder = reused_parse, reused_builder


_reuse_werkzeug_route_compilation()


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
    engine = _wipe_engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    drop_pg_database(url)


def _redis_db_for_this_worker() -> int:
    """15 for a plain run; under pytest-xdist each worker flushes a database of its own
    (gw1 → 13, gw2 → 12, …; 14 is the fault drill's)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    return 15 if index == 0 else max(1, 14 - index)


@pytest.fixture(scope="session")
def redis_url():
    """A Redis database on the local server (15, or one per xdist worker), flushed before the run."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db_for_this_worker()}")
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
    return request.getfixturevalue("empty_pg_url")


@pytest.fixture
def empty_pg_url(pg_url):
    """The worker's PostgreSQL database, emptied: db_url's PostgreSQL case, and alone for tests
    where PostgreSQL's locking is the point."""
    _truncate_all(pg_url)
    return pg_url


def _truncate_all(url: str) -> None:
    """Empties every table and restarts every id sequence, as TRUNCATE … RESTART IDENTITY would.

    DELETE in dependency order is used instead: on tables a test left (nearly) empty it takes a few
    milliseconds, where TRUNCATE of 49 tables rewrites 49 files and took about 0.3 s per test."""
    engine = _wipe_engines.get(url)
    if engine is None:
        engine = _wipe_engines[url] = make_engine(url)
    deletes = "; ".join(f"DELETE FROM {t.name}" for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(deletes))
        conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                          "JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE c.relkind = 'S' AND n.nspname = current_schema()"))


_wipe_engines: dict = {}  # one engine per test database for the run (disposed before it is dropped)


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


REDIS_PAUSE_LOCK = Path(tempfile.gettempdir()) / "shuangyong-tests-redis-pause.lock"


@pytest.fixture(autouse=True)
def _redis_pause_guard(request):
    """The fault drill (marked pauses_redis) pauses the whole Redis server (CLIENT PAUSE). With
    tests running in parallel (pytest-xdist, or another run on this machine, which shares the
    server), a test that talks to Redis waits until no drill is running, and the drill waits for
    them: a machine-wide file lock, shared by Redis tests, exclusive for the drill."""
    callspec = getattr(request.node, "callspec", None)
    pauses = request.node.get_closest_marker("pauses_redis") is not None
    if not pauses and "redis_url" not in request.fixturenames and \
            (callspec is None or "redis" not in callspec.params.values()):
        yield
        return
    with open(REDIS_PAUSE_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if pauses else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Staff passwords: werkzeug's default scrypt (N=2**15) costs about 0.1 s per hash and again per
# sign-in, most of a console test's time. Tests hash with N=2**8 (same code path, same format,
# verified the same way; 0.4 ms, where N=2**10 took 1.5 ms on each of a few thousand hashes and
# checks per run); tests marked production_password_hash keep the real cost. Not much lower:
# below N=2**7 OpenSSL refuses the memory limit werkzeug passes (132·N·r bytes).
TEST_PASSWORD_METHOD = "scrypt:256:8:1"


@pytest.fixture(autouse=True)
def _cheap_password_hash(request, monkeypatch):
    if request.node.get_closest_marker("production_password_hash"):
        return
    from werkzeug.security import generate_password_hash

    from services import staff_accounts

    def cheap(password, method=TEST_PASSWORD_METHOD, salt_length=16):
        return generate_password_hash(password, method=method, salt_length=salt_length)

    monkeypatch.setattr(staff_accounts, "generate_password_hash", cheap)
    monkeypatch.setattr(staff_accounts, "_dummy_hash", _cheap_dummy_hash)


@functools.cache
def _cheap_dummy_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not a real password", method=TEST_PASSWORD_METHOD)


@pytest.fixture
def settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path)


@pytest.fixture
def safe_settings(db_url, tmp_path):
    return make_settings(db_url, tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_ENCODING_AES_KEY=AES_KEY)


class _MemoryBytecodeCache(BytecodeCache):
    """Jinja compiles each template once per run instead of once per app (the source is
    checked on every load, so an edited template is compiled again)."""

    def __init__(self):
        self.stored: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.stored:
            bucket.bytecode_from_string(self.stored[bucket.key])

    def dump_bytecode(self, bucket):
        self.stored[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES_COMPILED_ONCE = _MemoryBytecodeCache()


@pytest.fixture
def apps():
    """Builds apps and closes their thread pools and engines afterwards."""
    from bot import create_app

    built = []

    def build(settings, routes=None):
        app = create_app(settings, routes)
        app.jinja_env.bytecode_cache = _TEMPLATES_COMPILED_ONCE
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
    """Rows in every table, read in one statement (one snapshot, one round trip, where a query per
    table took 49). PostgreSQL's is read on the run's wipe engine instead of a new connection."""
    names = [t.name for t in Base.metadata.sorted_tables]
    query = text("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {name})" for name in names))
    if database_url in _wipe_engines:
        with _wipe_engines[database_url].connect() as conn:
            return dict(zip(names, conn.execute(query).one()))
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return dict(zip(names, conn.execute(query).one()))
    finally:
        engine.dispose()


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


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser); CI installs it.

    Started once per test process (each xdist worker): a launch costs a second or two of CPU.
    Tests open a context of their own (browser.new_context / new_page), which has its own
    cookies, storage and cache, so no test sees another's session."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _PythonMBot:
    """`python -m bot` as CliRunner.invoke sees a command: bot/__main__.py's main() with the
    arguments in sys.argv, so its one-line "configuration error" / "database error" exits (code 2)
    are the real ones, not a copy."""

    name = "python -m bot"

    def main(self, args, prog_name, **_extra):
        import sys

        from bot.__main__ import main

        saved, sys.argv = sys.argv, [prog_name, *args]
        try:
            main()
        finally:
            sys.argv = saved


def _set_environ(target) -> None:
    for name in [n for n in os.environ if n not in target]:
        del os.environ[name]
    for name, value in target.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


@pytest.fixture
def cli(monkeypatch):
    """`python -m bot ARGS` in this process (an import of the project costs a new process about 1.5 s
    of CPU): cli(args, env=None, input=None) → click's Result (exit_code, stdout, stderr, output).

    env, as for subprocess.run, is the whole environment of the command (Settings read it, and
    .env, as in a real process); None keeps this process's. What a command changes in the process
    is put back after each call, as the end of a process would: the environment, the data key and
    the logging setup (open_database adds a handler on the stderr of the call; pytest's handlers are
    off during the call, so log lines land in the call's stderr as in a process). Exceptions other
    than click's exits propagate (a real process would print a traceback and exit 1).
    Not for commands that install signal handlers or run loops (worker, scheduler, serve): keep
    those as real processes (tests/scheduler_helpers.run_cli)."""
    import logging

    from click.testing import CliRunner

    from models import encrypted

    # main() points the process at INSTANCE_DIR/metrics for prometheus-client's multiprocess mode:
    # an environment variable read once per process, which would change this one for good.
    monkeypatch.setattr("services.metrics.prepare_process", lambda instance_dir: None)

    def run(args, env=None, input=None):
        saved_environ, saved_keys = dict(os.environ), encrypted._keys
        root = logging.getLogger()
        saved_handlers, saved_level = list(root.handlers), root.level
        loggers = logging.Logger.manager.loggerDict
        saved_levels = {name: lg.level for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
        if env is not None:
            _set_environ(env)
        for handler in saved_handlers:  # pytest's: a new process has none (warnings go to stderr)
            root.removeHandler(handler)
        try:
            return CliRunner().invoke(_PythonMBot(), [str(a) for a in args], input=input, catch_exceptions=False,
                                      prog_name="python -m bot")
        finally:
            _set_environ(saved_environ)
            encrypted._keys = saved_keys
            for handler in list(root.handlers):
                root.removeHandler(handler)
                handler.close()
            for handler in saved_handlers:
                root.addHandler(handler)
            root.setLevel(saved_level)
            for name, lg in list(loggers.items()):
                if isinstance(lg, logging.Logger):
                    lg.setLevel(saved_levels.get(name, logging.NOTSET))

    return run
