"""The production WSGI server: gunicorn, driven from `python -m bot serve`.

`gunicorn_options` is the one place the serving set-up is decided; the webhook
benchmark serves its bare baseline with the same options, so the comparison is fair.
"""

from __future__ import annotations

import gc
import sys
from typing import Callable

from gunicorn.app.base import BaseApplication

from config import Settings


def drop_server_banner() -> None:
    """gunicorn writes `Server: gunicorn` on every response and has no setting for it:
    wrap the method that writes the status line and default headers (once per process)."""
    from gunicorn.http.wsgi import Response

    if getattr(Response.default_headers, "banner_dropped", False):
        return
    original = Response.default_headers

    def default_headers(self):
        return [line for line in original(self) if not line.lower().startswith("server:")]

    default_headers.banner_dropped = True
    Response.default_headers = default_headers


SWITCH_INTERVAL = 0.0005  # seconds; see GunicornServer.load


class GunicornServer(BaseApplication):
    def __init__(self, load_app: Callable[[], object], options: dict):
        self._load_app = load_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        drop_server_banner()  # in the master, before the workers fork
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        # In each worker, after the fork. A thread that lets go of the GIL for a moment (every
        # database call does) waits up to the switch interval to get it back while other
        # threads run: at Python's default of 5 ms, one message's dozen calls could add tens
        # of milliseconds, holding SQLite's write lock or a row lock meanwhile (issue 16).
        sys.setswitchinterval(SWITCH_INTERVAL)
        app = self._load_app()
        # What the app holds for its whole life (routes, metadata, intent examples, templates)
        # leaves the garbage collector's view: collections then walk only a message's own
        # objects (the collector was a few percent of a message's CPU, issue 16).
        gc.freeze()
        return app


def gunicorn_options(host: str, port: int, workers: int, threads: int, log_level: str, name: str) -> dict:
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",  # threads let a slow handler be abandoned at the deadline
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        # No access log: WeChat puts the sender's openid in the query string.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level.lower(),
        "proc_name": name,
        # gunicorn 25+ opens a control socket at one path per user ($XDG_RUNTIME_DIR or
        # ~/.gunicorn/gunicorn.ctl), shared by every instance on the host: stopping one
        # deleted another's. We manage processes with signals (systemd), not gunicornc.
        "control_socket_disable": True,
        "child_exit": _worker_gone,
    }


def _worker_gone(_server, worker) -> None:
    """A web worker exited: its live gauges leave the shared metrics directory."""
    from services.metrics import forget_dead_processes

    forget_dead_processes()


def run_gunicorn(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    def load_app():
        from bot import create_app

        return create_app(settings)

    from services.metrics import forget_dead_processes

    forget_dead_processes()  # left by an earlier run that did not stop cleanly
    options = gunicorn_options(host, port, workers, threads, settings.log_level, "shuangyong")
    GunicornServer(load_app, options).run()
