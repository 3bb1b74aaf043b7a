"""The root of `python -m bot …`: the click group and what several commands share (opening
the database, checking its schema). It imports no command module: each of them (bot/cli/*.py)
registers itself on `cli` when imported, and the group imports a command's module the first
time that command is looked up (click's "lazily loading subcommands" pattern), so a command
loads only what it uses and `--help` lists every command from the table below.

The group keeps the interface Flask's FlaskGroup gave it (-e/--env-file, -A/--app,
--debug, the FLASK_ environment prefix, Flask's run/shell/routes) without importing Flask:
only run, shell, routes and prune build the web app."""

from __future__ import annotations

import functools
import importlib
import logging
import os
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger("bot.cli")

# Every command of the root group: the module that registers it, and its help text's first
# paragraph, which `--help` shortens into the command list exactly as click does for the loaded
# command (tests/test_process_layout.py checks both against the real commands).
COMMANDS: dict[str, tuple[str, str]] = {
    "backup": ("bot.cli.privacy",
               "Write an encrypted copy of the database (SQLite: online backup; PostgreSQL: pg_dump)."),
    "calendar": ("bot.cli.scheduler", "Print a year's computed days, one per line: date and name."),
    "calendar-rule": ("bot.cli.scheduler", "Staff edits of the calendar rules (add, enable, disable, list)."),
    "chat": ("bot.cli.demo", "Chat with the account from the terminal; /menu, /menu N, /scan SCENE, /quit."),
    "db": ("bot.cli.root", "Database schema (Alembic migrations)."),
    "demo": ("bot.cli.demo",
             "Migrate, seed the demo data if empty, and run web + scheduler + delivery in the sandbox."),
    "export": ("bot.cli.export", "Write an export as Excel. NAME is one of: visit-ledger (走访慰问台账), "
                                 "team-lists (走访组走访名单), relief-signoff (慰问金签领表), roster (优抚对象花名册), "
                                 "conscript-allowance (义务兵家庭优待金发放名单)."),
    "menu": ("bot.cli.conversations", "The official account's custom menu (deploy/menu.toml)."),
    "notify": ("bot.cli.outbound", "Queue a one-off message through the normal delivery path."),
    "outbox": ("bot.cli.outbound", "Outbox rows by status; failed rows show WeChat's errcode and message."),
    "pair": ("bot.cli.pairs",
             "定点定人帮困: pair volunteers with households; a pair silent for 30 days nudges the volunteer."),
    "prune": ("bot.cli.root", "Delete expired dedupe records (the webhook also does this now and then) and "
                              "old sign-in attempts."),
    "publicity-plan": ("bot.cli.scheduler", "Print a year's planned mass sends by month, against the monthly budget."),
    "restore": ("bot.cli.privacy",
                "Restore an encrypted backup made by `backup` into DATABASE_URL (stop the bot first)."),
    "retention": ("bot.cli.privacy", "Purge transcripts, form drafts and dedupe records past RETENTION_DAYS and "
                                     "anonymise requests closed more than CLOSED_REQUEST_RETENTION_YEARS ago (the "
                                     "scheduler does this every night)."),
    "roster": ("bot.cli.roster", "优抚对象名册: import a county 台账 (.xlsx), download the template."),
    "rotate-keys": ("bot.cli.privacy", "Re-encrypt every personal field with the first key of DATA_ENCRYPTION_KEY."),
    "run-jobs": ("bot.cli.scheduler",
                 "Run what is due at a moment, since each job's watermark (catch-up included)."),
    "scheduler": ("bot.cli.scheduler", "Run the scheduler (one active per database; others wait as standbys)."),
    "seed-demo": ("bot.cli.demo",
                  "Re-create the invented demo data (households, volunteers, activities, requests, pairs)."),
    "serve": ("bot.cli.root", "Run the production server (gunicorn). Upgrades a SQLite database first."),
    "staff": ("bot.cli.outbound", "Openids that receive messages addressed to a role (recipient role:staff)."),
    "staff-user": ("bot.cli.staff",
                   "Staff console accounts (roles: admin, officer, viewer; optionally one 乡镇/街道)."),
    "visit-campaign": ("bot.cli.scheduler",
                       "走访慰问 campaigns: windows, lead days, who is visited; 元旦 and 春节 as one or two rounds."),
    "workday": ("bot.cli.scheduler",
                "Mark DAY as a working day (work), a day off (rest), or remove the mark (clear)."),
    "worker": ("bot.cli.outbound", "Deliver the outbox. Run as many as you like, on as many machines as you like."),
}
# Flask's own commands, as FlaskGroup adds them: the flask.cli object and its short help.
FLASK_COMMANDS: dict[str, tuple[str, str]] = {
    "routes": ("routes_command", "Show the routes for the app."),
    "run": ("run_command", "Run a development server."),
    "shell": ("shell_command", "Run a shell in the app context."),
}
APP_META = "bot.cli.app_import_path"


