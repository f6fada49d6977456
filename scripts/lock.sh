#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml's ranges (newest versions that fit), with
# hashes: requirements/app.txt (what the app runs on: the Docker image) and
# requirements/dev.txt (app, test and lint tools: what `make test` and `make lint` install).
#   scripts/lock.sh              keep locked versions where they still fit
#   scripts/lock.sh --upgrade    move everything to the newest versions
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/venv.sh lint >/dev/null
.venv/bin/python -m pip install -q uv
common=(--python-version 3.11 --generate-hashes --custom-compile-command "scripts/lock.sh" "$@")
.venv/bin/uv pip compile pyproject.toml "${common[@]}" -o requirements/app.txt
.venv/bin/uv pip compile pyproject.toml --extra test --extra lint "${common[@]}" -o requirements/dev.txt
say "requirements/app.txt and requirements/dev.txt are up to date"
