#!/usr/bin/env bash
# The GraphQL-over-HTTP conformance audit (npm `graphql-http`) against the live debug
# server: every MUST and every SHOULD must pass.
#
#   bash tools/http-audit/run.sh
#   LIVE_SERVER_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres bash tools/http-audit/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# The audit's one dependency, pinned by the lockfile, installed once per lockfile.
modules="$HOME/.cache/sessionhub/http-audit"
if ! cmp -s tools/http-audit/package-lock.json "$modules/package-lock.json" 2>/dev/null; then
  rm -rf "$modules"
  mkdir -p "$modules"
  cp tools/http-audit/package.json tools/http-audit/package-lock.json "$modules/"
  (cd "$modules" && npm ci --silent --no-audit --no-fund)
fi

# ESM resolves imports beside the script, so the script runs from beside its modules.
cp tools/http-audit/audit.mjs "$modules/"

source tools/live-server.sh
status=0
AUDIT_URL="http://$SESSIONHUB_LISTEN/graphql" \
  AUDIT_IDENTITY_TOKEN="$("$server" token --user http-audit --amr pwd)" \
  node "$modules/audit.mjs" || status=$?
live_server_check
exit "$status"
