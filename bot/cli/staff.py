"""`python -m bot staff-user add|passwd|disable|enable|list`: console accounts from the terminal."""

from __future__ import annotations

import sys

import click

from bot.cli.root import cli, open_database
from models.staff_account import StaffRole

ROLES = click.Choice([r.value for r in StaffRole])
CLI_ACTOR = "cli"  # the audit log's "who" for changes made from the terminal


@cli.group("staff-user")
def staff_user() -> None:
    """Staff console accounts (roles: admin, officer, viewer; optionally one 乡镇/街道)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _towns(settings, sessions) -> list[str]:
    from services.areas import town_names  # the area table (areas.toml until it is seeded)

    with sessions() as session:
        return town_names(session, settings)


def _check_town(settings, town: str | None, sessions) -> None:
    if town and town not in (known := _towns(settings, sessions)):
        raise click.BadParameter(f"unknown town {town!r}; the area table has: {', '.join(known)}",
                                 param_hint="--town")


@staff_user.command("add")
@click.argument("username")
@click.option("--role", type=ROLES, default="officer", show_default=True)
@click.option("--town", default=None, help="Limit the account to one 乡镇/街道 of the area table.")
@click.option("--name", "display_name", default=None, help="The name shown in the console.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
def add(username: str, role: str, town: str | None, display_name: str | None, password_stdin: bool) -> None:
    """Create an account; the password is asked for twice (never on the command line)."""
    from models import utcnow
    from services import staff_accounts

    with open_database() as (settings, _engine, sessions):
        _check_town(settings, town, sessions)
        password = _read_password(password_stdin)
        with sessions.begin() as session:
            try:
                account = staff_accounts.create(session, username, password, utcnow(), role=StaffRole(role),
                                                town=town, display_name=display_name)
            except staff_accounts.AccountError as error:
                raise click.ClickException(str(error)) from None
            _audit(session, account, "staff.create", f"角色：{account.role.label}；范围：{town or '全县'}")
    click.echo(f"created {username} ({role}{', ' + town if town else ''})")


def _audit(session, account, action: str, detail: str | None = None) -> None:
    """The console's audit log names the terminal as the one who did it."""
    from models import utcnow
    from services import audit

    audit.record(session, None, action, username=CLI_ACTOR, subject="staff_account", subject_id=account.id,
                 detail=detail, at=utcnow())


def _existing(username: str) -> None:
    from services import staff_accounts

    with open_database() as (_settings, _engine, sessions):
        with sessions() as session:
            if staff_accounts.by_username(session, username) is None:
                raise click.ClickException(f"no account {username}")


def _change(username: str, change, action: str, detail: str | None = None) -> None:
    from services import staff_accounts

    with open_database() as (_settings, _engine, sessions):
        with sessions.begin() as session:
            account = staff_accounts.by_username(session, username)
            if account is None:
                raise click.ClickException(f"no account {username}")
            try:
                change(session, account)
            except staff_accounts.AccountError as error:
                raise click.ClickException(str(error)) from None
            _audit(session, account, action, detail)


@staff_user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (scripts).")
def passwd(username: str, password_stdin: bool) -> None:
    """Set a new password; the account's open console sessions end."""
    from models import utcnow
    from services import staff_accounts

    _existing(username)  # before asking for a password twice
    password = _read_password(password_stdin)
    _change(username, lambda session, account: staff_accounts.set_password(session, account, password, utcnow()),
            "staff.password", "命令行重设密码")
    click.echo(f"password of {username} changed")


@staff_user.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Stop an account from signing in; its open sessions end at once."""
    from services import staff_accounts

    _change(username, staff_accounts.disable, "staff.disable")
    click.echo(f"{username} disabled")


@staff_user.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    from services import staff_accounts

    _change(username, staff_accounts.enable, "staff.enable")
    click.echo(f"{username} enabled")


@staff_user.command("list")
def list_accounts() -> None:
    """Accounts with role, area, state and whether WeChat alerts reach them."""
    from services import staff_accounts
    from services.local_time import SHANGHAI

    with open_database() as (_settings, _engine, sessions):
        with sessions() as session:
            accounts = staff_accounts.all_accounts(session)
            if not accounts:
                click.echo("no accounts (add one with `python -m bot staff-user add NAME --role admin`)")
            for a in accounts:
                last = a.last_login_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if a.last_login_at else "never"
                click.echo(f"{a.username:<20} {a.role.value:<8} {a.town or '全县':<8} "
                           f"{'active' if a.active else 'disabled':<9} wechat:{'linked' if a.wechat_openid else '-':<7} "
                           f"last login {last}")
