//! The keys of the two kinds of token: the product's identity tokens, and the sessions'
//! own.

use std::path::PathBuf;

/// Keys for the two kinds of token. Left unset, development keys are generated and kept
/// in `dev_keys_file`, and the log says so.
#[derive(clap::Args, Clone, Default)]
pub struct KeyConfig {
    /// HS256 secrets (each at least 32 bytes), comma-separated, that verify identity tokens
    /// from the product's login. Several may be given while keys are rolled; the first is
    /// the one `sessionhub token` signs with.
    #[arg(
        long,
        env = "SESSIONHUB_IDENTITY_SECRET",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub identity_secret: Vec<String>,

    /// PEM public keys, comma-separated paths, that verify identity tokens instead of
    /// secrets. Several may be given while keys are rolled.
    #[arg(
        long,
        env = "SESSIONHUB_IDENTITY_PUBLIC_KEY_FILE",
        conflicts_with = "identity_secret",
        value_delimiter = ','
    )]
    pub identity_public_key_file: Vec<PathBuf>,

    /// Algorithm of the public key: RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA.
    #[arg(long, env = "SESSIONHUB_IDENTITY_ALGORITHM", default_value = "RS256")]
    pub identity_algorithm: String,

    /// Required `iss` of identity tokens; not checked when unset.
    #[arg(long, env = "SESSIONHUB_IDENTITY_ISSUER")]
    pub identity_issuer: Option<String>,

    /// Required `aud` of identity tokens; not checked when unset.
    #[arg(long, env = "SESSIONHUB_IDENTITY_AUDIENCE")]
    pub identity_audience: Option<String>,

    /// HS256 secrets (each at least 32 bytes), comma-separated, for session tokens: the
    /// first signs, every one verifies, so a new secret can be put first and the old one
    /// dropped once its tokens have expired, without signing anyone out.
    #[arg(
        long,
        env = "SESSIONHUB_SESSION_SECRET",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub session_secret: Vec<String>,

    /// Operator keys (each at least 32 bytes), comma-separated, for the admin API at
    /// `/admin/graphql`: `Authorization: Bearer <key>`. Unset: no admin API is served.
    /// Several may be given while keys are rolled.
    #[arg(
        long,
        env = "SESSIONHUB_ADMIN_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub admin_keys: Vec<String>,

    /// Where development keys are kept when no keys are configured.
    #[arg(
        long,
        env = "SESSIONHUB_DEV_KEYS_FILE",
        default_value = "sessionhub-dev-keys.json"
    )]
    pub dev_keys_file: PathBuf,
}
