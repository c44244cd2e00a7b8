//! Every rule on input a client sends: what is refused with BAD_USER_INPUT, and what is
//! cut to size instead. Values that pass fit their columns on both databases.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::{ServiceResult, bad_input};

// Each limit the API documents is a macro that expands to its number, so the doc
// comments of the schema (which take only literals) state it from the same source:
// `#[doc = concat!("At most ", max_device_name_chars!(), " characters.")]`.

macro_rules! max_device_name_chars {
    () => {
        100
    };
}
macro_rules! max_user_agent_bytes {
    () => {
        1024
    };
}
macro_rules! max_metadata_kib {
    () => {
        4
    };
}
pub(crate) use {max_device_name_chars, max_metadata_kib, max_user_agent_bytes};

/// Longest accepted device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = max_device_name_chars!();
/// Longest accepted user agent, in bytes; real ones are a few hundred.
pub const MAX_USER_AGENT_BYTES: usize = max_user_agent_bytes!();
/// Largest accepted device metadata, serialised, in bytes.
pub const MAX_METADATA_BYTES: usize = max_metadata_kib!() * 1024;
/// Longest accepted device token; ours are 43 characters.
const MAX_DEVICE_TOKEN_BYTES: usize = 128;

/// A trust expiry: in the future, and at most `max` ahead.
pub fn trust_expiry(
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max: Duration,
) -> ServiceResult<DateTime<Utc>> {
    if expires_at <= now {
        return Err(bad_input("expiresAt must be in the future"));
    }
    if expires_at > now + max {
        return Err(bad_input(format!(
            "expiresAt may be at most {} days ahead",
            max.num_days()
        )));
    }
    Ok(expires_at)
}

/// A device name a person typed: trimmed, non-empty, not too long, printable.
pub fn device_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(bad_input("the device name must not be empty"));
    }
    if name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(bad_input(format!(
            "the device name must be at most {MAX_DEVICE_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(bad_input(
            "the device name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Device metadata: a JSON object of bounded size that PostgreSQL's jsonb can store.
pub fn metadata(metadata: Option<Value>) -> ServiceResult<Option<Value>> {
    let Some(metadata) = metadata else {
        return Ok(None);
    };
    if !metadata.is_object() {
        return Err(bad_input("metadata must be a JSON object"));
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(bad_input(format!(
            "metadata must be at most {MAX_METADATA_BYTES} bytes of JSON"
        )));
    }
    if holds_nul(&metadata) {
        return Err(bad_input("metadata must not contain NUL characters"));
    }
    Ok(Some(metadata))
}

/// Whether any string or key in `value` holds U+0000, which PostgreSQL's jsonb cannot store.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, field)| key.contains('\0') || holds_nul(field)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The user agent to record: the one the client `given` (refused when too long or not
/// printable), else the request's `header`, cut to size rather than refused, since the
/// client may not have chosen it.
pub fn user_agent(given: Option<String>, header: Option<&str>) -> ServiceResult<Option<String>> {
    match given {
        Some(given) if given.len() > MAX_USER_AGENT_BYTES => Err(bad_input(format!(
            "the user agent must be at most {MAX_USER_AGENT_BYTES} bytes"
        ))),
        // A header cannot carry them either, and PostgreSQL cannot store U+0000.
        Some(given) if given.chars().any(char::is_control) => Err(bad_input(
            "the user agent must not contain control characters",
        )),
        Some(given) => Ok(Some(given)),
        None => Ok(header.map(|ua| truncate(ua, MAX_USER_AGENT_BYTES))),
    }
}

/// A device token as a client presents it: never longer than ours can be.
pub fn device_token(token: Option<String>) -> ServiceResult<Option<String>> {
    if token
        .as_ref()
        .is_some_and(|token| token.len() > MAX_DEVICE_TOKEN_BYTES)
    {
        return Err(bad_input("the device token is malformed"));
    }
    Ok(token)
}

fn truncate(text: &str, max_bytes: usize) -> String {
    let mut end = max_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_header_is_cut_at_a_character_boundary_and_a_given_agent_is_refused() {
        let long = "é".repeat(MAX_USER_AGENT_BYTES);
        let cut = user_agent(None, Some(&long)).unwrap().unwrap();
        assert!(cut.len() <= MAX_USER_AGENT_BYTES && cut.len() > MAX_USER_AGENT_BYTES - 2);
        assert!(user_agent(Some(long), None).is_err());
    }

    #[test]
    fn metadata_is_searched_for_nul_itself_not_its_escape() {
        assert!(metadata(Some(json!({ "a": ["x\u{0}"] }))).is_err());
        assert!(metadata(Some(json!({ "k\u{0}": 1 }))).is_err());
        assert!(metadata(Some(json!({ "a": "\\u0000" }))).is_ok());
    }
}
