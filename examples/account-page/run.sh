#!/usr/bin/env bash
# The account page's checks: its types against schema.graphql (graphql-codegen, tsc), its
# committed bundle up to date, and the end-to-end test in Chromium against the live server.
#
#   bash examples/account-page/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# Debian's Chromium, installed when it is missing (CI machines start without it).
if ! [[ -x /usr/bin/chromium ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi

page=examples/account-page
(cd "$page" && npm ci --silent --no-audit --no-fund)
# The generated types and the bundle are committed; rebuilt here, they must not change.
(cd "$page" && npm run --silent codegen >/dev/null && npm run --silent typecheck && npm run --silent build)
if ! git diff --quiet -- "$page/src/generated" "$page/dist"; then
  echo "examples/account-page: the committed types or bundle are stale; run npm run codegen && npm run build there" >&2
  git diff --stat -- "$page/src/generated" "$page/dist" >&2
  exit 1
fi

source tools/live-server.sh
status=0
SERVER="http://$SESSIONHUB_LISTEN" \
  LAPTOP_TOKEN="$("$server" token --user e2e-user --amr pwd)" \
  PHONE_TOKEN="$("$server" token --user e2e-user --amr pwd)" \
  ARTIFACTS="${ARTIFACTS:-$HOME/.cache/sessionhub/artifacts/account-page}" \
  node "$page/e2e.mjs" || status=$?
live_server_check
exit "$status"
