"""The deployment's own lists, one TOML file each in SITE_CONFIG_DIR (default deploy/):
areas.toml (乡镇/街道 → 村/社区), menu.toml (the custom menu), contact.toml (联系我们).

Read once per process and file; a restart picks up edits.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from config import DEFAULT_SITE_CONFIG_DIR


class SiteConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Town:
    name: str
    villages: tuple[str, ...]


@dataclass(frozen=True)
class MenuItem:
    name: str
    key: str


@dataclass(frozen=True)
class MenuButton:
    name: str
    items: tuple[MenuItem, ...]


def site_dir(settings) -> Path:
    return Path(getattr(settings, "site_config_dir", None) or DEFAULT_SITE_CONFIG_DIR)


@functools.cache
def _load(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SiteConfigError(f"{path} is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise SiteConfigError(f"{path} is not valid TOML: {exc}") from None


def towns(settings) -> tuple[Town, ...]:
    data = _load(site_dir(settings) / "areas.toml")
    result = tuple(Town(t["name"], tuple(t.get("villages", ()))) for t in data.get("town", ()))
    if not result or any(not t.villages for t in result):
        raise SiteConfigError("areas.toml needs at least one [[town]] with a name and villages")
    return result


def menu(settings) -> tuple[MenuButton, ...]:
    data = _load(site_dir(settings) / "menu.toml")
    return tuple(
        MenuButton(b["name"], tuple(MenuItem(i["name"], i["key"]) for i in b.get("sub_button", ())))
        for b in data.get("button", ())
    )


def contact(settings) -> dict[str, str]:
    return dict(_load(site_dir(settings) / "contact.toml"))
