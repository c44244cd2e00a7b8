# Starts the debug server on a port of its own and a database of its own, for the scripts
# that test it from outside (the Schemathesis fuzz run, the GraphQL-over-HTTP audit).
# Source it from the repository's top level; afterwards:
#   $SESSIONHUB_LISTEN      host:port the server listens on
#   $server                 the binary, for `"$server" token …`
#   $work                   a scratch directory removed on exit
#   live_server_check       fails when the server died or panicked meanwhile
# With $LIVE_SERVER_POSTGRES_URL the run gets a database of its own on that server,
# dropped on exit; otherwise an SQLite file in $work. The rate limits are lifted: these
# runs send many requests from one address, and the limits have tests of their own.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sessionhub/target}"
cargo build --quiet --locked --bin sessionhub
server="$CARGO_TARGET_DIR/debug/sessionhub"

work="$(mktemp -d)"
server_pid=""
database=""
live_server_cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$database" ]]; then
    psql -q "$LIVE_SERVER_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" || true
  fi
  rm -rf "$work"
}
trap live_server_cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SESSIONHUB_LISTEN="127.0.0.1:$port"
if [[ -n "${LIVE_SERVER_POSTGRES_URL:-}" ]]; then
  database="sessionhub_live_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  psql -q "$LIVE_SERVER_POSTGRES_URL" -c "CREATE DATABASE $database"
  export DATABASE_URL="${LIVE_SERVER_POSTGRES_URL%/*}/$database"
else
  export DATABASE_URL="sqlite://$work/live.db?mode=rwc"
fi
export SESSIONHUB_IDENTITY_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export SESSIONHUB_SESSION_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export SESSIONHUB_DEV_KEYS_FILE="$work/dev-keys.json"
export SESSIONHUB_REQUESTS_PER_MINUTE_PER_IP=1000000
export SESSIONHUB_REQUESTS_PER_MINUTE_PER_SESSION=1000000
export SESSIONHUB_SIGN_INS_PER_MINUTE_PER_USER=1000000
export SESSIONHUB_LOG="${SESSIONHUB_LOG:-warn}"

"$server" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$SESSIONHUB_LISTEN/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

live_server_check() {
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server died meanwhile:" >&2
    cat "$work/server.log" >&2
    return 1
  fi
  if grep -q "panicked" "$work/server.log"; then
    echo "the server panicked meanwhile:" >&2
    grep -A5 "panicked" "$work/server.log" >&2
    return 1
  fi
  curl -fsS "http://$SESSIONHUB_LISTEN/healthz" >/dev/null
  echo "the server is still up and never panicked"
}