def _create_app():
    from bot import create_app

    return create_app()


def configure_process(settings: Settings | None = None) -> Settings:
    """Settings (a ConfigError exits with 2), logging and the data key: what every command
    needs before it runs (building the app did this when the root group was Flask's).
    Nothing of the web app itself is built."""
    from bot.logs import configure_logging
    from config import Settings
    from models.encrypted import configure_data_key

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, json_lines=not settings.development)
    configure_data_key(settings.data_encryption_key)
    return settings


def _configured(f):
    @functools.wraps(f)
    def command(*args, **kwargs):
        configure_process()
        return f(*args, **kwargs)

    return command


def _script_info(ctx: click.Context):
    """Flask's ScriptInfo (how flask.cli finds the app) on `ctx`, made on first need."""
    from flask.cli import ScriptInfo

    info = ctx.find_object(ScriptInfo)
    if info is None:
        info = ctx.obj = ScriptInfo(app_import_path=ctx.meta.get(APP_META), create_app=_create_app,
                                    load_dotenv_defaults=_load_dotenv_defaults())
    return info


class CommandGroup(click.Group):
    """A group whose commands run configured (`_configured`), as Flask's AppGroup ran them inside the app."""

    def command(self, *args, **kwargs):
        def decorator(f):
            return click.Group.command(self, *args, **kwargs)(_configured(f))

        return decorator

    def group(self, *args, **kwargs):
        kwargs.setdefault("cls", CommandGroup)
        return super().group(*args, **kwargs)


