"""The 双拥 year as a county lives it (tests/test_year_as_county.py), on PostgreSQL: a file of its own
so that pytest-xdist (one file per worker) runs it beside the SQLite years, not after them."""

from __future__ import annotations

from datetime import date

from tests.conftest import _truncate_all
from tests.test_year_as_county import _check_year


def test_a_year_of_daily_runs_on_postgresql(pg_url):
    """Installed on 1/20 (each year of daily runs takes twice SQLite's time there)."""
    _truncate_all(pg_url)
    _check_year(pg_url, date(2027, 1, 20))
