//! Every statement a request runs reads only its account's rows: on a database holding many
//! other accounts, each statement the service issued is planned by the database itself
//! (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL), and none may scan a table or
//! search an index that does not lead with the account (or a row's own id), but for the
//! housekeeping named in [`HOUSEKEEPING`], which walks a bounded page of a global index.

use chrono::{Duration, Utc};
use entity::{account_event, device, session};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{SAFARI_IPHONE, TestApp};

crate::on_both_databases!(
    configured |config| {
        // Every read goes to the database, as after a restart or an eviction.
        config.session_cache_size = 0;
        config.confirm_new_devices_within = Some(std::time::Duration::from_secs(15 * 60));
    };
    no_request_reads_other_accounts_rows,
);

/// Other accounts on the database: enough that reading theirs shows, few rows each.
const OTHER_ACCOUNTS: usize = 2_000;

/// Statements that look across accounts by design, each over a bounded page of an index
/// that leads with what they look for: (a fragment of the statement, why).
const HOUSEKEEPING: &[(&str, &str)] = &[
    (
        r#""webhook_deliveries""#,
        "the webhook queue is global: each claim takes a bounded page of the due index",
    ),
    (
        r#""account_cursors""#,
        "an account's cursor is found by its primary key, the account itself",
    ),
];

async fn no_request_reads_other_accounts_rows(app: TestApp) {
    seed_other_accounts(&app).await;
    app.statements.capture();
    run_every_request(&app).await;
    let mut seen = std::collections::HashSet::new();
    let statements: Vec<Statement> = app
        .statements
        .captured()
        .into_iter()
        .filter(|statement| seen.insert(statement.sql.clone()) && reads_a_table(&statement.sql))
        .filter(|statement| {
            !HOUSEKEEPING
                .iter()
                .any(|(fragment, _)| statement.sql.contains(fragment))
        })
        .collect();
    assert!(
        statements.len() > 20,
        "only {} statements",
        statements.len()
    );
    // The right plan must not depend on statistics: SQLite never gathers them by itself.
    // Planned without, then with. PostgreSQL without any statistics (a table that grew
    // from empty before autovacuum came by) still takes the live sessions' expiry index
    // for a session by id or device: not yet solved, so it is planned with them only.
    let sqlite = app.db.get_database_backend() == DatabaseBackend::Sqlite;
    for statistics in ["no", "fresh"] {
        if statistics == "no" && !sqlite {
            continue;
        }
        if statistics == "fresh" {
            app.db.execute_unprepared("ANALYZE").await.unwrap();
        }
        let mut offending = Vec::new();
        for statement in &statements {
            if let Some(problem) = plan_problem(&app, statement).await {
                offending.push(format!("{}\n    {problem}", statement.sql));
            }
        }
        assert!(
            offending.is_empty(),
            "with {statistics} statistics, {} statements read beyond their account:\n{}",
            offending.len(),
            offending.join("\n")
        );
    }
}

/// Whether `sql` reads rows: what planning can tell anything about.
fn reads_a_table(sql: &str) -> bool {
    let sql = sql.trim_start().to_ascii_uppercase();
    ["SELECT", "UPDATE", "DELETE", "WITH"]
        .iter()
        .any(|verb| sql.starts_with(verb))
}

