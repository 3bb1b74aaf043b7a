"""/healthz tells whether the database (and Redis) answer, and the schema revision."""

from __future__ import annotations

from models.schema import head_revision
from tests.conftest import make_settings


def test_healthy(settings, apps):
    response = apps(settings).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "schema_revision": head_revision(),
        "schema_head": head_revision(),
    }


def test_unmigrated_database_is_unhealthy(tmp_path, apps):
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    response = apps(settings).test_client().get("/healthz")
    assert response.status_code == 503
    assert "db upgrade" in response.json["database"]


def test_unreachable_database_is_unhealthy(tmp_path, apps):
    settings = make_settings("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    response = apps(settings).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_redis_is_checked_when_configured(sqlite_url, tmp_path, apps, redis_url):
    good = apps(make_settings(sqlite_url, tmp_path, REDIS_URL=redis_url)).test_client().get("/healthz")
    assert good.json["redis"] == "ok"
    bad = apps(make_settings(sqlite_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")).test_client().get("/healthz")
    # Chat goes on without Redis (the database deduplicates): degraded, still serving.
    assert bad.status_code == 200 and bad.json["status"] == "degraded"
    assert bad.json["redis"].startswith("unreachable")


def test_strangers_get_only_the_status(sqlite_url, tmp_path, apps):
    settings = make_settings(sqlite_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    client = apps(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "degraded"}
    proxied = apps(make_settings(sqlite_url, tmp_path)).test_client()
    answer = proxied.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.status_code == 200 and answer.json == {"status": "ok"}


def test_a_console_admin_sees_the_detail_from_anywhere(sqlite_url, console):
    from tests.console_kit import add_staff

    app, sessions, client_for = console(sqlite_url)
    add_staff(sessions, "boss", "admin")
    add_staff(sessions, "clerk", "officer")
    admin, officer = client_for("boss"), client_for("clerk")
    for client in (admin, officer):
        client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    assert admin.get("/healthz").json["schema_revision"] == head_revision()
    assert officer.get("/healthz").json == {"status": "ok"}
