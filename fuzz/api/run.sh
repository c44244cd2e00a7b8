#!/usr/bin/env bash
# Schema-driven fuzzing of the live server: Schemathesis generates queries and mutations
# from schema.graphql (valid and invalid arguments), then requests to each compatibility
# REST API from its OpenAPI document (docs/openapi/), sends them to a real server, and
# fails on any 5xx, any error without a code, any INTERNAL error or any message showing
# internals (see hooks.py); a REST answer must also have a status and a body its
# document declares. Afterwards the server must still be up and must not have panicked.
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

LIVE_SERVER_POSTGRES_URL="${SESSIONHUB_FUZZ_POSTGRES_URL:-}"
export SESSIONHUB_COMPAT_APIS=flashback,laravel,ruuvi
source tools/live-server.sh
echo "fuzzing the API on $DATABASE_URL: $examples examples per operation, seed $seed"

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

# A compatibility REST API, from an OpenAPI document: fuzz_rest <api> <document>.
fuzz_rest() {
  echo "fuzzing the $1 compatibility API from $2"
  PYTHONPATH=fuzz/api "$venv/bin/st" --no-color run "$2" \
    --url "http://$SESSIONHUB_LISTEN/compat/$1" \
    --checks sessionhub_rest_contract,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --suppress-health-check all \
    --request-timeout 10 || status=$?
}
for api in flashback laravel ruuvi; do
  fuzz_rest "$api" "docs/openapi/$api.json"
done
# Ruuvi publishes its own OpenAPI document: our answers must conform to it too. It has no
# 403: Ruuvi never refused a session for being on a new device, as the new-device
# cool-down does (SESSION_TOO_NEW, tested in tests/api/takeover.rs). A multi-factor sign-in
# is not cooled down, so these sessions get what Ruuvi documents.
SESSIONHUB_FUZZ_IDENTITY_TOKEN="$("$server" token --user fuzz --amr pwd,otp,mfa --ttl 2h)" \
  fuzz_rest ruuvi tests/fixtures/seeds/ruuvi-openapi.json

live_server_check
exit "$status"
