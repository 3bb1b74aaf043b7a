"""`python -m bot menu sync`: the menu from deploy/menu.toml, pushed to the fake WeChat API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from handlers.router import menu_keys
from tests.conftest import DATA_KEY, TOKEN
from tests.fake_wechat_api import APP_ID, APP_SECRET, FakeWeChatApi

ROOT = Path(__file__).resolve().parent.parent
MENU = "/cgi-bin/menu/create"


def run_cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'menu.db'}",
        "INSTANCE_DIR": str(tmp_path),
        "SECRET_KEY": "test-secret-key-0123456789",
        "DATA_ENCRYPTION_KEY": DATA_KEY,
        "WECHAT_TOKEN": TOKEN,
        **env,
    }
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=ROOT, env=environ, check=True, capture_output=True)
    return subprocess.run([sys.executable, "-m", "bot", "menu", "sync", *args], cwd=ROOT, env=environ, capture_output=True, text=True)


def test_every_menu_key_starts_a_flow_and_the_menu_is_pushed(tmp_path):
    with FakeWeChatApi() as api:
        api.respond(MENU, {"errcode": 0, "errmsg": "ok"})
        result = run_cli(tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET, WECHAT_API_BASE_URL=api.base_url)
        assert result.returncode == 0, result.stderr
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


def test_an_unknown_key_or_too_many_buttons_is_refused_before_any_call(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    for name in ("areas.toml", "contact.toml"):
        (site / name).write_text((ROOT / "deploy" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (site / "menu.toml").write_text(
        '[[button]]\nname = "我要报名"\nsub_button = [{ name = "抽奖", key = "LUCKY_DRAW" }]\n', encoding="utf-8"
    )
    with FakeWeChatApi() as api:
        result = run_cli(tmp_path, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET,
                         WECHAT_API_BASE_URL=api.base_url, SITE_CONFIG_DIR=str(site))
        assert api.calls(MENU) == []
    assert result.returncode == 2
    assert "unknown key 'LUCKY_DRAW'" in result.stderr


def test_check_and_sandbox_push_nothing(tmp_path):
    checked = run_cli(tmp_path, "--check")
    assert checked.returncode == 0 and "menu is valid" in checked.stderr
    sandbox = run_cli(tmp_path)
    assert sandbox.returncode == 0 and "sandbox mode" in sandbox.stderr
    assert json.loads(sandbox.stdout)["button"][0]["name"] == "我要报名"
