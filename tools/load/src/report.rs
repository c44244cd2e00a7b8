//! The markdown the tool prints: one row per scenario and server, the targets as
//! ratios of this run, and a loud list of whatever made a run invalid.

use std::time::Duration;

use crate::{
    fanout::Fanout,
    housekeeping::{self, Housekeeping},
    idle::IdleSockets,
    rounds::Rounds,
    scenario::Measured,
    scenario::Scenario,
};

/// Share of its one core above which the tool, not the server, limits the rate.
const TOOL_BOUND: f64 = 0.9;
/// The speed issue's targets for the websocket scenarios.
const FANOUT_TARGET_MS: f64 = 100.0;
const IDLE_TARGET_KIB: f64 = 16.0;
/// One change heard on another instance: NOTIFY measured p99 8.1 ms, Redis 9.1 ms
/// (docs/performance.md); a user sees a push this quick as instant.
const ROUND_TARGET_MS: f64 = 25.0;

/// A server's label in the websocket table, where the column is always there.
fn shown(label: &str) -> &str {
    if label.is_empty() {
        "the server"
    } else {
        label
    }
}

fn met(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}

/// What the processes used while a scenario ran.
pub struct Usage {
    pub server_cpu: Option<f64>,
    pub tool_cpu: Option<f64>,
    pub resident_mib: Option<f64>,
}

/// The rows so far, and what went wrong.
pub struct Report {
    compared: bool,
    /// Requests per second of the server under test, by scenario.
    rates: Vec<(Scenario, f64)>,
    /// The baseline's rate of the scenario being measured, for the ratio.
    baseline_rate: Option<f64>,
    failed: Vec<String>,
    tool_bound: Vec<String>,
}

fn or_unknown<T>(value: Option<T>, show: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "?".to_owned(), show)
}

impl Report {
    /// Prints the table's head; `compared` adds the server column and the ratio.
    pub fn new(compared: bool) -> Self {
        if compared {
            println!(
                "| scenario | server | req/s | vs baseline | p50 | p99 | errors | server CPU per request | load tool CPU | server RSS |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|");
        } else {
            println!(
                "| scenario | req/s | p50 | p99 | errors | server CPU per request | load tool CPU | server RSS |"
            );
            println!("|---|---|---|---|---|---|---|---|");
        }
        Self {
            compared,
            rates: Vec::new(),
            baseline_rate: None,
            failed: Vec::new(),
            tool_bound: Vec::new(),
        }
    }

    /// One scenario's run on the server `label` (the baseline runs first).
    pub fn row(
        &mut self,
        scenario: Scenario,
        label: &str,
        baseline: bool,
        measured: &Measured,
        usage: &Usage,
        duration: Duration,
    ) {
        let rate = measured.per_second();
        let tool_share = usage.tool_cpu.map(|cpu| cpu / duration.as_secs_f64());
        let per_request = or_unknown(usage.server_cpu, |cpu| {
            format!("{:.0} µs", cpu * 1e6 / measured.count().max(1) as f64)
        });
        let rest = format!(
            "{:.2} ms | {:.2} ms | {} | {per_request} | {} | {} |",
            measured.percentile_ms(0.50),
            measured.percentile_ms(0.99),
            measured.errors,
            or_unknown(tool_share, |share| format!("{:.0}%", share * 100.0)),
            or_unknown(usage.resident_mib, |mib| format!("{mib:.1} MiB")),
        );
        let name = scenario.name();
        if !self.compared {
            println!("| `{name}` | {rate:.0} | {rest}");
        } else if baseline {
            self.baseline_rate = Some(rate);
            println!("| `{name}` | {label} | {rate:.0} | | {rest}");
        } else {
            let ratio = or_unknown(self.baseline_rate.take(), |base| {
                format!("×{:.2}", rate / base.max(f64::MIN_POSITIVE))
            });
            println!("| `{name}` | {label} | {rate:.0} | {ratio} | {rest}");
        }
        let which = if label.is_empty() {
            name.to_owned()
        } else {
            format!("{name} ({label})")
        };
        if let Some(example) = &measured.first_error {
            self.failed.push(format!(
                "{which}: {} errors, e.g. {example}",
                measured.errors
            ));
        }
        if tool_share.is_some_and(|share| share > TOOL_BOUND) {
            self.tool_bound.push(which);
        }
        if !baseline {
            self.rates.push((scenario, rate));
        }
    }

    /// The speed issue's ratio targets, from this run's rates of the server under test.
    pub fn targets(&self) {
        let rate = |wanted: Scenario| {
            self.rates
                .iter()
                .find(|(scenario, _)| *scenario == wanted)
                .map(|(_, rate)| *rate)
        };
        let targets = [
            (Scenario::Typename, Scenario::TypenameAnon, 0.70),
            (Scenario::Heartbeat, Scenario::Typename, 0.50),
            (Scenario::Devices, Scenario::Typename, 0.40),
        ];
        let mut printed = false;
        for (scenario, reference, target) in targets {
            let (Some(rate), Some(base)) = (rate(scenario), rate(reference)) else {
                continue;
            };
            if !printed {
                println!("\n| target | this run | met |\n|---|---|---|");
                printed = true;
            }
            let ratio = rate / base.max(f64::MIN_POSITIVE);
            println!(
                "| `{}` ≥ {:.0}% of `{}` | {:.0}% | {} |",
                scenario.name(),
                target * 100.0,
                reference.name(),
                ratio * 100.0,
                met(ratio >= target)
            );
        }
    }

