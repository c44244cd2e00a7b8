#!/usr/bin/env bash
# Starts two Sessionhub instances on one PostgreSQL database and measures live pushes
# between them (benches/pushes.rs). Needs PostgreSQL at 127.0.0.1:5432 (user postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sessionhub/target}"
database="sessionhub_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $database"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
export SESSIONHUB_IDENTITY_SECRET="bench-identity-secret-of-at-least-32-bytes"
export SESSIONHUB_SESSION_SECRET="bench-session-secret-of-at-least-32-bytes"
export SESSIONHUB_LOG=warn
cargo build --release -q
binary="$CARGO_TARGET_DIR/release/sessionhub"
"$binary" migrate
"$binary" serve --listen 127.0.0.1:8081 & a=$!
"$binary" serve --listen 127.0.0.1:8082 & b=$!
cleanup() {
  kill "$a" "$b" 2>/dev/null || true
  wait "$a" "$b" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)"
}
trap cleanup EXIT
for port in 8081 8082; do
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
done
PUSH_A=http://127.0.0.1:8081 PUSH_B=http://127.0.0.1:8082 PUSH_B_PID=$b \
  cargo bench -q --bench pushes
