"""A longer property-based fuzz of /wechat than the suite runs, with counts (issue 12).

The strategies of tests/webhook_fuzz_kit.py, against the app in-process (Flask test client)
on a fresh migrated SQLite file, plain mode and safe mode. For each family of hostile input
it counts what was tried, the answers by status, and the defects: a 5xx, an ERROR log line
(a handler crash), a row written for refused input, a file's content in a reply.

    .venv/bin/python bench/fuzz_webhook.py --examples 2000
"""

from __future__ import annotations

import argparse
import base64
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from bot import create_app  # noqa: E402
from models.encrypted import configure_data_key  # noqa: E402
from models.schema import upgrade  # noqa: E402
from tests.conftest import AES_KEY, APP_ID, DATA_KEY, TOKEN, make_settings  # noqa: E402
from tests.test_webhook_fuzz import REFUSED, rows  # noqa: E402
from tests.webhook_fuzz_kit import (Tally, exchange, sealed_garbage_exchange, signed_exchange,  # noqa: E402
                                    unsigned_exchange, valid_envelope_exchange)


class Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


def run_family(name, app, strategy, examples, *, may_write: bool) -> Tally:
    tally = Tally()
    errors = Errors()
    logging.getLogger().addHandler(errors)

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def attempt(case):
        method, query, body, _signed = case
        before = rows(app)
        seen = errors.count
        response = exchange(app.test_client(), method, query, body)
        tally.see(response.status_code)
        if response.status_code >= 500:
            tally.server_errors.append(f"{response.status_code} for {body[:80]!r}")
        if errors.count != seen:
            tally.server_errors.append(f"handler error for {body[:80]!r}")
        refused = response.status_code in REFUSED
        if (refused or not may_write) and response.status_code != 200 and rows(app) != before:
            tally.rows_for_refused.append(repr(body[:80]))
        if b"root:" in response.data:
            tally.leaks.append(repr(body[:80]))

    attempt()
    logging.getLogger().removeHandler(errors)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items()))
    print(f"{name:<34} tried {tally.tried:>6}  [{statuses}]  5xx/crash {len(tally.server_errors)}  "
          f"rows-for-refused {len(tally.rows_for_refused)}  leaks {len(tally.leaks)}")
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="inputs per family")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # keep INFO and WARNING lines out of the report; ERROR still reaches the counter
    configure_data_key(DATA_KEY)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/fuzz.db"
        upgrade(url)
        plain = create_app(make_settings(url, Path(tmp)))
        safe = create_app(make_settings(url, Path(tmp), WECHAT_APP_ID=APP_ID, WECHAT_ENCODING_AES_KEY=AES_KEY))
        started = time.monotonic()
        tallies = [
            run_family("unsigned bytes and queries", plain, unsigned_exchange(), args.examples, may_write=False),
            run_family("signed, mutated XML / random bytes", plain, signed_exchange(TOKEN), args.examples, may_write=False),
            run_family("signed, valid envelope, garbage in", plain, valid_envelope_exchange(TOKEN), args.examples,
                       may_write=True),
            run_family("safe mode, sealed garbage", safe, sealed_garbage_exchange(TOKEN), args.examples, may_write=False),
        ]
        for app in (plain, safe):
            app.extensions["shuangyong"].close()
    defects = sum(len(t.server_errors) + len(t.rows_for_refused) + len(t.leaks) for t in tallies)
    print(f"total: {sum(t.tried for t in tallies)} inputs in {time.monotonic() - started:.0f} s, {defects} defects")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
