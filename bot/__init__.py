"""The Flask side of 双拥助手: the only package that imports flask.

`create_app` imports Flask and the web app's modules when it is called, not when the package is
imported: `python -m bot` imports this package first, and most of its commands serve no web app."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from config import Settings
    from handlers.router import Route


def create_app(settings: Settings | None = None, routes: tuple[Route, ...] | None = None) -> Flask:
    """App factory. Tests pass their own settings (and may pass their own route table)."""
    from flask import Flask

    from bot.logs import configure_logging
    from bot.runtime import EXTENSION, Runtime
    from config import Settings
    from models.encrypted import configure_data_key

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, json_lines=not settings.development)
    configure_data_key(settings.data_encryption_key)

    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.webhook_max_body_bytes,
    )
    app.extensions[EXTENSION] = Runtime.build(settings, routes)

    from bot import console, health, security, webhook

    security.init_app(app)
    console.init_app(app)
    # WeChat signs its own requests; CSRF tokens are for the console's forms.
    console.csrf.exempt(webhook.blueprint)
    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(health.blueprint)
    if settings.simulator_available:  # the chat simulator only exists where nothing reaches the real WeChat
        from bot import simulator

        console.csrf.exempt(simulator.blueprint)
        app.register_blueprint(simulator.blueprint)
    return app
