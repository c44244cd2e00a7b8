//! Every statement a request runs reads only its account's rows: on a database holding many
//! other accounts, each statement the service issued is planned by the database itself
//! (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL), and none may scan a table or
//! search an index that does not lead with the account (or a row's own id). The background
//! jobs may also walk a bounded page of one of the time indexes in [`HOUSEKEEPING`], never
//! a whole table.

use chrono::Duration;
use entity::{account_cursor, account_event, device, session};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use sessionhub::clock::Clock;

use crate::{
    admin::{ADMIN_KEY, admin},
    compat::rest,
    helpers::{SAFARI_IPHONE, TestApp},
};

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

/// Accounts other than the test's, each with a device, a live session, an ended one and
/// their two events, written directly.
async fn seed_other_accounts(app: &TestApp, prefix: &str, accounts: usize) {
    let now = app.clock.now();
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(200) {
        let mut devices = Vec::new();
        let mut sessions = Vec::new();
        let mut events = Vec::new();
        let mut cursors = Vec::new();
        for &n in chunk {
            let user = format!("{prefix}-{n}");
            let device_id = Uuid::now_v7();
            devices.push(
                device::Model {
                    id: device_id,
                    user_id: user.clone(),
                    name: "Chrome on macOS".into(),
                    token_hash: Some(format!(
                        "{}{}",
                        Uuid::new_v4().simple(),
                        Uuid::new_v4().simple()
                    )),
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
            for (seq, ended) in [(1, false), (2, true)] {
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
                        // An ended session's expiry has mostly passed too: a planner that
                        // takes the two for independent misjudges the expiry sweep.
                        expires_at: if ended {
                            now - Duration::minutes(1)
                        } else {
                            now + Duration::hours(1)
                        },
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
                        seq,
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
            cursors.push(
                account_cursor::Model {
                    user_id: user.clone(),
                    last_seq: 2,
                }
                .into_active_model(),
            );
        }
        account_cursor::Entity::insert_many(cursors)
            .exec_without_returning(&app.db)
            .await
            .unwrap();
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
    let device = &laptop.device_id;
    for path in [
        "/compat/flashback/devices".to_owned(),
        format!("/compat/flashback/devices/{device}"),
        "/compat/flashback/sessions".to_owned(),
        "/compat/laravel/api/devices".to_owned(),
        format!("/compat/laravel/api/devices/{device}"),
        "/compat/ruuvi/sessions".to_owned(),
    ] {
        rest(app, Method::GET, &path, Some(&laptop.token), None)
            .await
            .expect(StatusCode::OK);
    }
    app.sign_out(&laptop.token).await;
    let bob = app.sign_in("bob").await;
    let bob_again = app.sign_in_with("bob", SAFARI_IPHONE, None).await;
    for (query, variables) in [
        (
            "query($user: String!) { user(id: $user) { devices { id sessions { id } }
               sessions { id } securityEvents(first: 5) { nodes { kind } } } }",
            json!({ "user": "bob" }),
        ),
        (
            "mutation($session: ID!) { revokeUserSession(userId: \"bob\", sessionId: $session) { revokedCount } }",
            json!({ "session": bob_again.session_id }),
        ),
        (
            "mutation($device: ID!) { markUserDeviceHijacked(userId: \"bob\", deviceId: $device) { id } }",
            json!({ "device": bob.device_id }),
        ),
        (
            "mutation { revokeUserSessions(userId: \"bob\") { revokedCount } }",
            json!({}),
        ),
    ] {
        admin(app, Some(ADMIN_KEY), query, variables)
            .await
            .assert_ok();
    }
}

/// A pass of every background job, each with something to do: sessions past their expiry,
/// trust past its expiry, and ended sessions, forgotten devices and log entries past their
/// retention.
async fn run_every_job(app: &TestApp) {
    let carol = app.sign_in("carol").await;
    app.graphql(
        Some(&carol.token),
        "mutation($id: ID!, $until: DateTime!) { trustDevice(id: $id, expiresAt: $until) { id } }",
        json!({ "id": carol.device_id, "until": app.clock.now() + Duration::hours(1) }),
    )
    .await
    .assert_ok();
    app.advance(24 * 60);
    assert!(app.services.sweep_expired_sessions().await.unwrap() > 0);
    assert!(app.services.sweep_lapsed_trust().await.unwrap() > 0);
    app.advance(400 * 24 * 60);
    let report = app.services.apply_retention().await.unwrap();
    assert!(
        report.deleted_sessions > 0 && report.deleted_events > 0,
        "{report:?}"
    );
    assert!(report.forgotten_devices > 0, "{report:?}");
    // The devices it forgot go once their own horizon has passed too.
    app.advance(100 * 24 * 60);
    let again = app.services.apply_retention().await.unwrap();
    assert!(again.deleted_devices > 0, "{again:?}");
}