class LazyGroup(CommandGroup):
    """The root group: imports a command's module on first lookup; lists commands from COMMANDS."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS, *FLASK_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in FLASK_COMMANDS:
            _script_info(ctx)  # before click makes the command's context, which inherits it
            if name not in self.commands:
                from flask import cli as flask_cli

                self.add_command(getattr(flask_cli, FLASK_COMMANDS[name][0]), name)
        elif name not in self.commands and name in COMMANDS:
            importlib.import_module(COMMANDS[name][0])  # registers its commands on this group
        return self.commands.get(name)

    def _listed(self, name: str) -> click.Command | None:
        """The command as `--help` lists it: itself once loaded, else a stand-in with its help."""
        if name in self.commands:
            return self.commands[name]
        if name in FLASK_COMMANDS:
            return click.Command(name, short_help=FLASK_COMMANDS[name][1])
        if name in COMMANDS:
            return click.Command(name, help=COMMANDS[name][1])
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own, with `_listed` for get_command: `--help` imports no command module.
        commands = [(name, cmd) for name in self.list_commands(ctx)
                    if (cmd := self._listed(name)) is not None and not cmd.hidden]
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _cmd in commands)
            rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in commands]
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        os.environ["FLASK_RUN_FROM_CLI"] = "true"  # as FlaskGroup: app.run() outside __main__ is a no-op
        return super().make_context(info_name, args, parent=parent, **extra)


# The options FlaskGroup declares (flask/cli.py, same flags and help), handled without Flask.

def _load_dotenv_defaults() -> bool:
    value = os.environ.get("FLASK_SKIP_DOTENV")
    return True if not value else value.lower() in ("0", "false", "no")


def _load_env_files(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """flask.cli.load_dotenv: the nearest .flaskenv, then .env (searched upward from the working
    directory), then FILE; a variable already in the environment is never replaced."""
    import dotenv

    defaults = _load_dotenv_defaults()
    if value is None and not defaults:
        return value
    data: dict[str, str | None] = {}
    if defaults:
        for name in (".flaskenv", ".env"):
            if path := dotenv.find_dotenv(name, usecwd=True):
                data |= dotenv.dotenv_values(path, encoding="utf-8")
    if value is not None and os.path.isfile(value):
        data |= dotenv.dotenv_values(value, encoding="utf-8")
    for key, loaded in data.items():
        if key not in os.environ and loaded is not None:
            os.environ[key] = loaded
    return value


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        ctx.meta[APP_META] = value
    return value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool | None:
    source = ctx.get_parameter_source(param.name)  # type: ignore[arg-type]
    if source is not None and source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        return None
    os.environ["FLASK_DEBUG"] = "1" if value else "0"
    return value


FLASK_OPTIONS = [
    click.Option(
        ["-e", "--env-file"],
        type=click.Path(exists=True, dir_okay=False),
        help=(
            "Load environment variables from this file, taking precedence over"
            " those set by '.env' and '.flaskenv'. Variables set directly in the"
            " environment take highest precedence. python-dotenv must be installed."
        ),
        is_eager=True,
        expose_value=False,
        callback=_load_env_files,
    ),
    click.Option(
        ["-A", "--app"],
        metavar="IMPORT",
        help=(
            "The Flask application or factory function to load, in the form 'module:name'."
            " Module can be a dotted import or file path. Name is not required if it is"
            " 'app', 'application', 'create_app', or 'make_app', and can be 'name(args)' to"
            " pass arguments."
        ),
        is_eager=True,
        expose_value=False,
        callback=_set_app,
    ),
    click.Option(["--debug/--no-debug"], help="Set debug mode.", expose_value=False, callback=_set_debug),
]

cli = LazyGroup(
    name="bot",
    params=FLASK_OPTIONS,
    context_settings={"auto_envvar_prefix": "FLASK"},
    help="双拥助手 — WeChat assistant for 双拥工作. Configuration comes from the environment and .env.",
)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
# 4 × 4 measured best on a 2-core machine (bench/README.md, issue 16): with the GIL, fewer threads per
# process and more processes waste less time switching threads than 2 × 8.
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the production server (gunicorn). Upgrades a SQLite database first."""
    from bot.server import run_gunicorn
    from config import Settings

    settings = Settings.from_env()
    prepare_database(settings)
    # The workers fork from this process: import the web app's code (and the intent examples)
    # here once, so they share it and start without importing it again. No app is built here.
    import bot.console  # noqa: F401
    import bot.health  # noqa: F401
    import bot.security  # noqa: F401
    import bot.webhook  # noqa: F401
    from handlers import intents

    intents.preload()
    click.echo(f"双拥助手 serving on http://{host}:{port}  (webhook /wechat, health /healthz)", err=True)
    run_gunicorn(settings, host=host, port=port, workers=workers, threads=threads)


def database_reason(error: BaseException) -> str:
    """The driver's own first line ("failed to resolve host …", "database "x" does not
    exist"), without SQLAlchemy's wrapping; never the statement's parameters."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0].strip() if lines else type(original).__name__


def prepare_database(settings: Settings) -> None:
    from config import ConfigError
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
    from models.database import make_engine, make_session_factory

    settings = configure_process(settings)
    # APScheduler announces every run of every job at INFO (the lock renewal every few seconds).
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
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
    from config import Settings
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
    from config import Settings
    from models.schema import check

    check(Settings.from_env().database_url)
    click.echo("models and migrations agree")


@cli.command("prune")
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Delete expired dedupe records (the webhook also does this now and then) and old sign-in attempts."""
    from flask import current_app

    from bot.runtime import runtime
    from models import utcnow
    from services import staff_accounts

    # flask.cli.with_appcontext, with Flask imported only here
    with nullcontext() if current_app else _script_info(ctx).load_app().app_context():
        removed = runtime().dedupe.prune(utcnow())
        with runtime().sessions.begin() as session:
            attempts = staff_accounts.prune_attempts(session, utcnow())
    click.echo(f"removed {removed} expired inbound records and {attempts} sign-in attempts older than 90 days")
