#!/usr/bin/env bash
# GraphiQL as served by the live server, in headless Chromium: a query and a subscription,
# with every request to another origin blocked (screenshot.mjs).
#
#   bash tools/graphiql/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! [[ -x /usr/bin/chromium ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
(cd tools/graphiql && npm ci --silent --no-audit --no-fund)

source tools/live-server.sh
status=0
SERVER="http://$SESSIONHUB_LISTEN" \
  IDENTITY_TOKEN="$("$server" token --user graphiql-user --amr pwd)" \
  OUT="${ARTIFACTS:-$HOME/.cache/sessionhub/artifacts/graphiql}" \
  node tools/graphiql/screenshot.mjs || status=$?
live_server_check
exit "$status"
