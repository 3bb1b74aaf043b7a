"""`python -m bot menu sync`: push the custom menu declared in deploy/menu.toml to WeChat.

Every CLICK key must be one the router understands, so a menu item always leads to
the same flow as typing its name. `--check` validates and prints the JSON only.
"""

from __future__ import annotations

import json

import click

from bot.cli.root import cli
from config import ConfigError, Settings

MAX_BUTTONS, MAX_SUB_BUTTONS = 3, 5
TOP_NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES = 16, 60, 128  # WeChat's limits (≈4 and ≈8 汉字)


def menu_body(settings: Settings) -> dict:
    """The body of POST /cgi-bin/menu/create, or ConfigError naming what is wrong."""
    from handlers import site
    from handlers.router import menu_keys

    try:
        buttons = site.menu(settings)
    except (site.SiteConfigError, KeyError) as exc:
        raise ConfigError(f"menu.toml: {exc}") from None
    known = menu_keys()
    problems = []
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        problems.append(f"{len(buttons)} buttons (1 to {MAX_BUTTONS} allowed)")
    for button in buttons:
        if len(button.name.encode()) > TOP_NAME_BYTES:
            problems.append(f"button name {button.name!r} is longer than {TOP_NAME_BYTES} bytes")
        if not 1 <= len(button.items) <= MAX_SUB_BUTTONS:
            problems.append(f"button {button.name!r} has {len(button.items)} items (1 to {MAX_SUB_BUTTONS} allowed)")
        for item in button.items:
            if len(item.name.encode()) > SUB_NAME_BYTES:
                problems.append(f"item name {item.name!r} is longer than {SUB_NAME_BYTES} bytes")
            if item.key not in known or len(item.key.encode()) > KEY_BYTES:
                problems.append(f"item {item.name!r}: unknown key {item.key!r} (known: {', '.join(sorted(known))})")
    if problems:
        raise ConfigError("menu.toml: " + "; ".join(problems))
    return {
        "button": [
            {"name": b.name, "sub_button": [{"type": "click", "name": i.name, "key": i.key} for i in b.items]}
            for b in buttons
        ]
    }


@cli.group("menu")
def menu() -> None:
    """The official account's custom menu (deploy/menu.toml)."""


@menu.command("sync")
@click.option("--check", is_flag=True, help="Validate and print the menu JSON; push nothing.")
def menu_sync(check: bool) -> None:
    """Push the custom menu to WeChat (menu/create)."""
    settings = Settings.from_env()
    body = menu_body(settings)
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    if check:
        click.echo("menu is valid (not pushed: --check)", err=True)
        return
    if settings.sandbox:
        click.echo("sandbox mode (no WECHAT_APP_ID or WECHAT_SANDBOX=1): menu not pushed", err=True)
        return
    _push(settings, body)
    click.echo("menu pushed to WeChat", err=True)


def _push(settings: Settings, body: dict) -> None:
    from wechat.api import make_client
    from models.database import make_engine, make_session_factory
    from models.encrypted import configure_data_key
    from services.delivery_policy import ApiError

    configure_data_key(settings.data_encryption_key)  # the shared token is stored encrypted

    engine = make_engine(settings.database_url)
    redis_client = None
    if settings.redis_url:
        import redis

        redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    try:
        client = make_client(settings, redis=redis_client, sessions=make_session_factory(engine))
        client.call("menu/create", body)
    except ApiError as error:
        raise click.ClickException(f"WeChat refused the menu: {error}") from None
    except ValueError as error:
        raise ConfigError(str(error)) from None
    finally:
        engine.dispose()
