#!/usr/bin/env bash
# The whole test suite, twice: on SQLite and on PostgreSQL, side by side (`make test`).
# Services are installed/started first; arguments go to both pytest runs:
#   scripts/test.sh -k ingest -x
# Both runs always execute, side by side; the exit status is non-zero if either failed.
# HELPDESK_TEST_DB names the throw-away PostgreSQL database (default
# helpdesk_test; a run's second worker adds _gw1); HELPDESK_TEST_REDIS_DB the Redis
# database number of the SQLite run (default 15; the PostgreSQL run takes the one below,
# and each run's second worker the number two below its first's).
# HELPDESK_TEST_PROCESSES: pytest processes per database run (pytest-xdist, whole files
# per process; default 2: a run alone leaves a core idle while it waits on servers,
# sockets and the browser); 1 runs each database's tests in one process.
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

# The two runs go side by side (each is half waiting: servers, sockets, the browser),
# each with a Redis database of its own; the SQLite run's output follows the PostgreSQL
# run's. HELPDESK_TEST_SERIAL=1 runs them one after the other, streaming both.
redis_db=${HELPDESK_TEST_REDIS_DB:-15}
processes=${HELPDESK_TEST_PROCESSES:-2}
parallel=()
if [ "$processes" -gt 1 ]; then
    parallel=(-n "$processes" --dist loadfile)
fi
sqlite_redis_db=$redis_db
postgres_redis_db=$(( redis_db > 0 ? redis_db - 1 : 1 ))
mkdir -p .test-logs
sqlite_log=.test-logs/sqlite.log

set +e
if [ -n "${HELPDESK_TEST_SERIAL:-}" ]; then
    header "tests on SQLite"
    env -u DATABASE_URL HELPDESK_TEST_REDIS_DB=$sqlite_redis_db .venv/bin/python -m pytest "${parallel[@]}" "$@"
    sqlite_status=$?
else
    env -u DATABASE_URL HELPDESK_TEST_REDIS_DB=$sqlite_redis_db \
        .venv/bin/python -m pytest "${parallel[@]}" "$@" > "$sqlite_log" 2>&1 &
    sqlite_pid=$!
    trap 'kill "$sqlite_pid" 2>/dev/null || true' EXIT  # interrupted: stop it too
fi

header "tests on PostgreSQL ($PG_URL, database $HELPDESK_TEST_DB)"
DATABASE_URL=$PG_URL HELPDESK_TEST_REDIS_DB=$postgres_redis_db .venv/bin/python -m pytest "${parallel[@]}" "$@"
postgres_status=$?

if [ -z "${HELPDESK_TEST_SERIAL:-}" ]; then
    wait "$sqlite_pid"
    sqlite_status=$?
    trap - EXIT
    header "tests on SQLite (run beside the PostgreSQL run; output from $sqlite_log)"
    cat "$sqlite_log"
fi
set -e

verdict() { [ "$1" -eq 0 ] && echo "passed" || echo "FAILED (pytest exit $1)"; }
header "SQLite: $(verdict $sqlite_status); PostgreSQL: $(verdict $postgres_status)"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
