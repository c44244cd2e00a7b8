//! The two kinds of JWT the service handles: identity tokens it verifies (minted by the
//! product's own login) and session tokens it issues itself.
//!
//! Time claims are checked against the injected [`Clock`](crate::clock::Clock) rather than
//! the library's wall clock, so tests can expire tokens without sleeping.

use std::{fs, path::Path};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::KeyConfig;

/// `typ` header of session tokens. Identity tokens never carry it, so neither kind of
/// token can be passed off as the other (RFC 8725 §3.11, explicit typing).
pub const SESSION_TOKEN_TYPE: &str = "sessionhub-session+jwt";
const SESSION_TOKEN_ISSUER: &str = "sessionhub";
/// Allowed clock difference between the login system and us, in seconds.
const LEEWAY_SECONDS: i64 = 30;
/// Shortest HMAC secret accepted: 256 bits, as RFC 7518 §3.2 requires for HS256.
const MIN_SECRET_BYTES: usize = 32;
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

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} must be at least {MIN_SECRET_BYTES} bytes long")]
    SecretTooShort(&'static str),
    #[error("unsupported identity algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    #[error("cannot read the identity public key {path}: {reason}")]
    PublicKey { path: String, reason: String },
    #[error("cannot use the development keys file {path}: {reason}")]
    DevKeys { path: String, reason: String },
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
    /// True when any key came from the generated development file.
    pub uses_development_keys: bool,
}

#[derive(Serialize, Deserialize)]
struct DevKeys {
    identity_secret: String,
    session_secret: String,
}

impl TokenKeys {
    pub fn load(config: &KeyConfig) -> Result<Self, KeyError> {
        let needs_dev_identity =
            config.identity_secret.is_empty() && config.identity_public_key_file.is_empty();
        let needs_dev_session = config.session_secret.is_empty();
        let dev_keys = if needs_dev_identity || needs_dev_session {
            Some(load_or_create_dev_keys(&config.dev_keys_file)?)
        } else {
            None
        };
        // The configured secrets, or the development one when none is configured.
        let secrets = |configured: &Vec<String>, pick: fn(&DevKeys) -> &String| match &dev_keys {
            Some(keys) if configured.is_empty() => vec![pick(keys).clone()],
            _ => configured.clone(),
        };

        let (identity_keys, identity_algorithm, identity_signing_key) =
            if config.identity_public_key_file.is_empty() {
                let secrets = secrets(&config.identity_secret, |keys| &keys.identity_secret);
                for secret in &secrets {
                    check_secret_length(secret, "each identity secret")?;
                }
                (
                    secrets
                        .iter()
                        .map(|secret| DecodingKey::from_secret(secret.as_bytes()))
                        .collect(),
                    Algorithm::HS256,
                    secrets
                        .first()
                        .map(|secret| EncodingKey::from_secret(secret.as_bytes())),
                )
            } else {
                let algorithm = parse_algorithm(&config.identity_algorithm)?;
                let keys = config
                    .identity_public_key_file
                    .iter()
                    .map(|path| load_public_key(path, algorithm))
                    .collect::<Result<_, _>>()?;
                (keys, algorithm, None)
            };
        let mut identity_validation = Validation::new(identity_algorithm);
        identity_validation.validate_exp = false;
        identity_validation.validate_nbf = false;
        // A configured issuer or audience must be present, not merely match when present.
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &config.identity_issuer {
            identity_validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &config.identity_audience {
            Some(audience) => {
                identity_validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => identity_validation.validate_aud = false,
        }
        identity_validation.set_required_spec_claims(&required);

        let session_secrets = secrets(&config.session_secret, |keys| &keys.session_secret);
        for secret in &session_secrets {
            check_secret_length(secret, "each session secret")?;
        }
        let signing_secret = &session_secrets[0];
        let mut session_validation = Validation::new(Algorithm::HS256);
        session_validation.validate_exp = false;
        session_validation.set_issuer(&[SESSION_TOKEN_ISSUER]);
        session_validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        session_validation.validate_aud = false;

        Ok(Self {
            identity_keys,
            identity_validation,
            identity_signing_key,
            session_encoding: EncodingKey::from_secret(signing_secret.as_bytes()),
            session_decoding: session_secrets
                .iter()
                .map(|secret| DecodingKey::from_secret(secret.as_bytes()))
                .collect(),
            session_validation,
            uses_development_keys: dev_keys.is_some(),
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
        if claims.sub.is_empty()
            || claims.sub.len() > MAX_USER_ID_LEN
            || claims.sub.chars().any(char::is_control)
        {
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

fn check_secret_length(secret: &str, what: &'static str) -> Result<(), KeyError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(KeyError::SecretTooShort(what));
    }
    Ok(())
}

fn parse_algorithm(name: &str) -> Result<Algorithm, KeyError> {
    let algorithm = name
        .parse::<Algorithm>()
        .map_err(|_| KeyError::UnsupportedAlgorithm(name.to_owned()))?;
    match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            Err(KeyError::UnsupportedAlgorithm(format!(
                "{name} (HMAC keys are given with --identity-secret)"
            )))
        }
        _ => Ok(algorithm),
    }
}

fn load_public_key(path: &Path, algorithm: Algorithm) -> Result<DecodingKey, KeyError> {
    let error = |reason: String| KeyError::PublicKey {
        path: path.display().to_string(),
        reason,
    };
    let pem = fs::read(path).map_err(|e| error(e.to_string()))?;
    let key = match algorithm {
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(&pem),
        _ => DecodingKey::from_rsa_pem(&pem),
    };
    key.map_err(|e| error(e.to_string()))
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn load_or_create_dev_keys(path: &Path) -> Result<DevKeys, KeyError> {
    let error = |reason: String| KeyError::DevKeys {
        path: path.display().to_string(),
        reason,
    };
    if path.exists() {
        let text = fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        return serde_json::from_str(&text).map_err(|e| error(e.to_string()));
    }
    let keys = DevKeys {
        identity_secret: random_secret(),
        session_secret: random_secret(),
    };
    let text = serde_json::to_string_pretty(&keys).map_err(|e| error(e.to_string()))?;
    write_private_file(path, &text).map_err(|e| error(e.to_string()))?;
    tracing::warn!(
        path = %path.display(),
        "no keys configured: generated development keys; configure real keys before production use"
    );
    Ok(keys)
}

#[cfg(unix)]
fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    fs::write(path, text)
}
