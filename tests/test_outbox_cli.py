"""Operator commands: notify, outbox, outbox retry and staff in this process (the `cli` fixture);
worker --once as a real process (it installs signal handlers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import Recipient
from models import Channel, OutboxStatus
from tests.conftest import DATA_KEY, TOKEN
from tests.fake_wechat_api import TEMPLATE, FakeWeChatApi
from tests.outbound_kit import TEMPLATE_FIELDS, Outbound, outbound_settings

ROOT = Path(__file__).resolve().parent.parent
USER = "oUserAlpha0001"


def _env(db_url: str, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "REDIS_"))}
    env.update(DATABASE_URL=db_url, INSTANCE_DIR=str(tmp_path), SECRET_KEY="test-secret-key-0123456789",
               DATA_ENCRYPTION_KEY=DATA_KEY, WECHAT_TOKEN=TOKEN, APP_ENV="development", LOG_LEVEL="WARNING")
    return env


def _process(db_url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=_env(db_url, tmp_path),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def bot(cli):
    """bot(url, tmp_path, *args): `python -m bot ARGS` in this process."""
    return lambda db_url, tmp_path, *args: cli(args, _env(db_url, tmp_path))


@pytest.fixture
def kit(sqlite_url, tmp_path):
    built = Outbound(outbound_settings(sqlite_url, tmp_path, None))
    yield built
    built.close()


def test_notify_queues_a_message_that_a_sandbox_worker_delivers(sqlite_url, tmp_path, kit, bot):
    queued = bot(sqlite_url, tmp_path, "notify", "--openid", USER, "--text", "您好，您报名的活动明天上午九点开始。")
    assert queued.exit_code == 0, queued.stderr
    assert "queued outbox message 1" in queued.stdout

    listed = bot(sqlite_url, tmp_path, "outbox")
    assert "pending: 1" in listed.stdout and "notice" in listed.stdout
    assert USER not in listed.stdout  # openids are shown hashed

    worked = _process(sqlite_url, tmp_path, "worker", "--once")
    assert worked.returncode == 0, worked.stderr
    assert "stopped after 1 rows" in worked.stderr
    (row,) = kit.rows()
    assert (row.status, row.channel, row.payload) == (OutboxStatus.SENT, Channel.SANDBOX, {"text": "您好，您报名的活动明天上午九点开始。"})


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["--openid", "bad openid!", "--text", "您好"], "openid"),
        (["--openid", USER, "--text", "   "], "1 to 600 characters"),
        (["--openid", USER, "--text", "长" * 601], "1 to 600 characters"),
    ],
)
def test_notify_refuses_bad_input_and_stores_nothing(sqlite_url, tmp_path, kit, args, complaint, bot):
    result = bot(sqlite_url, tmp_path, "notify", *args)
    assert result.exit_code == 2 and complaint in result.stderr
    assert kit.rows() == []


def test_outbox_lists_failures_with_errcodes_and_retry_requeues_them(sqlite_url, tmp_path, bot):
    with FakeWeChatApi() as api:
        kit = Outbound(outbound_settings(sqlite_url, tmp_path, api, WECHAT_TEMPLATE_IDS="request_update=TPL_PROGRESS"))
        api.respond(TEMPLATE, {"errcode": 40037, "errmsg": "invalid template_id"})
        row_id = kit.enqueue(kind="request_update", recipient=Recipient.person(USER), payload={"fields": TEMPLATE_FIELDS},
                             idempotency_key="req:1")
        kit.drain()
    try:
        failed = bot(sqlite_url, tmp_path, "outbox", "--status", "failed")
        assert "failed: 1" in failed.stdout
        assert "errcode=40037 invalid template_id" in failed.stdout

        refused = bot(sqlite_url, tmp_path, "outbox", "retry", str(row_id), "999")
        assert refused.exit_code == 1 and "no outbox message with id 999" in refused.stderr
        assert kit.row(row_id).status == OutboxStatus.FAILED  # all or nothing

        retried = bot(sqlite_url, tmp_path, "outbox", "retry", str(row_id))
        assert retried.exit_code == 0 and f"requeued 1: {row_id}" in retried.stdout
        row = kit.row(row_id)
        assert (row.status, row.attempts, row.last_errcode) == (OutboxStatus.PENDING, 0, None)

        again = bot(sqlite_url, tmp_path, "outbox", "retry", str(row_id))
        assert again.exit_code == 1 and "is pending" in again.stderr
    finally:
        kit.close()


def test_staff_openids_are_added_listed_and_removed(sqlite_url, tmp_path, kit, bot):
    assert bot(sqlite_url, tmp_path, "staff", "add", USER, "--label", "值班员甲").exit_code == 0
    assert bot(sqlite_url, tmp_path, "staff", "add", "oUserBravo0002").exit_code == 0
    listed = bot(sqlite_url, tmp_path, "staff", "list").stdout.splitlines()
    assert listed == [f"role:staff  {USER}  值班员甲", "role:staff  oUserBravo0002"]

    assert bot(sqlite_url, tmp_path, "staff", "add", "no good").exit_code == 2
    removed = bot(sqlite_url, tmp_path, "staff", "remove", USER)
    assert removed.exit_code == 0
    assert bot(sqlite_url, tmp_path, "staff", "remove", USER).exit_code == 1
    assert bot(sqlite_url, tmp_path, "staff", "list").stdout.splitlines() == ["role:staff  oUserBravo0002"]
