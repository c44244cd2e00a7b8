#!/usr/bin/env python3
"""Attacks on a running server, each printed with what the server answered.

    cargo run &                                   # default limits, SQLite
    python3 docs/attacks.py "$(cargo run -q -- token --user mallory --amr pwd)" \
        "$(cargo run -q -- token --user victim --amr pwd)"

The first identity token is the attacker's own, from the product's login; the second signs
in a victim whose session and device ids the attacker then goes after. Everything else is
forged or crafted here. Python 3 standard library only. SESSIONHUB_URL overrides the
address. Run it on a fresh server: the rate-limit attacks come last and use up the
address's budget for a minute.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("SESSIONHUB_URL", "http://127.0.0.1:8080")
GRAPHQL = f"{BASE}/graphql"


def call(body, token=None, content_type="application/json", method="POST", headers=None):
    """(status, headers, parsed JSON or text) of one request."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(GRAPHQL, data=data if method == "POST" else None, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer_headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, text = error.code, error.headers, error.read()
    try:
        return status, answer_headers, json.loads(text)
    except ValueError:
        return status, answer_headers, text.decode(errors="replace")[:100]


def query(text, token=None, variables=None):
    return call({"query": text, "variables": variables or {}}, token)


def code_of(answer):
    if isinstance(answer, dict) and answer.get("errors"):
        return answer["errors"][0].get("extensions", {}).get("code")
    return "ok" if isinstance(answer, dict) else answer


def report(attack, status, answer, extra=""):
    print(f"- {attack}: HTTP {status} {code_of(answer)}{extra}")


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header, claims, secret=b""):
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{b64(signature)}"


SESSION_FIELDS = "id isCurrent status ipAddress startedAt lastActivityAt expiresAt endedAt endReason loginMethod".split()
DEVICE_FIELDS = ("id name type userAgent isCurrent isTrusted trustLevel trustedAt trustExpiresAt status "
                 "lastSeenAt createdAt ipAddress metadata").split() + ["os { name }", "browser { name }",
                 "location { lc: country lt: city }", "sessions { id }", "sessions(includeEnded: true) { id }"]

START = "mutation($input: StartSessionInput!) { startSession(input: $input) { token deviceToken session { id } device { id } } }"


def start(identity, **input_fields):
    status, _, answer = query(START, identity, {"input": input_fields})
    return status, answer


