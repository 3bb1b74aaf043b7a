"""/healthz: a minimal public answer ({"status": "ok"}, "degraded" without Redis, or 503), and the detail — database,
Redis, schema revision — only for a caller on this machine (a load balancer's probe, an
operator's curl) or a signed-in console admin. Strangers learn nothing of the set-up."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, g, jsonify, request
from flask_login import current_user

from bot.runtime import runtime
from models.schema import current_revision, head_revision

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "::1")


def _may_see_detail() -> bool:
    if request.remote_addr in LOOPBACK and "X-Forwarded-For" not in request.headers:
        return True
    from bot.console.access import can

    try:
        allowed = can(current_user, "staff.manage")
    except Exception:  # the database behind the sign-in is down: no detail for a stranger
        return False
    session = g.pop("console_db", None)  # end the sign-in lookup's transaction before our own queries
    if session is not None:
        session.close()
    return allowed


@blueprint.get("/healthz")
def healthz():
    rt = runtime()
    body: dict[str, object] = {"status": "ok"}
    try:
        body["schema_revision"] = current_revision(rt.engine)
        body["database"] = "ok"
    except Exception as exc:
        log.warning("health check: database unreachable", extra={"error": type(exc).__name__})
        body.update(status="error", database="unreachable")
    body["schema_head"] = head_revision()
    if body.get("database") == "ok" and body["schema_revision"] != body["schema_head"]:
        body["status"] = "error"
        body["database"] = "schema out of date: run python -m bot db upgrade"
    if rt.redis is not None:
        try:
            rt.redis.ping()
            body["redis"] = "ok"
        except Exception as exc:
            log.warning("health check: redis unreachable", extra={"error": type(exc).__name__})
            # Chat goes on with the database for deduplication: serving, but not as configured.
            body["redis"] = "unreachable (messages are deduplicated in the database meanwhile)"
            if body["status"] == "ok":
                body["status"] = "degraded"
    code = 503 if body["status"] == "error" else 200
    if not _may_see_detail():
        body = {"status": body["status"]}
    return jsonify(body), code


@blueprint.get("/metrics")
def metrics():
    """Prometheus scrape: for this machine (a local Prometheus or agent) and console admins only;
    anyone else gets a 404, as for any unknown address."""
    if not _may_see_detail():
        abort(404)
    from services.metrics import exposition

    body, content_type = exposition(runtime().sessions)
    return Response(body, content_type=content_type)
