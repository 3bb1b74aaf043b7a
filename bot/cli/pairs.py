"""`python -m bot pair …`: 定点定人帮困 pairs and their contact records, for operators."""

from __future__ import annotations

from datetime import datetime, time

import click

from bot.cli.root import cli, open_database
from models import utcnow
from models.care_pair import ContactMethod
from services import care_pairs
from services.local_time import SHANGHAI


@cli.group("pair")
def pair() -> None:
    """定点定人帮困: pair volunteers with households; a pair silent for 30 days nudges the volunteer."""


@pair.command("add")
@click.argument("volunteer_number")
@click.argument("beneficiary_number")
def pair_add(volunteer_number: str, beneficiary_number: str) -> None:
    """Pair volunteer ZY… with the household of registered person YF…."""
    with open_database() as (_settings, _engine, sessions), sessions.begin() as session:
        try:
            row = care_pairs.pair(session, volunteer_number.upper(), beneficiary_number.upper(), utcnow(), actor="cli")
        except care_pairs.PairError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"pair {row.id}: {volunteer_number.upper()} ↔ household of {beneficiary_number.upper()} ({row.status})")


@pair.command("contact")
@click.argument("pair_id", type=int)
@click.option("--method", type=click.Choice([m.value for m in ContactMethod]), default=ContactMethod.PHONE.value, show_default=True)
@click.option("--on", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Date of the contact (default: today).")
def pair_contact(pair_id: int, method: str, day: datetime | None) -> None:
    """Record a contact (visit, call, message) of a pair."""
    now = utcnow()
    at = now if day is None else datetime.combine(day.date(), time(12, 0), SHANGHAI)
    with open_database() as (_settings, _engine, sessions), sessions.begin() as session:
        try:
            care_pairs.record_contact(session, pair_id, at, ContactMethod(method), now)
        except care_pairs.PairError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"contact recorded for pair {pair_id} on {at.astimezone(SHANGHAI):%Y-%m-%d}")


@pair.command("end")
@click.argument("pair_id", type=int)
def pair_end(pair_id: int) -> None:
    """End a pair (no more nudges)."""
    with open_database() as (_settings, _engine, sessions), sessions.begin() as session:
        try:
            care_pairs.end(session, pair_id, utcnow(), actor="cli")
        except care_pairs.PairError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"pair {pair_id} ended")


@pair.command("list")
def pair_list() -> None:
    """Every pair: id, status, volunteer number, village, last contact."""
    with open_database() as (_settings, _engine, sessions), sessions() as session:
        for row, volunteer_number, village in care_pairs.list_pairs(session):
            last = row.last_contact_at.astimezone(SHANGHAI).strftime("%Y-%m-%d") if row.last_contact_at else "never"
            click.echo(f"{row.id}\t{row.status}\t{volunteer_number}\t{village}\tlast contact {last}")
