#!/usr/bin/env bash
# Starts two Sessionhub instances on one PostgreSQL database and measures live pushes
# between them (benches/pushes.rs). Needs PostgreSQL at 127.0.0.1:5432 (user postgres).
# Events travel by NOTIFY; with SESSIONHUB_REDIS_URL set (e.g. redis://127.0.0.1:6379),
# by Redis. PUSH_ROUNDS, PUSH_SUBSCRIBE_ROUNDS and PUSH_IDLE size the runs; PUSH_BINARY
# names another server build to measure instead (e.g. the one before a change).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sessionhub/target}"
database="sessionhub_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $database"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$database"
export SESSIONHUB_IDENTITY_SECRET="bench-identity-secret-of-at-least-32-bytes"
export SESSIONHUB_SESSION_SECRET="bench-session-secret-of-at-least-32-bytes"
export SESSIONHUB_LOG=warn
# The bench signs one account in many times in a few seconds: out of the limits' way.
export SESSIONHUB_MAX_SESSIONS_PER_USER="${SESSIONHUB_MAX_SESSIONS_PER_USER:-100000}"
export SESSIONHUB_SIGN_INS_PER_MINUTE_PER_USER="${SESSIONHUB_SIGN_INS_PER_MINUTE_PER_USER:-1000000}"
export SESSIONHUB_REQUESTS_PER_MINUTE_PER_IP="${SESSIONHUB_REQUESTS_PER_MINUTE_PER_IP:-1000000}"
export SESSIONHUB_REQUESTS_PER_MINUTE_PER_SESSION="${SESSIONHUB_REQUESTS_PER_MINUTE_PER_SESSION:-1000000}"
cargo build --release -q
# PUSH_BINARY runs another build, e.g. the one before a change, to compare.
binary="${PUSH_BINARY:-$CARGO_TARGET_DIR/release/sessionhub}"
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