/// What is wrong with how the database plans `statement`, if anything.
async fn plan_problem(app: &TestApp, statement: &Statement) -> Option<String> {
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
                .find(|step| !sqlite_step_is_scoped(step))
                .map(|step| {
                    format!("plan: {}", steps.join(" | ")).replace(step, &format!(">>{step}<<"))
                })
        }
        _ => {
            let plan: Value = rows[0].try_get::<Value>("", "QUERY PLAN").unwrap();
            let mut problems = Vec::new();
            postgres_problems(app, &plan[0]["Plan"], &mut problems).await;
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
/// search that starts with an equality on a scoping key (an account, a row, a device).
fn sqlite_step_is_scoped(step: &str) -> bool {
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
    let Some(open) = rest.find('(') else {
        return false;
    };
    let first = rest[open + 1..]
        .split(['=', ' ', '>', '<'])
        .next()
        .unwrap_or_default();
    SCOPING_KEYS.contains(&first)
}

/// Every node of a PostgreSQL plan that reads a table without a scoping key first.
fn postgres_problems<'a>(
    app: &'a TestApp,
    node: &'a Value,
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
                if !SCOPING_KEYS.contains(&leading.as_str()) {
                    problems.push(format!("{kind} on {index}, which leads with {leading}"));
                }
            }
            _ => {}
        }
        if let Some(children) = node["Plans"].as_array() {
            for child in children {
                postgres_problems(app, child, problems).await;
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

/// Accounts other than the test's, each with a device, a live session, an ended one and
/// a few events, written directly.
async fn seed_other_accounts(app: &TestApp) {
    let now = Utc::now();
    for chunk in (0..OTHER_ACCOUNTS).collect::<Vec<_>>().chunks(200) {
        let mut devices = Vec::new();
        let mut sessions = Vec::new();
        let mut events = Vec::new();
        for &n in chunk {
            let user = format!("other-{n}");
            let device_id = Uuid::now_v7();
            devices.push(
                device::Model {
                    id: device_id,
                    user_id: user.clone(),
                    name: "Chrome on macOS".into(),
                    token_hash: Some(format!("{n:064x}")),
                    device_type: device::DeviceType::Desktop,
                    browser_name: Some("Chrome".into()),
                    browser_version: None,
                    os_name: Some("macOS".into()),
                    os_version: None,
                    user_agent: None,
                    ip_address: None,
                    country: None,
                    city: None,
                    status: device::DeviceStatus::Unverified,
                    trust_level: None,
                    trusted_at: None,
                    trust_expires_at: None,
                    metadata: None,
                    created_at: now,
                    last_seen_at: now,
                    forgotten_at: None,
                    sign_in_check: None,
                    sign_in_session_id: None,
                    sign_in_checked_at: None,
                    confirm_by: None,
                }
                .into_active_model(),
            );
            for ended in [false, true] {
                let id = Uuid::now_v7();
                sessions.push(
                    session::Model {
                        id,
                        user_id: user.clone(),
                        device_id,
                        login_method: Some("pwd".into()),
                        ip_address: None,
                        country: None,
                        city: None,
                        started_at: now - Duration::hours(1),
                        last_activity_at: now - Duration::minutes(5),
                        expires_at: now + Duration::hours(1),
                        absolute_expires_at: now + Duration::hours(10),
                        ended_at: ended.then_some(now - Duration::minutes(1)),
                        end_reason: ended.then_some(session::EndReason::Revoked),
                        pending_until: None,
                    }
                    .into_active_model(),
                );
                events.push(
                    account_event::Model {
                        id: Uuid::now_v7(),
                        user_id: user.clone(),
                        seq: events.len() as i64 + 1,
                        kind: account_event::EventKind::SessionStarted,
                        actor_session_id: None,
                        admin_key: None,
                        device_id: Some(device_id),
                        session_id: Some(id),
                        ip_address: None,
                        country: None,
                        city: None,
                        detail: None,
                        occurred_at: now,
                    }
                    .into_active_model(),
                );
            }
        }
        device::Entity::insert_many(devices)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        session::Entity::insert_many(sessions)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
        account_event::Entity::insert_many(events)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
}

/// Every kind of request a user makes, and the server's own housekeeping.
async fn run_every_request(app: &TestApp) {
    let laptop = app.sign_in("alice").await;
    let phone = app.sign_in_with("alice", SAFARI_IPHONE, None).await;
    let laptop = app
        .sign_in_with(
            "alice",
            crate::helpers::CHROME_MAC,
            Some(&laptop.device_token),
        )
        .await;
    let ok = |query: &'static str, variables: Value| {
        let token = laptop.token.clone();
        async move {
            app.graphql(Some(&token), query, variables)
                .await
                .assert_ok();
        }
    };
    ok(
        "{ currentSession { id device { name } } currentDevice { id } }",
        json!({}),
    )
    .await;
    ok(
        "{ devices { id sessions(includeEnded: true) { id } } }",
        json!({}),
    )
    .await;
    ok(
        "{ sessions(includeEnded: true) { id device { id } } }",
        json!({}),
    )
    .await;
    ok(
        "{ newSignIns(includeAnswered: true) { id summary } }",
        json!({}),
    )
    .await;
    ok(
        "{ securityEvents(first: 20) { nodes { kind } } }",
        json!({}),
    )
    .await;
    app.advance(2);
    app.heartbeat(&laptop.token).await;
    ok(
        "mutation($id: ID!) { confirmSignIn(id: $id) { check } }",
        json!({ "id": phone.session_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { trustDevice(id: $id) { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { renameDevice(id: $id, name: \"Mine\") { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { untrustDevice(id: $id) { id } }",
        json!({ "id": laptop.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { revokeSession(id: $id) { id } }",
        json!({ "id": phone.session_id }),
    )
    .await;
    let phone = app
        .sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    ok(
        "mutation($id: ID!) { signOutDevice(id: $id) { revokedCount } }",
        json!({ "id": phone.device_id }),
    )
    .await;
    app.sign_in_with("alice", SAFARI_IPHONE, Some(&phone.device_token))
        .await;
    ok("mutation { revokeAllSessions { revokedCount } }", json!({})).await;
    ok(
        "mutation($id: ID!) { markDeviceHijacked(id: $id) { id } }",
        json!({ "id": phone.device_id }),
    )
    .await;
    ok(
        "mutation($id: ID!) { forgetDevice(id: $id) { deviceId } }",
        json!({ "id": phone.device_id }),
    )
    .await;
    app.sign_out(&laptop.token).await;
}
