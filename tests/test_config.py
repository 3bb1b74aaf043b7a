"""Configuration: every bad value stops start-up with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, Settings
from tests.conftest import AES_KEY, APP_ID, DATA_KEY

ROOT = Path(__file__).resolve().parent.parent


def load(tmp_path, **env):
    base = {"INSTANCE_DIR": str(tmp_path)}
    base.update(env)
    return Settings.from_env(base, env_file=None)


def test_embedded_defaults_work_without_any_variable(tmp_path):
    settings = load(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'shuangyong.db'}"
    assert settings.sandbox and not settings.safe_mode
    assert settings.wechat_api_base_url == "https://api.weixin.qq.com"
    # Generated secrets are stable across processes: a second load sees the same ones.
    again = load(tmp_path)
    assert (again.secret_key, again.wechat_token, again.data_encryption_key) == (
        settings.secret_key,
        settings.wechat_token,
        settings.data_encryption_key,
    )
    assert oct((tmp_path / "generated-secrets.env").stat().st_mode)[-3:] == "600"


def test_env_file_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("WECHAT_TOKEN=fromdotenv\nLOG_LEVEL=warning\n")
    settings = Settings.from_env({"INSTANCE_DIR": str(tmp_path), "WECHAT_TOKEN": "fromenviron"}, env_file=env_file)
    assert settings.wechat_token == "fromenviron"
    assert settings.log_level == "WARNING"


def test_postgres_urls_use_psycopg(tmp_path):
    assert load(tmp_path, DATABASE_URL="postgresql://u@db/x").database_url == "postgresql+psycopg://u@db/x"
    assert load(tmp_path, DATABASE_URL="postgres://u@db/x").database_url == "postgresql+psycopg://u@db/x"


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"WECHAT_ENCODING_AES_KEY": AES_KEY[:42], "WECHAT_APP_ID": APP_ID}, "WECHAT_ENCODING_AES_KEY"),
        ({"WECHAT_ENCODING_AES_KEY": AES_KEY[:42] + "!", "WECHAT_APP_ID": APP_ID}, "WECHAT_ENCODING_AES_KEY"),
        ({"WECHAT_ENCODING_AES_KEY": AES_KEY}, "WECHAT_APP_ID"),
        ({"WECHAT_APP_ID": "wx123"}, "WECHAT_APP_ID"),
        ({"DATABASE_URL": "not a url at all"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"WECHAT_TOKEN": "has space"}, "WECHAT_TOKEN"),
        ({"WECHAT_TOKEN": "ab"}, "WECHAT_TOKEN"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATA_ENCRYPTION_KEY": "not-a-fernet-key"}, "DATA_ENCRYPTION_KEY"),
        ({"WECHAT_API_BASE_URL": "api.weixin.qq.com"}, "WECHAT_API_BASE_URL"),
        ({"WECHAT_SANDBOX": "maybe"}, "WECHAT_SANDBOX"),
        ({"WEBHOOK_MAX_BODY_BYTES": "-1"}, "WEBHOOK_MAX_BODY_BYTES"),
        ({"WEBHOOK_REPLY_DEADLINE": "6"}, "WEBHOOK_REPLY_DEADLINE"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, variable):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, **env)
    assert str(error.value).startswith(variable)
    assert "\n" not in str(error.value)


def _env(tmp_path, **env) -> dict[str, str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL"))}
    full_env.update(INSTANCE_DIR=str(tmp_path), DATA_ENCRYPTION_KEY=DATA_KEY, **env)
    return full_env


def test_cli_refuses_to_start_with_one_clear_line(tmp_path, cli, monkeypatch):
    def start(*args, **kwargs):
        raise AssertionError("the server was started")

    monkeypatch.setattr("bot.server.run_gunicorn", start)
    result = cli(["serve", "--port", "1"], _env(tmp_path, WECHAT_ENCODING_AES_KEY="tooshort", WECHAT_APP_ID=APP_ID))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["configuration error: WECHAT_ENCODING_AES_KEY must be exactly 43 letters or digits (got 8 characters)"]


def test_cli_reports_an_unreachable_postgres(tmp_path):
    """The one check kept as a real process: `python -m bot` prints one line and exits 2."""
    result = subprocess.run([sys.executable, "-m", "bot", "serve"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env=_env(tmp_path, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("configuration error: DATABASE_URL: cannot connect to the database (")
    assert "port 1 failed: Connection refused" in line  # psycopg's reason, not just its class


@pytest.mark.parametrize("command, url, reason", [
    (("db", "upgrade"), "postgresql://postgres@nohost.invalid/x", "failed to resolve host 'nohost.invalid'"),
    (("outbox",), "postgresql://postgres@127.0.0.1:5432/no_such_database_here", 'database "no_such_database_here" does not exist'),
])
def test_other_commands_name_the_database_problem_in_one_line(tmp_path, command, url, reason, cli):
    result = cli(command, _env(tmp_path, DATABASE_URL=url, SECRET_KEY="config-test-secret-key-0123"))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("database error: ") and reason in line and "check DATABASE_URL" in line


def test_an_aes_key_with_a_plus_says_which_character_is_wrong(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, WECHAT_ENCODING_AES_KEY=AES_KEY[:42] + "+", WECHAT_APP_ID=APP_ID)
    assert str(error.value) == "WECHAT_ENCODING_AES_KEY must be exactly 43 letters or digits (got 43 characters, including '+')"
