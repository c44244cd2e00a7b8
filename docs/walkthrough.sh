#!/usr/bin/env bash
# The README's walkthrough as one script: sign in from two devices, list the sessions,
# trust one device, revoke the other session and see its token refused.
# Needs the server running from the repository's top level (`cargo run`) and curl;
# SESSIONHUB_URL overrides its address. Run it from anywhere; it stops with exit status 1
# at the first answer that is not what the step expects.
set -euo pipefail
# `cargo run -- token` signs with the development keys the server made in its working
# directory, the repository's top level: mint from there too.
cd "$(dirname "$0")/.."
URL="${SESSIONHUB_URL:-http://127.0.0.1:8080}/graphql"

fail() { echo "walkthrough: $*" >&2; exit 1; }
# Pulls one string field out of a JSON answer without needing jq.
field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/"; }
# Fails unless a GraphQL answer has data and no errors.
expect_data() {
  [[ "$1" == *'"data":{'* && "$1" != *'"errors"'* ]] || fail "unexpected answer: $1"
  echo "$1"
}
gql() { # gql TOKEN QUERY
  expect_data "$(curl -sS "$URL" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"query\": \"$2\"}")"
}

echo '# 1. Mint an identity token for alice, as your login would (valid 5 minutes)'
IDENTITY=$(cargo run -q -- token --user alice --amr pwd) || fail "cannot mint an identity token"
echo "${IDENTITY:0:32}…"

echo '# 2. Sign in from a laptop (Chrome on macOS) and a phone (Safari on iPhone)'
LAPTOP=$(expect_data "$(curl -sS "$URL" -H "Authorization: Bearer $IDENTITY" -H 'Content-Type: application/json' \
  -A 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' \
  -d '{"query": "mutation { startSession(input: {}) { token device { id name } } }"}')")
echo "$LAPTOP"
PHONE=$(expect_data "$(curl -sS "$URL" -H "Authorization: Bearer $IDENTITY" -H 'Content-Type: application/json' \
  -A 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' \
  -d '{"query": "mutation { startSession(input: { deviceName: \"My iPhone\" }) { token session { id } } }"}')")
echo "$PHONE"
LAPTOP_TOKEN=$(echo "$LAPTOP" | field token)
LAPTOP_DEVICE=$(echo "$LAPTOP" | field id)
PHONE_TOKEN=$(echo "$PHONE" | field token)
PHONE_SESSION=$(echo "$PHONE" | field id)

echo '# 3. List the sessions from the laptop'
gql "$LAPTOP_TOKEN" '{ sessions { id isCurrent loginMethod device { name type } } }'

echo '# 4. Trust the laptop'
gql "$LAPTOP_TOKEN" "mutation { trustDevice(id: \\\"$LAPTOP_DEVICE\\\", level: HIGH) { name status isTrusted trustExpiresAt } }"

echo '# 5. Revoke the phone session from the laptop'
gql "$LAPTOP_TOKEN" "mutation { revokeSession(id: \\\"$PHONE_SESSION\\\") { id status endReason } }"

echo '# 6. The phone token is refused from now on'
REFUSED=$(curl -sS -w '\nHTTP %{http_code}' "$URL" -H "Authorization: Bearer $PHONE_TOKEN" \
  -H 'Content-Type: application/json' -d '{"query": "{ sessions { id } }"}')
echo "$REFUSED"
[[ "$REFUSED" == *'"SESSION_ENDED"'*'HTTP 401' ]] || fail "the revoked session's token was not refused"
