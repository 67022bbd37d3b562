#!/usr/bin/env bash
# Installs the real third-party peers wsprobe's tests talk to:
#   * tshark (Debian package), the dissector oracle            -> on PATH
#   * Python `websockets`, proxy.py, duckdb (peers/python/requirements.txt) -> peers/.venv
#   * Node `ws` (peers/node/package-lock.json, via `npm ci`)   -> peers/node/node_modules
#   * Chromium (Debian package), the browser `serve` tests     -> /usr/bin/chromium
# Idempotent and non-interactive: each part is skipped when already in place and up to
# date (stamps hold the hash of the requirements / lock file). Works from any cwd.
# Set WSPROBE_SETUP_VERBOSE=1 to see the installers' own output.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers=$repo/peers
venv=$peers/.venv
log=$(mktemp -t wsprobe-setup.XXXXXX)
trap 'rm -f "$log"' EXIT
t_start=$(date +%s)

say() { echo "setup-peers: $*"; }
die() { echo "setup-peers: ERROR: $*" >&2; exit 1; }
# run DESCRIPTION CMD...: runs CMD with its output in $log; on failure shows the log's tail.
run() {
    local what=$1
    shift
    if [ "${WSPROBE_SETUP_VERBOSE:-0}" = 1 ]; then
        "$@" 2>&1 | tee -a "$log" || { die "$what failed: $*"; }
        return
    fi
    if ! "$@" >>"$log" 2>&1; then
        echo "setup-peers: ERROR: $what failed: $*" >&2
        echo "---- last 40 lines of output ----" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root (or passwordless sudo) to run: $*"
    fi
}
apt_updated=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ $apt_updated = 0 ]; then
        run "apt-get update" as_root apt-get update -q
        apt_updated=1
    fi
    run "apt-get install $*" as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}
hash_of() { sha256sum "$@" | sha256sum | cut -c1-64; }

# Serialise concurrent runs (two test binaries, a developer and an editor...).
exec 9>"$peers/.setup.lock"
flock 9

# ---------------------------------------------------------------- tshark
if command -v tshark >/dev/null 2>&1; then
    say "tshark present: $(tshark --version 2>/dev/null | head -n1)"
else
    command -v apt-get >/dev/null 2>&1 || die "tshark is missing and apt-get is not available; install tshark by hand"
    t0=$(date +%s)
    # Don't ask whether non-root users may capture: answer no, in advance.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' \
        | as_root debconf-set-selections
    apt_install tshark
    command -v tshark >/dev/null 2>&1 || die "apt-get installed tshark but it is not on PATH"
    say "installed $(tshark --version 2>/dev/null | head -n1) ($(( $(date +%s) - t0 ))s)"
fi

# ---------------------------------------------------------------- python websockets
py=${PYTHON:-python3}
command -v "$py" >/dev/null 2>&1 || die "$py not found; install Python >= 3.11"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "$("$py" --version 2>&1) is too old: websockets 17 needs Python >= 3.11"
req=$peers/python/requirements.txt
want="$(hash_of "$req") $("$py" -c 'import sys; print(sys.version.split()[0])')"
stamp=$venv/.wsprobe-stamp
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import websockets' >/dev/null 2>&1 \
    && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "python peer ready: websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)') in peers/.venv"
else
    t0=$(date +%s)
    rm -rf "$venv"
    if ! "$py" -m venv "$venv" >>"$log" 2>&1; then
        # Debian's own python3 needs python3-venv for ensurepip.
        rm -rf "$venv"
        apt_install python3-venv
        run "python3 -m venv" "$py" -m venv "$venv"
    fi
    run "pip install" "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --no-input -r "$req"
    echo "$want" >"$stamp"
    say "installed python peer: websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)') in peers/.venv ($(( $(date +%s) - t0 ))s)"
fi

# ---------------------------------------------------------------- node ws
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
nodedir=$peers/node
want=$(hash_of "$nodedir/package.json" "$nodedir/package-lock.json")
stamp=$nodedir/node_modules/.wsprobe-stamp
ws_version() { (cd "$nodedir" && node -p 'require("ws/package.json").version') 2>/dev/null; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && ws_version >/dev/null; then
    say "node peer ready: ws $(ws_version) in peers/node/node_modules (node $(node --version))"
else
    t0=$(date +%s)
    run "npm ci" env -C "$nodedir" npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
    say "installed node peer: ws $(ws_version) in peers/node/node_modules (node $(node --version), $(( $(date +%s) - t0 ))s)"
fi

# ---------------------------------------------------------------- chromium
if [ -x /usr/bin/chromium ]; then
    say "chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
else
    command -v apt-get >/dev/null 2>&1 || die "chromium is missing and apt-get is not available; install it by hand"
    t0=$(date +%s)
    apt_install chromium
    say "installed $(/usr/bin/chromium --version 2>/dev/null | head -n1) ($(( $(date +%s) - t0 ))s)"
fi

say "done in $(( $(date +%s) - t_start ))s"