def main():
    identity = sys.argv[1]
    now = int(time.time())
    status, signed_in = start(identity)
    assert status == 200, signed_in
    mine = signed_in["data"]["startSession"]
    token = mine["token"]
    print(f"# signed in as the attacker: session {mine['session']['id']}")

    print("# Tokens")
    for what, forged in [
        ("identity token with alg none", forge({"alg": "none", "typ": "JWT"}, {"sub": "alice", "exp": now + 300})),
        ("identity token signed with a guessed secret", forge({"alg": "HS256"}, {"sub": "alice", "exp": now + 300}, b"secret" * 6)),
        ("identity token whose jku/x5u/kid point at the attacker's keys", forge(
            {"alg": "HS256", "kid": "attacker", "jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/cert.pem"},
            {"sub": "alice", "exp": now + 300}, b"attacker-controlled-key-32-bytes!")),
        ("session token forged with typ sessionhub-session+jwt", forge(
            {"alg": "HS256", "typ": "sessionhub-session+jwt"}, {"sub": "alice", "sid": mine["session"]["id"], "exp": now + 300, "iss": "sessionhub"}, b"x" * 32)),
    ]:
        status, _, answer = query(START if "identity" in what else "{ sessions { id } }", forged, {"input": {}})
        report(what, status, answer)
    status, _, answer = query("{ sessions { id } }", identity)
    report("identity token used as a session token", status, answer)
    status, _, answer = query(START, token, {"input": {}})
    report("session token used to start another session", status, answer)
    status, _, answer = query("{ sessions { id } }", token[:-4] + "AAAA")
    report("session token with a tampered signature", status, answer)

    print("# Query shape")
    shapes = [
        ("31 aliases, each field once", "{ currentSession { " + " ".join(
            f"s{i}: {field}" for i, field in enumerate(SESSION_FIELDS)) + " } currentDevice { " + " ".join(
            f"d{i}: {field}" for i, field in enumerate(DEVICE_FIELDS)) + " } }"),
        ("one field selected 5,000 times", "{ currentSession { " + "id " * 5000 + "} }"),
        ("21-deep nesting (through introspection, which has no list costs)",
         '{ __type(name: "Session") { ' + "ofType { " * 19 + "name" + " }" * 20 + " }"),
        ("10-deep sessions/device nesting", "{ " + "sessions { device { " * 5 + "id" + " } }" * 5 + " }"),
        ("includeEnded lists nested 3 deep", "{ sessions(includeEnded: true) { device { sessions(includeEnded: true) { device { sessions(includeEnded: true) { id } } } } } }"),
        ("50 @skip directives on one field", "{ currentSession " + "@skip(if: false) " * 50 + "{ id } }"),
        ("fragments nested 40 deep", "{ ...F0 } " + " ".join(
            f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(40)) + " fragment F40 on Query { currentSession { id } }"),
        ("securityEvents(first: 100000)", "{ securityEvents(first: 100000) { edges { cursor } } }"),
        ("securityEvents after a forged cursor", '{ securityEvents(after: "J09SIDE9MQ") { edges { cursor } } }'),
    ]
    for what, text in shapes:
        status, _, answer = query(text, token)
        report(what, status, answer)
    status, _, answer = call([{"query": "mutation { signOut { id } }"}] * 100, token)
    report("batch of 100 signOut mutations", status, answer)
    status, _, answer = call({"query": "{ currentSession { id } }", "pad": "x" * (1 << 20)}, token)
    report("1 MiB body", status, answer)
    status, _, answer = call(b'{"query": "{ currentSession { id }', token)
    report("truncated JSON", status, answer)

    print("# Cross-site and transport")
    status, _, answer = call(json.dumps({"query": "mutation { signOut { id } }"}).encode(), token, content_type="text/plain")
    report("text/plain POST of a mutation (CSRF simple request)", status, answer)
    status, _, answer = call(b"query=mutation%20%7B%20signOut%20%7B%20id%20%7D%20%7D", token, content_type="application/x-www-form-urlencoded")
    report("form POST of a mutation", status, answer)
    request = urllib.request.Request(f"{GRAPHQL}?query=mutation%20%7B%20signOut%20%7B%20id%20%7D%20%7D")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    report("GET with a mutation", status, json.loads(text))
    status, headers, _ = call(b"", method="OPTIONS", content_type=None, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    report("CORS preflight from https://evil.example", status, "",
           f", Access-Control-Allow-Origin: {headers.get('Access-Control-Allow-Origin')}")

    print("# Other people's things and bad input")
    victim = start(sys.argv[2])[1]["data"]["startSession"]
    victim_session, victim_device = victim["session"]["id"], victim["device"]["id"]
    for what, text in [
        ("revoke the victim's session", f'mutation {{ revokeSession(id: "{victim_session}") {{ id }} }}'),
        ("hijack the victim's device", f'mutation {{ markDeviceHijacked(id: "{victim_device}") {{ id }} }}'),
        ("forget the victim's device", f'mutation {{ forgetDevice(id: "{victim_device}") {{ __typename }} }}'),
        ("read the victim's device", f'{{ device(id: "{victim_device}") {{ id }} }}'),
        ("SQL in an id", "mutation { revokeSession(id: \"1' OR '1'='1\") { id } }"),
    ]:
        status, _, answer = query(text, token)
        report(what, status, answer, f", data: {json.dumps(answer.get('data'))}" if isinstance(answer, dict) else "")
    status, _, answer = query("mutation($id: ID!) { renameDevice(id: $id, name: \"'); DROP TABLE sessions; --\") { name } }", token, {"id": mine["device"]["id"]})
    report("SQL in a device name", status, answer, f", stored as {json.dumps(answer.get('data'))}")
    status, answer = start(identity, userAgent="A" * 5000)
    report("5,000-byte user agent", status, answer)
    status, answer = start(identity, metadata={"k": "v" * 10000})
    report("10 KB of metadata", status, answer)
    status, answer = start(identity, deviceToken="not-a-device-token")
    report("unknown device token", status, answer, " (starts a new device)")
    status, _, answer = call({"query": START, "variables": {"input": {}}}, identity, headers={"X-Forwarded-For": "203.0.113.9"})
    ip = None
    if code_of(answer) == "ok":
        session_id = answer["data"]["startSession"]["session"]["id"]
        _, _, seen = query(f'{{ session(id: "{session_id}") {{ ipAddress }} }}', token)
        ip = seen["data"]["session"]["ipAddress"]
    report("X-Forwarded-For: 203.0.113.9 from an untrusted peer", status, answer, f", recorded address {ip}")

    print("# Hijacked devices and ended sessions")
    status, answer = start(identity)
    thief = answer["data"]["startSession"]
    query("mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }", token, {"id": thief["device"]["id"]})
    status, _, answer = query("{ currentSession { id } }", thief["token"])
    report("hijacked device's session token", status, answer)
    status, answer = start(identity, deviceToken=thief["deviceToken"])
    report("sign in again with the hijacked device's token", status, answer)

    print("# Volume")
    signed = [start(identity)[0] for _ in range(15)]
    print(f"- 15 more sign-ins within the minute: {signed.count(200)} x 200, {signed.count(429)} x 429")
    statuses = []
    retry_after = None
    for _ in range(700):
        status, headers, answer = query("{ currentSession { id } }", token)
        statuses.append(status)
        if status == 429 and retry_after is None:
            retry_after = (headers.get("Retry-After"), answer["errors"][0]["extensions"].get("retryAfter"))
    print(f"- 700 requests on one session: {statuses.count(200)} x 200, {statuses.count(429)} x 429 "
          f"(first Retry-After {retry_after[0]}, retryAfter {retry_after[1]})")
    time.sleep(int(retry_after[0]) + 1 if retry_after else 1)
    status, _, answer = query("{ securityEvents(first: 100) { edges { node { kind } } } }", token)
    kinds = [edge["node"]["kind"] for edge in answer["data"]["securityEvents"]["edges"]] if code_of(answer) == "ok" else []
    print(f"- my security log afterwards: SIGN_IN_RATE_LIMITED x {kinds.count('SIGN_IN_RATE_LIMITED')}, "
          f"SESSION_RATE_LIMITED x {kinds.count('SESSION_RATE_LIMITED')} ({code_of(answer)})")
    with urllib.request.urlopen(f"{BASE}/healthz") as response:
        print(f"- /healthz after all of it: HTTP {response.status}")


if __name__ == "__main__":
    main()
