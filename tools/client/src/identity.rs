//! Identity tokens as the product's own login mints them: a JWT signed with the shared
//! HS256 secret, naming the user (`sub`), how they signed in (`amr`) and when it expires.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// An identity token with `claims` as they are, signed with `secret`: for tokens a test
/// shapes itself (missing or odd claims).
pub fn sign(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("HS256 signs any JSON claims")
}

/// An identity token for `user`, signed in with methods `amr`, that expires at
/// `expires_at` (seconds since 1970).
pub fn for_user(secret: &[u8], user: &str, amr: &[&str], expires_at: i64) -> String {
    sign(
        secret,
        &json!({ "sub": user, "amr": amr, "exp": expires_at }),
    )
}

/// Seconds since 1970 by this machine's clock, `from_now` seconds ahead: an expiry for a
/// server that runs on the real clock.
pub fn seconds_from_now(from_now: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    i64::try_from(now).expect("a clock before 2^63") + from_now
}
