"""/metrics: Prometheus's text format, for this machine and console admins only; messages by
outcome and reply time, the outbox by status, and each process's counters added up."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from services import outbox
from models import Recipient
from tests.wechat_peer import text_xml


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_messages_and_show_the_outbox(settings, apps, plain_peer):
    app = apps(settings)
    client = app.test_client()
    before = samples(client.get("/metrics").get_data(as_text=True))
    assert plain_peer.post(client, text_xml("你好", msg_id=9990001)).status_code == 200
    assert plain_peer.post(client, text_xml("你好", msg_id=9990001)).status_code == 200  # WeChat's retry
    forged = client.post("/wechat", query_string={**plain_peer.sign_query(), "signature": "0" * 40}, data=b"<xml/>")
    assert forged.status_code == 403
    with app.extensions["shuangyong"].sessions.begin() as session:
        outbox.enqueue(session, kind="notice", recipient=Recipient.person("oMetricsUser01"), payload={"text": "测试"},
                       idempotency_key="metrics:1")

    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    after = samples(response.get_data(as_text=True))
    grew = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert grew("shuangyong_messages_total", outcome="handled") == 1
    assert grew("shuangyong_messages_total", outcome="retry") == 1
    assert grew("shuangyong_messages_total", outcome="refused 403") == 1
    assert grew("shuangyong_reply_seconds_count") == 2
    assert value(after, "shuangyong_outbox_messages", status="pending") == 1
    assert value(after, "shuangyong_outbox_messages", status="sent") == 0


def test_strangers_get_a_404(settings, apps):
    client = apps(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert client.get("/metrics").status_code == 404
    local = apps(settings).test_client()
    assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404  # via nginx


def test_the_web_workers_and_the_delivery_worker_are_added_up(tmp_path, cli):
    """A real `serve` (two gunicorn workers) and a `worker --once` on the same instance, sending
    to the fake WeChat API: one scrape counts every message and the other process's sends."""
    import subprocess
    import sys

    from tests.browser_kit import stop_soon
    from tests.conftest import AES_KEY, APP_ID, TOKEN
    from tests.fake_wechat_api import APP_SECRET, FakeWeChatApi
    from tests.test_serve import ROOT, Server, bot_env
    from tests.wechat_peer import WeChatPeer

    with FakeWeChatApi() as api:
        env = bot_env(tmp_path, WECHAT_APP_SECRET=APP_SECRET, WECHAT_API_BASE_URL=api.base_url)
        server = Server(env, workers=2)
        try:
            peer = WeChatPeer(TOKEN, AES_KEY, APP_ID, mode="safe")
            for n in range(12):
                query, body = peer.envelope(text_xml(f"第{n}条", openid=f"oMetrics{n:06d}"))
                assert requests.post(server.url + "/wechat", params=query, data=body, timeout=10).status_code == 200
            for n in range(3):  # inside their reply windows: customer-service messages
                queued = cli(["notify", "--openid", f"oMetrics{n:06d}", "--text", "您好"], env=env)
                assert queued.exit_code == 0, queued.output
            worked = subprocess.run([sys.executable, "-m", "bot", "worker", "--once"], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=60)
            assert worked.returncode == 0, worked.stderr
            assert len(api.delivered()) == 3
            found = samples(requests.get(server.url + "/metrics", timeout=10).text)
        finally:
            stop_soon(server)

    assert sum(v for (name, _), v in found.items() if name == "shuangyong_messages_total") == 12
    assert value(found, "shuangyong_sends_total", channel="customer_service", errcode="0") == 3
    assert value(found, "shuangyong_outbox_messages", status="sent") == 3
