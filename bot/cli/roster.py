"""`python -m bot roster …`: the Excel 台账 import and its template, for scripted use.

`roster import FILE` prints the preview (counts, then every row with an error) and writes
the good rows in one transaction. When any row has an error it writes nothing and exits
with 1, unless `--skip-errors` says to import the other rows anyway; `--dry-run` only
prints. The column mapping is the one saved in the console for this header layout, else
the one guessed from the header names (printed, so a wrong guess shows).
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.root import cli, open_database
from models import utcnow
from services import roster_import, roster_template
from services.roster_sheet import FIELDS, SheetError


@cli.group("roster")
def roster() -> None:
    """优抚对象名册: import a county 台账 (.xlsx), download the template."""


@roster.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the preview only; write nothing.")
@click.option("--skip-errors", is_flag=True, help="Import the good rows even when some rows have errors.")
def roster_import_command(path: Path, dry_run: bool, skip_errors: bool) -> None:
    """Import FILE (.xlsx); exit code 1 when rows have errors and nothing was written."""
    with open_database() as (settings, _engine, sessions), sessions.begin() as session:
        areas = roster_import.known_areas(session, settings)
        try:
            with path.open("rb") as stream:
                result = roster_import.preview(session, stream, path.name, areas=areas)
        except (SheetError, roster_import.MappingError) as error:
            raise click.ClickException(str(error)) from None
        _print(result)
        errors = result.count(roster_import.ERROR)
        if dry_run:
            click.echo("（试运行，没有写入任何数据）")
        elif errors and not skip_errors:
            click.echo(f"有{errors}行有错误，没有导入。改好后再导入，或加 --skip-errors 只导入没有错误的行。")
        else:
            batch = roster_import.confirm(session, result, utcnow(), actor="cli", username="cli")
            click.echo(f"已导入（批次{batch.id}）：{result.summary()}")
    if errors and (dry_run or not skip_errors):
        raise SystemExit(1)


def _print(result: roster_import.Preview) -> None:
    used = [f"{h}→{FIELDS[f][0]}" for h, f in result.mapping.items() if f]
    click.echo(f"{result.filename}（工作表“{result.layout.sheet}”，数据从第{result.layout.data_starts}行开始）")
    click.echo("列对应：" + "，".join(used))
    click.echo(result.summary())
    for outcome in result.errors:
        click.echo(f"第{outcome.row}行 {outcome.name}：" + "；".join(outcome.errors))


@roster.command("template")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def roster_template_command(out: Path) -> None:
    """Write the 台账 template (.xlsx) with pick lists and a notes sheet."""
    with open_database() as (settings, _engine, sessions), sessions() as session:
        areas = roster_import.known_areas(session, settings)
    out.write_bytes(roster_template.build(areas))
    click.echo(f"模板已保存到 {out}")
