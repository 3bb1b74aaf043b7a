"""`python -m bot menu sync`: the menu from deploy/menu.toml, pushed to the fake WeChat API."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from handlers.router import menu_keys
from tests.conftest import DATA_KEY, TOKEN
from tests.fake_wechat_api import APP_ID, APP_SECRET, FakeWeChatApi

ROOT = Path(__file__).resolve().parent.parent
MENU = "/cgi-bin/menu/create"


@pytest.fixture
def menu_sync(cli, sqlite_url, tmp_path):
    """menu_sync(*args, **env): `python -m bot menu sync ARGS` on a migrated database."""

    def run(*args: str, **env: str):
        environ = {
            **os.environ,
            "DATABASE_URL": sqlite_url,
            "INSTANCE_DIR": str(tmp_path),
            "SECRET_KEY": "test-secret-key-0123456789",
            "DATA_ENCRYPTION_KEY": DATA_KEY,
            "WECHAT_TOKEN": TOKEN,
            **env,
        }
        return cli(["menu", "sync", *args], environ)

    return run


def test_every_menu_key_starts_a_flow_and_the_menu_is_pushed(menu_sync):
    with FakeWeChatApi() as api:
        api.respond(MENU, {"errcode": 0, "errmsg": "ok"})
        result = menu_sync(WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET, WECHAT_API_BASE_URL=api.base_url)
        assert result.exit_code == 0, result.stderr
        [call] = api.calls(MENU)
    assert call.token == api.token and call.answer["errcode"] == 0  # the shared stable token, fetched from the fake host
    names = [(b["name"], [s["name"] for s in b["sub_button"]]) for b in call.body["button"]]
    assert names == [
        ("我要报名", ["志愿者报名", "活动报名", "优抚对象登记"]),
        ("我要求助", ["提交求助", "查询进度", "政策咨询"]),
        ("双拥服务", ["最新通知", "我的信息", "联系我们"]),
    ]
    keys = [s["key"] for b in call.body["button"] for s in b["sub_button"]]
    assert set(keys) <= set(menu_keys()) and all(s["type"] == "click" for b in call.body["button"] for s in b["sub_button"])
    assert json.loads(result.stdout) == call.body


def test_an_unknown_key_or_too_many_buttons_is_refused_before_any_call(tmp_path, menu_sync):
    site = tmp_path / "site"
    site.mkdir()
    for name in ("areas.toml", "contact.toml"):
        (site / name).write_text((ROOT / "deploy" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (site / "menu.toml").write_text(
        '[[button]]\nname = "我要报名"\nsub_button = [{ name = "抽奖", key = "LUCKY_DRAW" }]\n', encoding="utf-8"
    )
    with FakeWeChatApi() as api:
        result = menu_sync(WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET,
                         WECHAT_API_BASE_URL=api.base_url, SITE_CONFIG_DIR=str(site))
        assert api.calls(MENU) == []
    assert result.exit_code == 2
    assert "unknown key 'LUCKY_DRAW'" in result.stderr


def test_check_and_sandbox_push_nothing(menu_sync):
    checked = menu_sync("--check")
    assert checked.exit_code == 0 and "menu is valid" in checked.stderr
    sandbox = menu_sync()
    assert sandbox.exit_code == 0 and "sandbox mode" in sandbox.stderr
    assert json.loads(sandbox.stdout)["button"][0]["name"] == "我要报名"
