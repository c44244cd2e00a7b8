//! The seed REST APIs served beside GraphQL for clients that already speak them: which
//! are on, and where each is mounted.

/// One of the REST APIs Sessionhub also speaks (the seeds in `../shared/seeds/`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompatApi {
    /// Flashback's device and session management.
    Flashback,
    /// The laravel-devices package's device API.
    Laravel,
    /// Ruuvi Cloud's session API.
    Ruuvi,
}

impl CompatApi {
    pub const ALL: [CompatApi; 3] = [CompatApi::Flashback, CompatApi::Laravel, CompatApi::Ruuvi];

    /// The name used in configuration, metrics and file names.
    pub fn name(self) -> &'static str {
        match self {
            CompatApi::Flashback => "flashback",
            CompatApi::Laravel => "laravel",
            CompatApi::Ruuvi => "ruuvi",
        }
    }
}

/// Which compatibility APIs are served, and under which path prefixes. None by default:
/// each is a second way into the same accounts, so an operator opts in to it.
#[derive(clap::Args, Clone, Debug)]
pub struct CompatConfig {
    /// Compatibility REST APIs to serve, comma-separated: `flashback`, `laravel`, `ruuvi`.
    /// Unset: none.
    #[arg(
        long,
        env = "SESSIONHUB_COMPAT_APIS",
        value_delimiter = ',',
        value_enum
    )]
    pub compat_apis: Vec<CompatApi>,

    /// Path prefix of the Flashback API.
    #[arg(
        long = "compat-flashback-prefix",
        env = "SESSIONHUB_COMPAT_FLASHBACK_PREFIX",
        default_value = "/compat/flashback"
    )]
    pub flashback_prefix: String,

    /// Path prefix of the laravel-devices API.
    #[arg(
        long = "compat-laravel-prefix",
        env = "SESSIONHUB_COMPAT_LARAVEL_PREFIX",
        default_value = "/compat/laravel"
    )]
    pub laravel_prefix: String,

    /// Path prefix of the Ruuvi Cloud API.
    #[arg(
        long = "compat-ruuvi-prefix",
        env = "SESSIONHUB_COMPAT_RUUVI_PREFIX",
        default_value = "/compat/ruuvi"
    )]
    pub ruuvi_prefix: String,
}

impl CompatConfig {
    /// The APIs served, each with its prefix, in a fixed order.
    pub fn enabled(&self) -> impl Iterator<Item = (CompatApi, &str)> {
        CompatApi::ALL
            .into_iter()
            .filter(|api| self.compat_apis.contains(api))
            .map(|api| (api, self.prefix(api)))
    }

    pub fn prefix(&self, api: CompatApi) -> &str {
        match api {
            CompatApi::Flashback => &self.flashback_prefix,
            CompatApi::Laravel => &self.laravel_prefix,
            CompatApi::Ruuvi => &self.ruuvi_prefix,
        }
    }
}
