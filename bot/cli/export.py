"""`python -m bot export NAME --out FILE.xlsx`: the console's exports from the terminal.

The operator on the server gets full phones and ID numbers (no role limits a shell account);
each export is still written to the audit log, as actor "cli", with its row count.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.root import cli, open_database

CLI_ACTOR = "cli"


def _names_help() -> str:
    from services.exports import EXPORTS

    return "; ".join(f"{slug} = {module.NAME}" for slug, module in EXPORTS.items())


@cli.command("export", help="Write an export as Excel. NAME is one of: visit-ledger (走访慰问台账), "
                            "team-lists (走访组走访名单), relief-signoff (慰问金签领表), roster (优抚对象花名册), "
                            "conscript-allowance (义务兵家庭优待金发放名单).")
@click.argument("name")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="The plan's year (visit exports), or the 优待金 year.")
@click.option("--holiday", default=None, help="The campaign: its code (liangjie, bayi, chunjie …) or its name (元旦春节, 八一).")
@click.option("--team", default=None, help="team-lists and the other visit exports: one visit team (name or number).")
@click.option("--town", default=None, help="Only one 乡镇/街道.")
@click.option("--include-ended", is_flag=True, help="roster: also people whose entitlement ended.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="The .xlsx file to write.")
def export_command(name: str, year: int | None, holiday: str | None, team: str | None, town: str | None,
                   include_ended: bool, out: Path) -> None:
    from bot.console.export_files import county_name, workbook
    from models import utcnow
    from services import exports
    from services.local_time import local_date

    if name not in exports.EXPORTS:
        raise click.BadParameter(f"unknown export {name!r}; choose one of: {_names_help()}", param_hint="NAME")
    if out.suffix.lower() != ".xlsx":
        raise click.BadParameter("the file must end in .xlsx", param_hint="--out")
    now = utcnow()
    options = exports.Options(year=year, holiday=holiday, team=team, town=town or None, reveal=True,
                              include_ended=include_ended, today=local_date(now))
    with open_database() as (settings, _engine, sessions):
        with sessions.begin() as session:
            try:
                export = exports.build(session, name, options)
            except exports.ExportError as error:
                raise click.ClickException(str(error)) from None
            content = workbook(export, county_name(session, settings), local_date(now))
            out.write_bytes(content)
            exports.audit_export(session, export, at=now, username=CLI_ACTOR, kind="Excel，命令行")
    click.echo(f"wrote {out}: {export.name}, {export.subtitle}, {export.row_count} rows")
