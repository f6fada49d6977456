# helpdesk: the two set-up commands (README.md).
#   make run    install into .venv, migrate, seed demo data once, serve on http://127.0.0.1:5000
#   make test   start/install PostgreSQL, Redis, Dovecot; run the suite on SQLite and PostgreSQL, side by side
#   make lint   ruff (lint and format), mypy, and the layout rules (scripts/check_layout.py)
#   make lock   regenerate requirements/*.txt (hashed) from pyproject.toml's ranges
#   make prod-smoke  the production shape without Docker: compose's services, two web processes behind nginx (scripts/prod-smoke)
#   make translations  extract the UI's strings, update the German catalogue, compile it
# Options: make run HOST=0.0.0.0 PORT=8000 / make test PYTEST_ARGS="-k ingest -x"

HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: run test test-fast lint lock translations install services clean prod-smoke

# The production server (gunicorn, one process; without REDIS_URL it also runs the jobs).
run: install
	.venv/bin/helpdesk init --demo
	.venv/bin/helpdesk serve --host $(HOST) --port $(PORT)

# Not in `make test` (a minute or two): docker-compose.yml's services for real, behind nginx.
# Needs PostgreSQL on 127.0.0.1 (`make services`; PROD_SMOKE_POSTGRES names another).
prod-smoke:
	bash scripts/prod-smoke

test:
	bash scripts/test.sh $(PYTEST_ARGS)

# The suite without the tests marked slow (live servers, browsers, Dovecot, worker processes).
test-fast:
	bash scripts/test.sh -m "not slow" $(PYTEST_ARGS)

lint:
	@bash scripts/venv.sh lint
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/python scripts/check_layout.py

lock:
	bash scripts/lock.sh

# helpdesk/translations/de/LC_MESSAGES/messages.po gets the new strings (translate them,
# then run this again: it compiles the .mo that ships beside the .po).
translations:
	@bash scripts/venv.sh test
	.venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o helpdesk/translations/messages.pot .
	.venv/bin/pybabel update -i helpdesk/translations/messages.pot -d helpdesk/translations --no-fuzzy-matching --ignore-obsolete -w 88
	.venv/bin/pybabel compile -d helpdesk/translations

# Creates .venv when missing; installs only when pyproject.toml changed.
install:
	bash scripts/venv.sh

services:
	bash scripts/ensure-services.sh

# Removes the virtualenv; the database and secret key in instance/ stay.
clean:
	rm -rf .venv helpdesk.egg-info .pytest_cache .mypy_cache .ruff_cache build
