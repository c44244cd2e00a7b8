//! Every statement a request runs reads only its account's rows: on a database holding many
//! other accounts, each statement the service issued is planned by the database itself
//! (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL), and none may scan a table or
//! search an index that does not lead with the account (or a row's own id). The background
//! jobs may also walk a bounded page of one of the time indexes in [`HOUSEKEEPING`], never
//! a whole table.

mod workload;

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::Value;
use workload::{run_every_job, run_every_request, seed_other_accounts};

use crate::helpers::TestApp;

crate::on_both_databases!(
    configured |config| {
        // Every read goes to the database, as after a restart or an eviction.
        config.session_cache_size = 0;
        config.confirm_new_devices_within = Some(std::time::Duration::from_secs(15 * 60));
        config.keys.admin_keys = vec![crate::admin::ADMIN_KEY.into()];
        crate::compat::serve_all(config);
    };
    no_request_reads_other_accounts_rows,
);

/// Other accounts on the database: enough that reading theirs shows, few rows each.
const OTHER_ACCOUNTS: usize = 2_000;
/// Other accounts when the background jobs' statements are planned: enough that a job's
/// batch (500 rows) is a small part of each table, as it is at size.
const OTHER_ACCOUNTS_FOR_JOBS: usize = 12_000;

/// Statements left out, each with the reason: (a fragment of the statement, why).
const NOT_PLANNED: &[(&str, &str)] = &[
    (
        r#""webhook_deliveries""#,
        "the webhook queue is global: each claim takes a bounded page of the due index",
    ),
    (
        r#""account_cursors""#,
        "an account's cursor is found by its primary key, the account itself",
    ),
];

/// The time indexes the background jobs walk across accounts, a bounded page per
/// statement: (index, what for).
const HOUSEKEEPING: &[(&str, &str)] = &[
    (
        "idx_sessions_live_expiry",
        "the sweep: live sessions past their expiry",
    ),
    (
        "idx_devices_trust_expiry",
        "the trust sweep: trust past its expiry",
    ),
    (
        "idx_devices_last_seen",
        "retention: devices unseen for long",
    ),
    (
        "idx_devices_forgotten",
        "retention: devices forgotten long ago",
    ),
    ("idx_sessions_ended", "retention: sessions ended long ago"),
    (
        "idx_account_events_time",
        "retention: security-log entries past their horizon",
    ),
    (
        "idx_webhook_deliveries_created",
        "retention: finished webhook deliveries",
    ),
];

async fn no_request_reads_other_accounts_rows(app: TestApp) {
    seed_other_accounts(&app, "other", OTHER_ACCOUNTS).await;
    app.statements.capture();
    run_every_request(&app).await;
    let requests = planned_statements(app.statements.captured());
    assert!(requests.len() > 20, "only {} statements", requests.len());
    app.statements.capture();
    run_every_job(&app).await;
    let jobs = planned_statements(app.statements.captured());
    assert!(jobs.len() > 5, "only {} statements", jobs.len());
    // The jobs ended and deleted most of what there was: the database they are planned on
    // holds many accounts again, as a database the jobs keep tidy does.
    seed_other_accounts(&app, "later", OTHER_ACCOUNTS_FOR_JOBS).await;
    // The right plan must not depend on statistics: SQLite never gathers them by itself,
    // and PostgreSQL's autovacuum comes by a while after a table has grown. Planned
    // without, then with. But for PostgreSQL's background jobs: without any statistics it
    // takes a third of a table for the rows past a horizon and scans for a page of them;
    // the jobs run on tables that grew long ago, which autovacuum has analysed.
    let sqlite = app.db.get_database_backend() == DatabaseBackend::Sqlite;
    for statistics in ["no", "fresh"] {
        if statistics == "fresh" {
            app.db.execute_unprepared("ANALYZE").await.unwrap();
        }
        let jobs: &[Statement] = if statistics == "no" && !sqlite {
            &[]
        } else {
            &jobs
        };
        for (what, statements, walks) in [
            ("requests", &requests[..], &[][..]),
            ("background jobs", jobs, HOUSEKEEPING),
        ] {
            let mut offending = Vec::new();
            for statement in statements {
                if let Some(problem) = plan_problem(&app, statement, walks).await {
                    offending.push(format!("{}\n    {problem}", statement.sql));
                }
            }
            assert!(
                offending.is_empty(),
                "with {statistics} statistics, {} statements of {what} read beyond their account:\n{}",
                offending.len(),
                offending.join("\n")
            );
        }
    }
}

