"""bench/crm.py runs end to end with a handful of customers and prints every figure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.fixtures.app import ROOT, run_database_name

# Loads the run's database (DATABASE_URL) in processes of its own.
pytestmark = [pytest.mark.slow, pytest.mark.database]


def test_the_crm_benchmark_runs_small():
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    name = run_database_name() + "_bench"
    done = subprocess.run(
        [sys.executable, "bench/crm.py", "--db", "postgresql" if postgres else "sqlite",
         "--customers", "300", "--samples", "5", "--name", name],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for figure in ("loaded 300 customers", "search", "list (3 filters + total)", "segment count"):
        assert figure in out, out
    exports = [line for line in out.splitlines() if "rows as CSV" in line]
    assert len(exports) == 2 and "peak RSS" in exports[0], out
    assert "    300 rows as CSV" in exports[1] and "     30 rows as CSV" in exports[0], out
