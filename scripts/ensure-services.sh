#!/usr/bin/env bash
# Make sure the real services the tests talk to are installed and running:
# PostgreSQL and Redis (started when down), Dovecot (installed only: the IMAP
# tests start their own instance), Chromium when a test drives a browser.
# Installs only what is absent, from Debian's packages. Sourced by
# scripts/test.sh (it exports PGPASSWORD when PostgreSQL wants one); can also
# be run on its own.

PG_PORT=5432
REDIS_PORT=6379
# A password this script gave the postgres role, kept for the next runs (git ignores .services/).
PG_PASSWORD_FILE=.services/postgres-password

ensure_postgres() {
    # A server already answering (ours or not) is used as it is.
    if ! { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }; then
        compgen -G "/etc/postgresql/*/*/postgresql.conf" >/dev/null || apt_install postgresql
        local version
        version=$(ls /etc/postgresql | sort -V | tail -n 1)
        say "starting PostgreSQL $version"
        # With systemd the package's install may have started it already: not an error.
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        wait_for 30 pg_isready -q -h 127.0.0.1 -p "$PG_PORT" \
            || die "PostgreSQL $version did not come up on 127.0.0.1:$PG_PORT"
    fi
    ensure_postgres_login
}

# The tests connect as postgres@127.0.0.1 without a password (trust in pg_hba.conf).
# A stock Debian install asks for a password over TCP instead (scram-sha-256), and
# the postgres role has none, so no password can work. Rather than editing
# pg_hba.conf (it changes who may log in without a password, for every
# database and user), give the role a password, only when it has none (a role
# without one cannot log in over a password method anyway, so nothing that
# worked before breaks), keep it in .services/ and export PGPASSWORD: libpq,
# under psql and psycopg alike, sends it, and DATABASE_URL stays password-free.
ensure_postgres_login() {
    local out
    if [ -z "${PGPASSWORD:-}" ] && [ -s "$PG_PASSWORD_FILE" ]; then
        export PGPASSWORD
        PGPASSWORD=$(cat "$PG_PASSWORD_FILE")
    fi
    out=$(psql -w -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' 2>&1) \
        && return 0
    case "$out" in
        *"password authentication failed"* | *"no password supplied"*) ;;
        *) die "cannot connect to PostgreSQL as postgres@127.0.0.1: $out" ;;
    esac
    local has_password
    has_password=$(as_postgres psql -X -p "$PG_PORT" -Atqc \
        "select rolpassword is not null from pg_authid where rolname = 'postgres'") \
        || die "PostgreSQL wants a password over TCP and 'su postgres -c psql' failed"
    if [ "$has_password" = "t" ] && [ ! -s "$PG_PASSWORD_FILE" ]; then
        die "PostgreSQL wants a password for postgres@127.0.0.1 and the role has one this
    script does not know: run again with PGPASSWORD=that-password"
    fi
    say "PostgreSQL wants a password over TCP: giving the postgres role one (kept in $PG_PASSWORD_FILE)"
    mkdir -p "$(dirname "$PG_PASSWORD_FILE")"
    if [ ! -s "$PG_PASSWORD_FILE" ]; then
        (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$PG_PASSWORD_FILE")
    fi
    export PGPASSWORD
    PGPASSWORD=$(cat "$PG_PASSWORD_FILE")
    # The password goes in on standard input, so it never shows in a process list.
    printf "ALTER ROLE postgres PASSWORD '%s';\n" "$PGPASSWORD" \
        | as_postgres psql -X -q -p "$PG_PORT" -v ON_ERROR_STOP=1 >/dev/null \
        || die "could not set a password on the postgres role"
    psql -w -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null \
        || die "PostgreSQL still refuses postgres@127.0.0.1 with the password in $PG_PASSWORD_FILE"
}

redis_up() {
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
}

ensure_redis() {
    redis_up && return 0
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    # With systemd the package's install has started it already.
    wait_for 2 redis_up && return 0
    say "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    # Test data only: nothing is saved to disk.
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for 15 redis_up || die "Redis did not come up on 127.0.0.1:$REDIS_PORT"
}

ensure_dovecot() {
    # Only the binary is needed: the IMAP tests run private instances of their own.
    [ -x /usr/sbin/dovecot ] || apt_install dovecot-imapd
}

ensure_browser() {
    # Only when a test drives a browser: Playwright's own browser download cannot
    # be fetched here, Debian's Chromium can.
    if grep -rqlE '^\s*(from|import) playwright' tests 2>/dev/null && [ ! -x /usr/bin/chromium ]; then
        apt_install chromium
    fi
}

ensure_services() {
    ensure_postgres
    ensure_redis
    ensure_dovecot
    ensure_browser
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    cd "$(dirname "$0")/.."
    . scripts/lib.sh
    ensure_services
    say "PostgreSQL, Redis and Dovecot are ready"
fi
