"""A package that installs anywhere: the wheel `pip install .` builds carries the templates,
static files and migrations, and the installed command initialises and serves from an
empty folder outside the checkout.

The wheel is installed (not editable) into a folder of its own that is put first on the
path; its dependencies come from this test run's environment, so the test needs no
network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.dovecot import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    """Run a command; its output, or the test fails with it."""
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _get(url: str, deadline: float) -> tuple[int, bytes]:
    """GET ``url``, retrying while the server starts."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_installed_package_initialises_and_serves_from_an_empty_folder(tmp_path):
    wheels, site, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", str(wheels), str(ROOT), cwd=tmp_path, env=env,
    )  # fmt: skip
    (wheel,) = wheels.glob("helpdesk-*.whl")
    _run(
        sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
        str(wheel), cwd=tmp_path, env=env,
    )  # fmt: skip
    for data in ("templates/login.html", "static/chat/widget.js", "migrations/env.py"):
        assert (site / "helpdesk" / data).is_file(), f"{data} is not in the wheel"

    env = {**env, "PYTHONPATH": str(site), "HELPDESK_INSTANCE": ""}
    where = _run(
        sys.executable, "-c", "import helpdesk; print(helpdesk.__file__)", cwd=empty, env=env
    )
    assert where.strip().startswith(str(site)), where  # the installed copy, not the checkout
    seeded = _run(sys.executable, "-m", "helpdesk", "init", "--demo", cwd=empty, env=env)
    assert "admin@demo.helpdesk" in seeded
    assert (empty / "instance" / "helpdesk.db").is_file()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "helpdesk", "serve", "--port", str(port)],
        cwd=empty,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        status, page = _get(f"http://127.0.0.1:{port}/login", deadline)
        assert status == 200 and b"<form" in page
        status, script = _get(f"http://127.0.0.1:{port}/chat/widget.js", deadline)
        assert status == 200 and b"/chat" in script
    finally:
        server.terminate()
        server.wait(timeout=30)
