//! Loading the keys: configured secrets and public keys, checked when the server starts,
//! or development keys generated once and kept in a private file.

use std::{fs, path::Path};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{SESSION_TOKEN_ISSUER, TokenKeys};
use crate::config::KeyConfig;

/// Shortest HMAC secret accepted: 256 bits, as RFC 7518 §3.2 requires for HS256.
const MIN_SECRET_BYTES: usize = 32;

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

#[derive(Serialize, Deserialize)]
struct DevKeys {
    identity_secret: String,
    session_secret: String,
}

impl TokenKeys {
    /// The keys `config` names, or development keys where it names none.
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
            admin_key_digests: admin_key_digests(&config.admin_keys)?,
            uses_development_keys: dev_keys.is_some(),
        })
    }
}

/// The digests of the configured operator keys, each checked for length.
fn admin_key_digests(keys: &[String]) -> Result<Vec<[u8; 32]>, KeyError> {
    keys.iter()
        .map(|key| {
            check_secret_length(key, "each admin key")?;
            Ok(Sha256::digest(key.as_bytes()).into())
        })
        .collect()
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
