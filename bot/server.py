"""The production WSGI server: gunicorn, driven from `python -m bot serve`."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from config import Settings


class _Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        from bot import create_app

        return create_app(self._settings)


def run_gunicorn(settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
    options = {
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
        "loglevel": settings.log_level.lower(),
        "proc_name": "shuangyong",
    }
    _Server(settings, options).run()
