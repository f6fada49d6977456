"""bench/reports.py runs end to end at a tiny size (on SQLite) and prints every figure."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fixtures.app import ROOT

pytestmark = pytest.mark.slow  # a process of its own, with its own database


def test_the_reports_benchmark_runs_at_a_tiny_size():
    done = subprocess.run(
        [
            sys.executable,
            "bench/reports.py",
            "--db",
            "sqlite",
            "--tickets",
            "300",
            "--runs",
            "2",
            "--ingest",
            "20",
            "--drop",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any("loaded 300 tickets, 1,500 messages" in line for line in lines), lines
    for what in ("30 days", "quarter", "year"):
        assert any(f"overview, {what}" in line and "p99" in line for line in lines), lines
    assert any("XLSX export of a quarter" in line for line in lines), lines
    assert any("ingest per message" in line for line in lines), lines
