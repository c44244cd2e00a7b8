#!/usr/bin/env bash
# Schema-driven fuzzing of the live server: Schemathesis generates queries and mutations
# from schema.graphql (valid and invalid arguments), sends them to a real server, and
# fails on any 5xx, any error without a code, any INTERNAL error or any message showing
# internals (see hooks.py). Afterwards the server must still be up and must not have
# panicked.
#
#   bash fuzz/api/run.sh                      # SQLite, the CI budget
#   SESSIONHUB_FUZZ_EXAMPLES=500 bash fuzz/api/run.sh
#   SESSIONHUB_FUZZ_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres bash fuzz/api/run.sh
#
# With a PostgreSQL URL the run gets a database of its own on that server, dropped after.
# The seed is fixed and one worker sends the cases, so CI is repeatable; set
# SESSIONHUB_FUZZ_SEED to explore further.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sessionhub/target}"
examples="${SESSIONHUB_FUZZ_EXAMPLES:-50}"
seed="${SESSIONHUB_FUZZ_SEED:-20261123}"

# Schemathesis in a virtualenv beside the build cache, installed once per pin set.
venv="$HOME/.cache/sessionhub/schemathesis-venv"
requirements="fuzz/api/requirements.txt"
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

cargo build --quiet --locked --bin sessionhub
server="$CARGO_TARGET_DIR/debug/sessionhub"

work="$(mktemp -d)"
server_pid=""
database=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$database" ]]; then
    psql -q "$SESSIONHUB_FUZZ_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $database" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SESSIONHUB_LISTEN="127.0.0.1:$port"
if [[ -n "${SESSIONHUB_FUZZ_POSTGRES_URL:-}" ]]; then
  database="sessionhub_fuzz_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  psql -q "$SESSIONHUB_FUZZ_POSTGRES_URL" -c "CREATE DATABASE $database"
  export DATABASE_URL="${SESSIONHUB_FUZZ_POSTGRES_URL%/*}/$database"
else
  export DATABASE_URL="sqlite://$work/fuzz.db?mode=rwc"
fi
echo "fuzzing the API on $DATABASE_URL: $examples examples per operation, seed $seed"
export SESSIONHUB_IDENTITY_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export SESSIONHUB_SESSION_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export SESSIONHUB_DEV_KEYS_FILE="$work/dev-keys.json"
# Every case starts a session and sends its request from one address: the limits would
# answer most of them 429 and hide what is behind. The limits have tests of their own.
export SESSIONHUB_REQUESTS_PER_MINUTE_PER_IP=1000000
export SESSIONHUB_REQUESTS_PER_MINUTE_PER_SESSION=1000000
export SESSIONHUB_SIGN_INS_PER_MINUTE_PER_USER=1000000
export RUST_LOG="${RUST_LOG:-warn}"

"$server" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$SESSIONHUB_LISTEN/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

export SESSIONHUB_FUZZ_GRAPHQL_URL="http://$SESSIONHUB_LISTEN/graphql"
export SESSIONHUB_FUZZ_IDENTITY_TOKEN="$("$server" token --user fuzz --amr pwd --ttl 2h)"
export SCHEMATHESIS_HOOKS=hooks
status=0
PYTHONPATH=fuzz/api "$venv/bin/st" --no-color run schema.graphql \
  --url "$SESSIONHUB_FUZZ_GRAPHQL_URL" \
  --checks sessionhub_contract,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --suppress-health-check all \
  --request-timeout 10 || status=$?

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the fuzz run:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked during the fuzz run:" >&2
  grep -A5 "panicked" "$work/server.log" >&2
  exit 1
fi
curl -fsS "http://$SESSIONHUB_LISTEN/healthz" >/dev/null
echo "the server is still up and never panicked"
exit "$status"
