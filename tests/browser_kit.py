"""What the browser tests and the other real-server tests share: a staff member signed in once per
server, and servers stopped without waiting for them.

Stopping `python -m bot serve` takes gunicorn 2–4 s (each worker's interpreter shuts down, then
the master reaps them in a 0.1 s loop) during which a test has nothing left to check: `stop_soon`
sends SIGTERM and lets the tests go on; the processes are waited for (and killed if they hang)
when the test process exits.
"""

from __future__ import annotations

import atexit
import subprocess

_stopping: list = []


def stop_soon(server) -> None:
    """Stop a tests.test_serve.Server without waiting for it (see the module's docstring)."""
    if server.process.poll() is None:
        server.process.terminate()
    _stopping.append(server)


@atexit.register
def _wait_for_stopped_servers() -> None:
    while _stopping:
        server = _stopping.pop()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()  # never leave a server behind
            server.process.wait(timeout=10)
        server.log.close()


def sign_in(browser, url: str, username: str, password: str) -> dict:
    """Sign in on the console login page in a context of its own and return that context's
    storage state (its cookies): contexts opened with it start signed in, each with its own
    cookie jar, so a test that drops its cookies does not sign the others out."""
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(url + "/console/")
        assert "/console/login" in page.url  # not signed in yet
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button:has-text('登录')")
        page.wait_for_url(url + "/console/")
        return context.storage_state()
    finally:
        context.close()
