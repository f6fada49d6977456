# Shared helpers of the set-up scripts (sourced, not run): messages, root, apt.

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
warn() { printf '==> %s\n' "$*" >&2; }
die() { printf '\n==> error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
# Without a terminal (CI) sudo may not ask for a password, so `-n` there.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
    else
        die "this step needs root: run as root: $*"
    fi
}

# Run a command as the postgres system user (peer authentication on the local socket).
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
    elif [ -t 0 ]; then
        sudo -u postgres "$@"
    else
        sudo -n -u postgres "$@"
    fi
}

APT_UPDATED=""

# Install Debian packages; `apt-get update` runs once per script run, before the first install.
apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found: install these packages by hand, then retry: $*"
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    # Other sessions may be installing at the same time: wait for the dpkg lock, do not fail.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
        install -y -qq --no-install-recommends "$@"
}

# Wait up to $1 seconds for a command to succeed.
wait_for() {
    local seconds=$1
    shift
    for _ in $(seq "$((seconds * 4))"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}