    /// The background jobs' passes over `due` planted rows of each kind, per server (the
    /// first is the one compared with).
    pub fn housekeeping(&self, due: u64, servers: &[(&str, Housekeeping)]) {
        println!(
            "\n| background job ({due} planted rows of each kind) | server | rows done | passes | time | vs {} | an idle pass before |\n|---|---|---|---|---|---|---|",
            servers.first().map_or("baseline", |(label, _)| label)
        );
        for (index, (name, _)) in housekeeping::JOBS.iter().enumerate() {
            let first = servers.first().map(|(_, jobs)| jobs.due_work[index]);
            for (label, jobs) in servers {
                let time = jobs.due_work[index];
                println!(
                    "| `{name}` | {label} | {} | {} | {:.0} ms | {} | {} |",
                    jobs.rows[index],
                    jobs.due_runs[index],
                    time.as_secs_f64() * 1000.0,
                    or_unknown(first, |first| format!(
                        "×{:.2}",
                        time.as_secs_f64() / first.as_secs_f64().max(f64::MIN_POSITIVE)
                    )),
                    or_unknown(jobs.idle_pass[index], |idle| format!(
                        "{:.2} ms",
                        idle.as_secs_f64() * 1000.0
                    )),
                );
            }
        }
    }

    /// Starts the table of the websocket scenarios.
    pub fn live_header(&self) {
        println!(
            "\n| websocket scenario | server | measured | target | met |\n|---|---|---|---|---|"
        );
    }

    /// One `revoke-fanout` on the server `label`.
    pub fn fanout(&mut self, label: &str, fanout: &Fanout) {
        let label = shown(label);
        let last_ms = fanout.last_told_after_answer.as_secs_f64() * 1000.0;
        println!(
            "| `revoke-fanout`: {} subscribers of one account on {} instance(s), the last `signedOut` after the answer (revokeAllSessions took {:.1} ms; {} told) | {label} | {last_ms:.1} ms | ≤ {FANOUT_TARGET_MS} ms | {} |",
            fanout.subscribers,
            fanout.instances,
            fanout.answered_after.as_secs_f64() * 1000.0,
            fanout.told,
            met(last_ms <= FANOUT_TARGET_MS),
        );
        if fanout.told < fanout.subscribers {
            self.failed.push(format!(
                "revoke-fanout ({label}): {} sockets were never told",
                fanout.subscribers - fanout.told
            ));
        }
    }

    /// One push-rounds scenario (`sign-out-push`, `push-after-subscribe`) on the server
    /// `label`: its p99 against the target; a lost event fails the run.
    pub fn rounds(&mut self, label: &str, scenario: &str, rounds: &Rounds) {
        let label = shown(label);
        let ms = |fraction: f64| rounds.percentile(fraction).as_secs_f64() * 1000.0;
        let p99 = ms(0.99);
        println!(
            "| `{scenario}`: {} rounds, a change through the first of {} instance(s) heard on the last (median {:.1} ms, worst {:.1} ms, {} lost) | {label} | p99 {p99:.1} ms | ≤ {ROUND_TARGET_MS} ms | {} |",
            rounds.delays.len() + rounds.lost,
            rounds.instances,
            ms(0.5),
            ms(1.0),
            rounds.lost,
            met(p99 <= ROUND_TARGET_MS),
        );
        if rounds.lost > 0 {
            self.failed.push(format!(
                "{scenario} ({label}): {} events never arrived",
                rounds.lost
            ));
        }
    }

    /// One `idle-sockets` on the server `label`.
    pub fn idle(&self, label: &str, idle: &IdleSockets) {
        let label = shown(label);
        let per_socket = idle.kib_per_socket();
        println!(
            "| `idle-sockets`: {} sockets subscribed to `{}`, server RSS per socket ({:.1} → {:.1} MiB) | {label} | {per_socket:.1} KiB | ≤ {IDLE_TARGET_KIB} KiB | {} |",
            idle.sockets,
            idle.subscriptions.join("`, `"),
            idle.resident_before_mib,
            idle.resident_after_mib,
            met(per_socket <= IDLE_TARGET_KIB),
        );
    }

    /// Says what made runs invalid or tool-bound; an error when any run had errors.
    pub fn finish(self) -> anyhow::Result<()> {
        if !self.tool_bound.is_empty() {
            eprintln!(
                "\nNOTE: the load tool used most of its core in {}: there the rate is the tool's \
                 limit, not the server's (compare the server's CPU per request instead).",
                self.tool_bound.join(", ")
            );
        }
        if !self.failed.is_empty() {
            eprintln!("\nERRORS: these runs are not valid measurements:");
            for line in &self.failed {
                eprintln!("  {line}");
            }
            anyhow::bail!("{} run(s) had errors", self.failed.len());
        }
        Ok(())
    }
}
