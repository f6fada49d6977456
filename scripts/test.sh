#!/usr/bin/env bash
# The whole test suite, twice: on SQLite, then on PostgreSQL (`make test`).
# Services are installed/started first; arguments go to both pytest runs:
#   scripts/test.sh -k ingest -x
# Both runs always execute; the exit status is non-zero if either failed.
# HELPDESK_TEST_DB names the throw-away PostgreSQL database (default
# helpdesk_test); HELPDESK_TEST_REDIS_DB the Redis database number.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/ensure-services.sh

ensure_services
scripts/venv.sh test

PG_URL=postgresql://postgres@127.0.0.1/postgres
export HELPDESK_TEST_DB=${HELPDESK_TEST_DB:-helpdesk_test}

header() {
    printf '\n\033[1m%s\n  %s\n%s\033[0m\n' \
        "========================================================================" "$*" \
        "========================================================================"
}

header "tests on SQLite"
set +e
env -u DATABASE_URL .venv/bin/python -m pytest "$@"
sqlite_status=$?

header "tests on PostgreSQL ($PG_URL, database $HELPDESK_TEST_DB)"
DATABASE_URL=$PG_URL .venv/bin/python -m pytest "$@"
postgres_status=$?
set -e

verdict() { [ "$1" -eq 0 ] && echo "passed" || echo "FAILED (pytest exit $1)"; }
header "SQLite: $(verdict $sqlite_status); PostgreSQL: $(verdict $postgres_status)"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
