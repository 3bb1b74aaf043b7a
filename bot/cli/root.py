"""The root of `python -m bot …`: Flask's click group and what several commands share
(opening the database, checking its schema). It imports no command module: each of them
(bot/cli/*.py) registers itself on `cli`, and bot/cli/main.py imports them all."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import click
from flask.cli import FlaskGroup, with_appcontext

from config import ConfigError, Settings

log = logging.getLogger("bot.cli")


def _create_app():
    from bot import create_app

    return create_app()


cli = FlaskGroup(
    name="bot",
    create_app=_create_app,
    add_version_option=False,
    help="双拥助手 — WeChat assistant for 双拥工作. Configuration comes from the environment and .env.",
)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the production server (gunicorn). Upgrades a SQLite database first."""
    from bot.server import run_gunicorn

    settings = Settings.from_env()
    prepare_database(settings)
    click.echo(f"双拥助手 serving on http://{host}:{port}  (webhook /wechat, health /healthz)", err=True)
    run_gunicorn(settings, host=host, port=port, workers=workers, threads=threads)


def database_reason(error: BaseException) -> str:
    """The driver's own first line ("failed to resolve host …", "database "x" does not
    exist"), without SQLAlchemy's wrapping; never the statement's parameters."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0].strip() if lines else type(original).__name__


def prepare_database(settings: Settings) -> None:
    from models.database import make_engine
    from models.schema import current_revision, head_revision, upgrade

    if settings.is_sqlite:
        upgrade(settings.database_url)
        backfill_indexes(settings)
        return
    engine = make_engine(settings.database_url)
    try:
        revision = current_revision(engine)
    except Exception as exc:
        raise ConfigError(f"DATABASE_URL: cannot connect to the database ({database_reason(exc)})") from None
    finally:
        engine.dispose()
    if revision != head_revision():
        raise ConfigError(
            f"the database schema is at {revision or 'nothing'}, not {head_revision()}: "
            "run `python -m bot db upgrade` first"
        )


@contextmanager
def open_database(settings: Settings | None = None):
    """Settings, logging, the data key and a database for one CLI command."""
    from bot.logs import configure_logging
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, json_lines=not settings.development)
    # APScheduler announces every run of every job at INFO (the lock renewal every few seconds).
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
    configure_data_key(settings.data_encryption_key)
    engine = make_engine(settings.database_url)
    try:
        yield settings, engine, make_session_factory(engine)
    finally:
        engine.dispose()


@cli.group("db")
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema in DATABASE_URL."""
    from models.schema import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url, revision)
    filled = backfill_indexes(settings) if revision == "heads" else 0
    click.echo(f"database upgraded to {revision}" + (f" ({filled} search indexes filled)" if filled else ""))


def backfill_indexes(settings: Settings) -> int:
    """Blind indexes for rows older than them (needs the data key, so not in a migration);
    also the area table, seeded from areas.toml while it is empty."""
    from services.areas import seed_from_toml
    from services.blind_indexes import backfill

    with open_database(settings) as (_settings, _engine, sessions):
        with sessions.begin() as session:
            seed_from_toml(session, settings)
            return backfill(session)


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree."""
    from models.schema import check

    check(Settings.from_env().database_url)
    click.echo("models and migrations agree")


@cli.command("prune")
@with_appcontext
def prune() -> None:
    """Delete expired dedupe records (the webhook also does this now and then) and old sign-in attempts."""
    from bot.runtime import runtime
    from models import utcnow
    from services import staff_accounts

    removed = runtime().dedupe.prune(utcnow())
    with runtime().sessions.begin() as session:
        attempts = staff_accounts.prune_attempts(session, utcnow())
    click.echo(f"removed {removed} expired inbound records and {attempts} sign-in attempts older than 90 days")
