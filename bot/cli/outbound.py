"""Outbound-messaging commands: `worker`, `outbox`, `outbox retry`, `notify`, `staff`."""

from __future__ import annotations

import logging
import re
import uuid

import click

from bot.cli.root import prepare_database, cli
from bot.logs import configure_logging, openid_hash
from config import Settings
from models import OutboxStatus, Recipient, StaffOpenid, utcnow
from models.outbox import OPENID
from models.database import make_engine, make_session_factory
from models.encrypted import configure_data_key

log = logging.getLogger("bot.worker")
ROLE = re.compile(r"[a-z_]{1,27}")
NOTIFY_TEXT_LIMIT = 600


def _open(settings: Settings):
    configure_data_key(settings.data_encryption_key)
    engine = make_engine(settings.database_url)
    return engine, make_session_factory(engine)


@cli.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Sends in flight in this process (default OUTBOX_WORKER_CONCURRENCY).")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
def worker(concurrency: int | None, once: bool) -> None:
    """Deliver the outbox. Run as many as you like, on as many machines as you like."""
    from worker.main import run

    settings = Settings.from_env()
    configure_logging(settings.log_level, json_lines=not settings.development)
    prepare_database(settings)
    run(settings, concurrency=concurrency, once=once, say=lambda line: click.echo(line, err=True))


@cli.group("outbox", invoke_without_command=True)
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]), default=None,
              help="List only rows with this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def outbox_group(ctx: click.Context, status: str | None, limit: int) -> None:
    """Outbox rows by status; failed rows show WeChat's errcode and message."""
    if ctx.invoked_subcommand is not None:
        return
    from services import outbox

    settings = Settings.from_env()
    engine, sessions = _open(settings)
    try:
        with sessions() as session:
            counts = outbox.status_counts(session)
            click.echo("  ".join(f"{s.value}: {counts.get(s.value, 0)}" for s in OutboxStatus))
            rows = outbox.recent(session, OutboxStatus(status) if status else None, limit)
            for row in rows:
                click.echo(_row_line(settings, row))
    finally:
        engine.dispose()


def _row_line(settings: Settings, row) -> str:
    to = row.to
    recipient = f"openid#{openid_hash(settings.secret_key, to.value)}" if to.is_person else str(to)
    line = (
        f"{row.id:>6}  {row.status:<9} {row.kind:<20} {row.channel:<16} {recipient:<20} "
        f"attempts={row.attempts} updated={row.updated_at:%Y-%m-%d %H:%M:%S}Z"
    )
    if row.last_errcode is not None or row.last_errmsg:
        line += f"  errcode={row.last_errcode} {row.last_errmsg or ''}"
    return line


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, required=True, type=int)
def outbox_retry(ids: tuple[int, ...]) -> None:
    """Queue failed, cancelled or held rows again (all or none)."""
    from services import outbox

    settings = Settings.from_env()
    engine, sessions = _open(settings)
    try:
        with sessions.begin() as session:
            rows = outbox.requeue(session, list(dict.fromkeys(ids)), utcnow())
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        engine.dispose()
    click.echo(f"requeued {len(rows)}: {', '.join(str(r.id) for r in rows)}")


@cli.command("notify")
@click.option("--openid", required=True, help="The recipient's openid.")
@click.option("--text", "text_", required=True, help=f"The message (up to {NOTIFY_TEXT_LIMIT} characters).")
@click.option("--kind", default="notice", show_default=True, help="Message kind (decides the channel policy).")
def notify(openid: str, text_: str, kind: str) -> None:
    """Queue a one-off message through the normal delivery path."""
    from services import outbox
    from services.delivery_policy import PayloadError

    if not OPENID.fullmatch(openid):
        raise click.BadParameter("an openid is 6 to 64 letters, digits, - or _", param_hint="--openid")
    text_ = text_.strip()
    if not text_ or len(text_) > NOTIFY_TEXT_LIMIT:
        raise click.BadParameter(f"give 1 to {NOTIFY_TEXT_LIMIT} characters", param_hint="--text")
    settings = Settings.from_env()
    engine, sessions = _open(settings)
    try:
        with sessions.begin() as session:
            row = outbox.enqueue(session, kind=kind, recipient=Recipient.person(openid), payload={"text": text_},
                                 idempotency_key=f"notify:{uuid.uuid4().hex}")
            row_id = row.id
    except PayloadError as error:
        raise click.ClickException(str(error)) from None
    finally:
        engine.dispose()
    click.echo(f"queued outbox message {row_id} ({kind}); a running `python -m bot worker` delivers it")


@cli.group("staff")
def staff() -> None:
    """Openids that receive messages addressed to a role (recipient role:staff)."""


@staff.command("add")
@click.argument("openid")
@click.option("--role", default="staff", show_default=True)
@click.option("--label", default=None, help="Who this is, for the list (stored encrypted).")
def staff_add(openid: str, role: str, label: str | None) -> None:
    from sqlalchemy import select

    if not OPENID.fullmatch(openid):
        raise click.BadParameter("an openid is 6 to 64 letters, digits, - or _", param_hint="OPENID")
    if not ROLE.fullmatch(role):
        raise click.BadParameter("a role is 1 to 27 lower-case letters or _", param_hint="--role")
    settings = Settings.from_env()
    engine, sessions = _open(settings)
    try:
        with sessions.begin() as session:
            found = session.scalars(select(StaffOpenid).where(StaffOpenid.role == role, StaffOpenid.openid == openid)).first()
            if found is None:
                session.add(StaffOpenid(role=role, openid=openid, label=label))
            elif label is not None:
                found.label = label
    finally:
        engine.dispose()
    click.echo(f"role:{role} now includes openid#{openid_hash(settings.secret_key, openid)}")


@staff.command("remove")
@click.argument("openid")
@click.option("--role", default="staff", show_default=True)
def staff_remove(openid: str, role: str) -> None:
    from sqlalchemy import delete

    settings = Settings.from_env()
    engine, sessions = _open(settings)
    try:
        with sessions.begin() as session:
            removed = session.execute(
                delete(StaffOpenid).where(StaffOpenid.role == role, StaffOpenid.openid == openid)
            ).rowcount
    finally:
        engine.dispose()
    if not removed:
        raise click.ClickException(f"that openid is not in role:{role}")
    click.echo(f"removed from role:{role}")


@staff.command("list")
@click.option("--role", default=None, help="Only this role.")
def staff_list(role: str | None) -> None:
    from sqlalchemy import select

    settings = Settings.from_env()
    engine, sessions = _open(settings)
    try:
        with sessions() as session:
            query = select(StaffOpenid).order_by(StaffOpenid.role, StaffOpenid.id)
            if role:
                query = query.where(StaffOpenid.role == role)
            rows = session.scalars(query).all()
            for row in rows:
                click.echo(f"role:{row.role}  {row.openid}  {row.label or ''}".rstrip())
    finally:
        engine.dispose()
    if not rows:
        click.echo("no staff openids yet: python -m bot staff add OPENID --label 张三")
