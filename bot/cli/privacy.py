"""Privacy commands: `rotate-keys` (re-encrypt under the current key), `retention`
(purge and anonymise what is kept longer than the policy allows), and encrypted `backup` /
`restore`."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.root import prepare_database, cli, open_database
from config import Settings


@cli.command("rotate-keys")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="Rows per transaction; an interrupted run is simply started again.")
def rotate_keys(batch: int) -> None:
    """Re-encrypt every personal field with the first key of DATA_ENCRYPTION_KEY.

    Put the new key first and keep the old ones after it ("new:KEY,old:KEY"); restart the
    web, scheduler and worker with that setting, then run this. Afterwards the old key may
    be dropped from the setting (keep it with the backups made before)."""
    from services.blind_indexes import backfill
    from services.key_rotation import remaining, rotate

    settings = Settings.from_env()
    prepare_database(settings)
    with open_database(settings) as (_settings, _engine, sessions):
        with sessions.begin() as session:
            backfill(session)  # plaintext left from before encryption: encrypt it first

        def progress(table: str, done: int) -> None:
            click.echo(f"  {table}: {done} rows re-encrypted", err=True)

        report = rotate(sessions, batch=batch, progress=progress)
        with sessions() as session:
            left = remaining(session)
    click.echo(f"key {report.key_id}: {report.total_rows} rows ({report.values} values) re-encrypted "
               f"in {report.batches} batches; values under other keys: {sum(left.values())}")
    if left:
        raise click.ClickException(f"values still under other keys: {left}")


@cli.command("retention")
def retention() -> None:
    """Purge transcripts, form drafts and dedupe records past RETENTION_DAYS and anonymise requests
    closed more than CLOSED_REQUEST_RETENTION_YEARS ago (the scheduler does this every night)."""
    from models import utcnow
    from services import retention as policy

    settings = Settings.from_env()
    with open_database(settings) as (settings, _engine, sessions):
        with sessions.begin() as session:
            result = policy.apply(session, utcnow(), policy.RetentionPolicy.from_settings(settings))
    click.echo(result.line())


@cli.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The encrypted backup file to write (created readable by its owner only).")
def backup_command(out: Path) -> None:
    """Write an encrypted copy of the database (SQLite: online backup; PostgreSQL: pg_dump).

    Keep the data key apart from the backups: DATA_ENCRYPTION_KEY opens them."""
    from bot.backup import BackupError, backup

    settings = Settings.from_env()
    with open_database(settings) as (settings, _engine, _sessions):
        try:
            kind = backup(settings.database_url, out)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"backup written: {out} ({kind}, {out.stat().st_size} bytes, encrypted)")


@cli.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a database that already holds tables.")
def restore_command(backup_file: Path, force: bool) -> None:
    """Restore an encrypted backup made by `backup` into DATABASE_URL (stop the bot first)."""
    from bot.backup import BackupError, is_empty, restore

    settings = Settings.from_env()
    with open_database(settings) as (settings, engine, _sessions):
        if not is_empty(engine) and not force:
            raise click.ClickException("the database is not empty: add --force to overwrite it")
        engine.dispose()
        try:
            kind = restore(settings.database_url, backup_file)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"restored from {backup_file} ({kind})")
