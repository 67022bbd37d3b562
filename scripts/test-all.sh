#!/usr/bin/env bash
# The one test command: installs the real peers (tshark, Python websockets, Node ws),
# then runs every test of the workspace. Extra arguments go to `cargo test`.
#   scripts/test-all.sh [CARGO TEST ARGS...]
# Tests find the peers at <repo>/peers/.venv/bin/python and <repo>/peers/node.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/setup-peers.sh
# --no-fail-fast: every test binary runs, so every failure (and every summary line) shows.
echo "test-all: cargo test --workspace --all-targets --no-fail-fast $*"
cargo test --workspace --all-targets --no-fail-fast "$@"