/// The distinct statements of `captured` that read a table, but those of [`NOT_PLANNED`].
fn planned_statements(captured: Vec<Statement>) -> Vec<Statement> {
    let mut seen = std::collections::HashSet::new();
    captured
        .into_iter()
        .filter(|statement| seen.insert(statement.sql.clone()) && reads_a_table(&statement.sql))
        .filter(|statement| {
            !NOT_PLANNED
                .iter()
                .any(|(fragment, _)| statement.sql.contains(fragment))
        })
        .collect()
}

/// Whether `sql` reads rows: what planning can tell anything about.
fn reads_a_table(sql: &str) -> bool {
    let sql = sql.trim_start().to_ascii_uppercase();
    ["SELECT", "UPDATE", "DELETE", "WITH"]
        .iter()
        .any(|verb| sql.starts_with(verb))
}

/// What is wrong with how the database plans `statement`, if anything: a step outside
/// one account, but for a search of one of the indexes `walks` names.
async fn plan_problem(
    app: &TestApp,
    statement: &Statement,
    walks: &[(&str, &str)],
) -> Option<String> {
    let backend = app.db.get_database_backend();
    let explain = match backend {
        DatabaseBackend::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN (FORMAT JSON) ",
    };
    let explained = Statement {
        sql: format!("{explain}{}", statement.sql),
        ..statement.clone()
    };
    let rows = app.db.query_all_raw(explained).await.unwrap();
    match backend {
        DatabaseBackend::Sqlite => {
            let steps: Vec<String> = rows
                .iter()
                .map(|row| row.try_get::<String>("", "detail").unwrap())
                .collect();
            steps
                .iter()
                .find(|step| !sqlite_step_is_scoped(step, walks))
                .map(|step| {
                    format!("plan: {}", steps.join(" | ")).replace(step, &format!(">>{step}<<"))
                })
        }
        _ => {
            let plan: Value = rows[0].try_get::<Value>("", "QUERY PLAN").unwrap();
            let mut problems = Vec::new();
            postgres_problems(app, &plan[0]["Plan"], walks, &mut problems).await;
            (!problems.is_empty()).then(|| problems.join("; "))
        }
    }
}

/// Keys that name one account's rows, or one row.
const SCOPING_KEYS: &[&str] = &["user_id", "id", "device_id", "token_hash", "session_id"];

/// The tables of the schema: a plan step on anything else reads a subquery's rows.
const TABLES: &[&str] = &[
    "sessions",
    "devices",
    "account_events",
    "account_cursors",
    "webhook_deliveries",
];

/// A step of SQLite's plan that stays within an account: one that reads no table, or a
/// search that starts with an equality on a scoping key (an account, a row, a device);
/// or a search of one of the indexes `walks` names.
fn sqlite_step_is_scoped(step: &str, walks: &[(&str, &str)]) -> bool {
    let (scan, rest) = match step.split_once(' ') {
        Some(("SCAN", rest)) => (true, rest),
        Some(("SEARCH", rest)) => (false, rest),
        _ => return true,
    };
    let table = rest.split(' ').next().unwrap_or_default();
    if !TABLES.contains(&table) {
        return true;
    }
    if scan {
        return false;
    }
    if walks
        .iter()
        .any(|(index, _)| rest.contains(&format!("INDEX {index} (")))
    {
        return true;
    }
    let Some(open) = rest.find('(') else {
        return false;
    };
    let first = rest[open + 1..]
        .split(['=', ' ', '>', '<'])
        .next()
        .unwrap_or_default();
    SCOPING_KEYS.contains(&first)
}

/// Every node of a PostgreSQL plan that reads a table without a scoping key first, unless
/// it searches one of the indexes `walks` names.
fn postgres_problems<'a>(
    app: &'a TestApp,
    node: &'a Value,
    walks: &'a [(&str, &str)],
    problems: &'a mut Vec<String>,
) -> futures_util::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        let kind = node["Node Type"].as_str().unwrap_or_default();
        match kind {
            "Seq Scan" => problems.push(format!(
                "Seq Scan on {}",
                node["Relation Name"].as_str().unwrap_or_default()
            )),
            "Index Scan" | "Index Only Scan" | "Bitmap Index Scan" => {
                let index = node["Index Name"].as_str().unwrap_or_default();
                let leading = leading_column(app, index).await;
                let walked = walks.iter().any(|(walked, _)| *walked == index);
                if !walked && !SCOPING_KEYS.contains(&leading.as_str()) {
                    problems.push(format!("{kind} on {index}, which leads with {leading}"));
                }
            }
            _ => {}
        }
        if let Some(children) = node["Plans"].as_array() {
            for child in children {
                postgres_problems(app, child, walks, problems).await;
            }
        }
    })
}

/// The first column of PostgreSQL index `index`.
async fn leading_column(app: &TestApp, index: &str) -> String {
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT a.attname AS name FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE c.relname = $1",
            [index.into()],
        ))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no index {index}"));
    row.try_get::<String>("", "name").unwrap()
}
