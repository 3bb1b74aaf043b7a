"""Security headers on every response of the app, HSTS only over HTTPS (issue 12)."""

from __future__ import annotations

from tests.conftest import make_settings


def test_every_route_answers_with_the_headers(sqlite_url, tmp_path, apps):
    app = apps(make_settings(sqlite_url, tmp_path, DEMO_MODE=1))
    client = app.test_client()
    paths = ["/healthz", "/wechat", "/console/login", "/simulator/", "/simulator/static/simulator.js", "/nowhere"]
    for path in paths:
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], path
        assert "Strict-Transport-Security" not in response.headers, path
    assert client.get("/simulator/").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/simulator/static/simulator.js").headers.get("Cache-Control", "")
    secure = client.get("/healthz", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
