"""bench/spy.py: the live server's py-spy samples are put where they belong. A sample of the
driver under SQLAlchemy is the driver's; a sample in the pool hand-over is the hop's, whatever
called it: a wrong table would send the next pass after the wrong lever."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from spy import HOP, parts, report  # noqa: E402

SITE = "/work/.venv/lib/python3.11/site-packages"
REQUEST = f"handle_request ({SITE}/gunicorn/workers/gthread.py:771);wsgi_app ({SITE}/flask/app.py:1511)"
HANDLER = "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83);_handle_once (/work/main/bot/webhook.py:224)"
RAW = "\n".join([
    f"process 1:\"python -m bot serve\";{HANDLER};execute ({SITE}/sqlalchemy/engine/base.py:1450);"
    f"execute ({SITE}/psycopg/cursor.py:100) 30",
    f"process 1:\"python -m bot serve\";{HANDLER};execute ({SITE}/sqlalchemy/engine/base.py:1450) 20",
    f"process 1:\"python -m bot serve\";{REQUEST};receive (/work/main/bot/webhook.py:75);"
    f"submit (/usr/lib/python3.11/concurrent/futures/thread.py:175) 10",
    f"process 1:\"python -m bot serve\";{REQUEST};decrypt (/work/main/wechat/protocol.py:82) 15",
    f"process 1:\"python -m bot serve\";{HANDLER};dispatch (/work/main/handlers/router.py:247) 5",
    f"process 1:\"python -m bot serve\";{REQUEST} 20",
    "a line py-spy did not write",
])


def test_each_sample_goes_to_the_part_it_is_spent_in(tmp_path):
    raw = tmp_path / "real.spy"
    raw.write_text(RAW)
    by_part, by_function, total = parts(raw)
    assert total == 100
    assert by_part == {
        "database driver (psycopg, sqlite3, redis)": 30,
        "SQLAlchemy (engine, session, ORM)": 20,
        HOP: 10,
        "WeChat protocol (signature, AES, XML)": 15,
        "handlers (routing, flows, intents) and services": 5,
        "HTTP (gunicorn, Flask, werkzeug)": 20,
    }
    assert by_function["submit (concurrent/futures/thread.py)"] == 10
    table = report(raw)
    assert " 30.0%  database driver" in table and " 10.0%  thread hop" in table
