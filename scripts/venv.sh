#!/usr/bin/env bash
# Make .venv (Python 3.11+) and install the project into it, editable, with the locked
# versions of its dependencies (requirements/*.txt, hash-checked; scripts/lock.sh makes them).
#   scripts/venv.sh              the app:                  requirements/app.txt
#   scripts/venv.sh test|lint    app, test and lint tools: requirements/dev.txt
# Re-running installs nothing unless pyproject.toml or the lock changed (a stamp holds their
# hash) or the venv is broken. PYTHON=/path/to/python3.12 picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

extra=${1:-}
venv=.venv
stamp="$venv/.installed${extra:+-$extra}"

# The first interpreter that is Python 3.11 or newer.
find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

# Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
install_venv_package() {
    local python=$1 version
    version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null && [ ! -t 0 ]; then
        die "'$python -m venv' failed: Python's venv module is missing. Install it as root with
    apt-get install python${version}-venv
then run the make command again."
    fi
    warn "'$python -m venv' failed (Debian/Ubuntu keep venv in a package of its own): installing it"
    apt_install "python${version}-venv" || apt_install python3-venv \
        || die "could not install python${version}-venv: install it with apt, then retry"
}

make_venv() {
    local python
    python=$(find_python) || die "Python 3.11 or newer is needed (found: $(python3 --version 2>&1 || echo none)).
    On Debian/Ubuntu: apt-get install python3 python3-venv   (or set PYTHON=/path/to/python3.11)"
    say "creating $venv with $($python --version)"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"  # a failed venv is left without pip: start over
        install_venv_package "$python"
        "$python" -m venv "$venv"
    fi
}

# A venv copied from elsewhere, or whose interpreter was removed, cannot run: rebuild it.
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    make_venv
fi

lock=requirements/app.txt
[ -z "$extra" ] || lock=requirements/dev.txt
want=$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/helpdesk" ]; then
    exit 0
fi
say "installing the project into $venv ($lock, then pip install -e .)"
"$venv/bin/python" -m pip install --disable-pip-version-check -q --require-hashes -r "$lock"
"$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e .
echo "$want" >"$stamp"
if [ -n "$extra" ]; then  # the dev lock holds the app's and both tools': nothing more to install
    for other in test lint; do echo "$want" >"$venv/.installed-$other"; done
    cat pyproject.toml requirements/app.txt | sha256sum | cut -d' ' -f1 >"$venv/.installed"
fi
