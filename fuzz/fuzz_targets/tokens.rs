//! Bearer tokens are the first thing an attacker controls: whatever bytes arrive, token
//! classification and verification must answer (accept or refuse), never panic, and never
//! accept something not signed with our keys.
#![no_main]

use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use sessionhub::{config::KeyConfig, tokens::TokenKeys};

fn keys() -> &'static TokenKeys {
    static KEYS: OnceLock<TokenKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        TokenKeys::load(&KeyConfig {
            identity_secret: vec!["fuzz-identity-secret-of-at-least-32-bytes".into()],
            session_secret: vec!["fuzz-session-secret-of-at-least-32-bytes!".into()],
            identity_algorithm: "RS256".into(),
            identity_issuer: Some("https://login.example".into()),
            identity_audience: Some("sessionhub".into()),
            ..KeyConfig::default()
        })
        .expect("fuzz keys load")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
    let _ = TokenKeys::is_session_token(token);
    // Random bytes can't carry a valid HMAC-SHA256 over them: acceptance would be a forgery.
    assert!(keys().verify_identity(token, now).is_err(), "accepted {token:?}");
    assert!(keys().verify_session(token, now).is_err(), "accepted {token:?}");
});
