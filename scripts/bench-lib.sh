# Shared by the bench scripts (sourced, with $repo set): stops the server they started on
# exit, and builds the release binary into $wsprobe.
server_pid=
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; server_pid=; }
trap cleanup EXIT

echo "bench: building wsprobe (release)" >&2
(cd "$repo" && cargo build --release -q -p wsprobe)
wsprobe=${CARGO_TARGET_DIR:-$repo/target}/release/wsprobe
