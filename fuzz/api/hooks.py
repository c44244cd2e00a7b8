"""Schemathesis hooks for fuzzing a running Sessionhub server (see run.sh).

Two things Schemathesis cannot know from the schema alone:

* Who is calling. `startSession` is authorised by an identity token; everything else
  by a session token. Every case gets a session of its own, started just before it,
  so a generated `signOut` or `revokeAllSessions(includeCurrent: true)` cannot leave
  the cases after it answering only UNAUTHENTICATED.
* What counts as a server fault (the compatibility REST APIs get the same contract in
  their own envelopes: `sessionhub_rest_contract`). Schemathesis' GraphQL heuristics call any error raised
  inside a resolver a "server error", which would flag every NOT_FOUND for the random
  ids it generates. Our contract is sharper, and `sessionhub_contract` checks it on
  every answer: no 5xx, a JSON object, every error carrying `extensions.code`, never
  INTERNAL, and no message that shows SQL, source paths or a panic.
"""

import os
import re

import requests
import schemathesis

GRAPHQL_URL = os.environ["SESSIONHUB_FUZZ_GRAPHQL_URL"]
IDENTITY_TOKEN = os.environ["SESSIONHUB_FUZZ_IDENTITY_TOKEN"]

START_SESSION = """
mutation Start($input: StartSessionInput!) {
  startSession(input: $input) { token deviceToken }
}
"""

# What a message shows when internals leak: SQL, driver or ORM names, source paths,
# panics and backtraces.
LEAK = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE)\b.*\b(FROM|INTO|SET|WHERE)\b"
    r"|sqlx|sea_orm|sqlite|postgres|\.rs:\d+|panicked|backtrace",
    re.IGNORECASE,
)


@schemathesis.auth(refresh_interval=None)
class FreshSession:
    """A new session for every case, all on one device of one user."""

    def __init__(self):
        self.device_token = None

    def get(self, case, context):
        if case.operation.label == "Mutation.startSession":
            return IDENTITY_TOKEN
        body = self.start_session()
        if not body.get("data") and self.device_token is not None:
            # An earlier case may have flagged this device hijacked (ids from earlier
            # answers are reused as arguments): carry on from a new device.
            self.device_token = None
            body = self.start_session()
        if not body.get("data"):
            raise RuntimeError(f"could not start a session for the next case: {body}")
        started = body["data"]["startSession"]
        self.device_token = started["deviceToken"]
        return started["token"]

    def start_session(self):
        response = requests.post(
            GRAPHQL_URL,
            json={"query": START_SESSION, "variables": {"input": {"deviceToken": self.device_token}}},
            headers={"Authorization": f"Bearer {IDENTITY_TOKEN}"},
            timeout=10,
        )
        return response.json()

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.check
def sessionhub_contract(ctx, response, case):
    """No 5xx; every error has a code, none is INTERNAL, none leaks internals."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    body = response.json()
    if not isinstance(body, dict):
        raise AssertionError(f"the answer is not a JSON object: {response.text[:500]}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        message = error.get("message", "")
        if not code:
            raise AssertionError(f"an error without extensions.code: {error}")
        if code == "INTERNAL":
            raise AssertionError(f"INTERNAL error: {error}")
        if LEAK.search(message):
            raise AssertionError(f"an error message shows internals: {message}")


@schemathesis.check
def sessionhub_rest_contract(ctx, response, case):
    """No 5xx; a JSON object; a refusal carries Sessionhub's code (Ruuvi's `sub_code`,
    the others' `code`), never INTERNAL, and no message that leaks internals."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    if case.method.upper() == "OPTIONS":
        # A CORS preflight, answered by the CORS layer for every path, without a body.
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(
            f"HTTP {response.status_code} {case.method} {case.formatted_path}: not JSON: {response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise AssertionError(f"the answer is not a JSON object: {response.text[:500]}")
    if response.status_code < 400:
        return
    code = body.get("sub_code") if body.get("result") == "error" else body.get("code")
    if not code:
        raise AssertionError(f"a refusal without Sessionhub's code: {body}")
    if code == "INTERNAL":
        raise AssertionError(f"INTERNAL error: {body}")
    message = str(body.get("error") or body.get("message") or "")
    if LEAK.search(message):
        raise AssertionError(f"an error message shows internals: {message}")
