//! The configuration as the process finds it: its declared defaults, the environment on
//! top, and the `SESSIONHUB_*` variables that configure nothing.

use clap::{CommandFactory, FromArgMatches, Parser};

use super::Config;

/// Every setting at its declared default, as if nothing were in the environment or on
/// the command line: the baseline tests and tools adjust, so none of them restates a default.
impl Default for Config {
    fn default() -> Self {
        let command = Settings::command().mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from(["sessionhub"])
            .expect("every setting has a default");
        Config::from_arg_matches(&matches).expect("the defaults parse")
    }
}

impl Config {
    /// The defaults overridden by the environment, for `sessionhub` run with no command;
    /// exits with clap's message when a variable does not parse.
    pub fn from_environment() -> Self {
        Settings::parse_from(["sessionhub"]).config
    }
}

/// [`Config`] alone as a command line, to parse it without a subcommand.
#[derive(Parser)]
struct Settings {
    #[command(flatten)]
    config: Config,
}

/// Variables named `SESSIONHUB_*` that are read, but are not settings of [`Config`]: the
/// log filter, and the test suite's and fuzz runs' own.
const OTHER_VARIABLES: &[&str] = &["SESSIONHUB_LOG"];
const TOOLING_PREFIXES: &[&str] = &["SESSIONHUB_TEST_", "SESSIONHUB_FUZZ_"];

/// A `SESSIONHUB_*` variable that configures nothing, most likely a misspelt setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub name: String,
    /// The known variable it is closest to, when one is close.
    pub did_you_mean: Option<String>,
}

/// The `SESSIONHUB_*` names among `names` that no setting reads: without this, a
/// misspelt variable would be ignored in silence and its default used instead.
pub fn unknown_variables(names: impl IntoIterator<Item = String>) -> Vec<UnknownVariable> {
    let command = Settings::command();
    let known: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .chain(OTHER_VARIABLES.iter().map(|name| (*name).to_owned()))
        .collect();
    let mut unknown: Vec<UnknownVariable> = names
        .into_iter()
        .filter(|name| name.starts_with("SESSIONHUB_"))
        .filter(|name| {
            !TOOLING_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .filter(|name| !known.contains(name))
        .map(|name| UnknownVariable {
            did_you_mean: known
                .iter()
                .map(|candidate| (strsim::levenshtein(&name, candidate), candidate))
                .filter(|(distance, _)| *distance <= 3)
                .min()
                .map(|(_, candidate)| candidate.clone()),
            name,
        })
        .collect();
    unknown.sort_by(|a, b| a.name.cmp(&b.name));
    unknown
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{DEFAULT_DATABASE_URL, DEFAULT_MAX_SESSIONS_PER_USER};

    #[test]
    fn defaults_are_the_declared_ones_whatever_the_environment() {
        let defaults = Config::default();
        assert_eq!(defaults.database.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(
            defaults.max_sessions_per_user,
            DEFAULT_MAX_SESSIONS_PER_USER
        );
        assert_eq!(defaults.idle_timeout, Duration::from_secs(30 * 60));
        assert!(defaults.keys.identity_secret.is_empty());
    }

    #[test]
    fn misspelt_variables_are_reported_with_the_likely_name() {
        let names = [
            "SESSIONHUB_IDLE_TIMOUT",
            "SESSIONHUB_IDLE_TIMEOUT",
            "SESSIONHUB_LOG",
            "SESSIONHUB_TEST_POSTGRES_URL",
            "SESSIONHUB_SOMETHING_ELSE_ENTIRELY",
            "DATABASE_URL",
            "PATH",
        ]
        .map(String::from);
        assert_eq!(
            unknown_variables(names),
            [
                UnknownVariable {
                    name: "SESSIONHUB_IDLE_TIMOUT".into(),
                    did_you_mean: Some("SESSIONHUB_IDLE_TIMEOUT".into()),
                },
                UnknownVariable {
                    name: "SESSIONHUB_SOMETHING_ELSE_ENTIRELY".into(),
                    did_you_mean: None,
                },
            ]
        );
    }
}
