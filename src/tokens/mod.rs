//! The two kinds of JWT the service handles: identity tokens it verifies (minted by the
//! product's own login) and session tokens it issues itself.
//!
//! Time claims are checked against the injected [`Clock`](crate::clock::Clock) rather than
//! the library's wall clock, so tests can expire tokens without sleeping. Where the keys
//! come from is [`keys`].

mod keys;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use keys::KeyError;

/// `typ` header of session tokens. Identity tokens never carry it, so neither kind of
/// token can be passed off as the other (RFC 8725 §3.11, explicit typing).
pub const SESSION_TOKEN_TYPE: &str = "sessionhub-session+jwt";
const SESSION_TOKEN_ISSUER: &str = "sessionhub";
/// Allowed clock difference between the login system and us, in seconds.
const LEEWAY_SECONDS: i64 = 30;
const MAX_USER_ID_LEN: usize = 255;
/// Longest login method (`amr` joined with `+`) a session records.
const MAX_LOGIN_METHOD_CHARS: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature or algorithm is not accepted")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer or audience is not accepted")]
    WrongIssuerOrAudience,
    #[error("the token's subject is missing, too long or not printable")]
    BadSubject,
    #[error("the token's amr must be short, printable method names")]
    BadMethods,
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(error: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::InvalidKeyFormat => TokenError::BadSignature,
            ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                TokenError::WrongIssuerOrAudience
            }
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            _ => TokenError::Malformed,
        }
    }
}

/// Who the product's login says the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    /// Authentication methods (`amr`), e.g. `["pwd", "otp"]`.
    pub amr: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IdentityClaims {
    sub: String,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionTokenClaims {
    sub: String,
    sid: Uuid,
    iss: String,
    iat: i64,
    exp: i64,
}

/// Whether `user_id` is one Sessionhub can store: 1 to 255 bytes, no control characters.
pub fn is_valid_user_id(user_id: &str) -> bool {
    !user_id.is_empty()
        && user_id.len() <= MAX_USER_ID_LEN
        && !user_id.chars().any(char::is_control)
}

/// Verifies and issues tokens with the configured keys.
pub struct TokenKeys {
    /// Every key that may have signed an identity token, all of one pinned algorithm.
    identity_keys: Vec<DecodingKey>,
    identity_validation: Validation,
    /// Present only with an HS256 identity secret: lets `sessionhub token` mint test identities.
    identity_signing_key: Option<EncodingKey>,
    session_encoding: EncodingKey,
    /// The signing secret first, then older ones still accepted while keys roll.
    session_decoding: Vec<DecodingKey>,
    session_validation: Validation,
    /// SHA-256 of each operator key of the admin API; empty when it is not served.
    admin_key_digests: Vec<[u8; 32]>,
    /// True when any key came from the generated development file.
    pub uses_development_keys: bool,
}

impl TokenKeys {
    /// Whether operator keys are configured, so the admin API is served.
    pub fn admin_api_enabled(&self) -> bool {
        !self.admin_key_digests.is_empty()
    }

    /// The id of the operator key `key` is (the first 8 hex digits of its SHA-256, which
    /// logs and the security log may show), or `None` when it is none of them. Digests are
    /// compared, not keys, so a comparison's timing says nothing of a key's bytes.
    pub fn verify_admin_key(&self, key: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        self.admin_key_digests.contains(&digest).then(|| {
            digest[..4]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        })
    }

    /// Whether the token's header declares it a session token. Says nothing of its validity.
    pub fn is_session_token(token: &str) -> Result<bool, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        Ok(header.typ.as_deref() == Some(SESSION_TOKEN_TYPE))
    }

    pub fn verify_identity(&self, token: &str, now: DateTime<Utc>) -> Result<Identity, TokenError> {
        if Self::is_session_token(token)? {
            return Err(TokenError::BadSignature);
        }
        let claims: IdentityClaims =
            decode_with_any(token, &self.identity_keys, &self.identity_validation)?;
        check_time_window(now, claims.exp, claims.nbf)?;
        if !is_valid_user_id(&claims.sub) {
            return Err(TokenError::BadSubject);
        }
        // Stored joined with `+` as the session's login method.
        let methods_fit = claims.amr.join("+").chars().count() <= MAX_LOGIN_METHOD_CHARS;
        let methods_printable = claims.amr.iter().all(|method| {
            !method.is_empty() && !method.contains('+') && !method.chars().any(char::is_control)
        });
        if !methods_fit || !methods_printable {
            return Err(TokenError::BadMethods);
        }
        Ok(Identity {
            user_id: claims.sub,
            amr: claims.amr,
        })
    }

    /// Mints an identity token, as the product's login would; only with an HS256 identity secret.
    pub fn mint_identity(
        &self,
        identity: &Identity,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Option<String> {
        let key = self.identity_signing_key.as_ref()?;
        let claims = IdentityClaims {
            sub: identity.user_id.clone(),
            exp: (now + ttl).timestamp(),
            nbf: None,
            iat: Some(now.timestamp()),
            iss: issuer,
            aud: audience,
            amr: identity.amr.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key).ok()
    }

    pub fn issue_session(
        &self,
        user_id: &str,
        session_id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(SESSION_TOKEN_TYPE.to_owned());
        let claims = SessionTokenClaims {
            sub: user_id.to_owned(),
            sid: session_id,
            iss: SESSION_TOKEN_ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        jsonwebtoken::encode(&header, &claims, &self.session_encoding)
            .expect("HS256 signing of a serialisable claim set cannot fail")
    }

    pub fn verify_session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Uuid), TokenError> {
        if !Self::is_session_token(token)? {
            return Err(TokenError::BadSignature);
        }
        let claims: SessionTokenClaims =
            decode_with_any(token, &self.session_decoding, &self.session_validation)?;
        check_time_window(now, claims.exp, None)?;
        Ok((claims.sub, claims.sid))
    }
}

/// The claims of `token` if any of `keys` verifies it. Only configured keys are tried: a
/// `kid`, `jku` or `x5u` in the header never makes us look a key up elsewhere.
fn decode_with_any<T: serde::de::DeserializeOwned>(
    token: &str,
    keys: &[DecodingKey],
    validation: &Validation,
) -> Result<T, TokenError> {
    for key in keys {
        match jsonwebtoken::decode::<T>(token, key, validation) {
            Ok(data) => return Ok(data.claims),
            Err(error) if TokenError::from(error.clone()) == TokenError::BadSignature => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(TokenError::BadSignature)
}

fn check_time_window(now: DateTime<Utc>, exp: i64, nbf: Option<i64>) -> Result<(), TokenError> {
    let now = now.timestamp();
    if exp + LEEWAY_SECONDS <= now {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}
