//! Filling a database directly, the way years of use would have: many accounts with their
//! devices, ended sessions and security log (`load seed`), so a run measures what a
//! deployment at size pays rather than what a fresh database does; and the housekeeping
//! a pass of the background jobs has to do (`plant_due_work`), the same on any database.
//!
//! Rows go in through the server's own entities, many to a statement and many statements
//! to a transaction; ids are UUIDv7 of the row's own time, as the server makes them.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::{
    account_cursor, account_event,
    account_event::EventKind,
    device::{self, DeviceStatus, DeviceType, TrustLevel},
    session::{self, EndReason},
};
use futures_util::{StreamExt, stream};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    TransactionTrait,
};
use serde_json::json;
use uuid::{NoContext, Timestamp, Uuid};

/// What each seeded account holds: with the defaults, a million accounts are 3M devices,
/// 5M sessions of which 1M live, and 20M security-log entries.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct Shape {
    /// Accounts to add.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: u64,
    /// Devices of each account.
    #[arg(long, default_value_t = 3)]
    pub devices: u64,
    /// Sessions of each account; the newest is live, the others ended within the last
    /// few weeks (inside the default retention, so a retention pass leaves them).
    #[arg(long, default_value_t = 5)]
    pub sessions: u64,
    /// Security-log entries of each account, spread over the last 300 days.
    #[arg(long, default_value_t = 20)]
    pub events: u64,
    /// Transactions written at once: PostgreSQL spreads them over its cores; SQLite has
    /// one writer whatever is asked.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
}

/// Accounts written per transaction.
const ACCOUNTS_PER_TRANSACTION: u64 = 500;
/// Rows per `INSERT`: under SQLite's 32,766 bound parameters for the widest table.
const ROWS_PER_STATEMENT: usize = 1000;

/// How long a seeded live session has left: long enough that no run sees it expire.
const LIVE_FOR: i64 = 30;

/// The browsers seeded devices claim to be, in turn.
const BROWSERS: [(&str, DeviceType, &str, &str, &str); 3] = [
    (
        "Chrome on macOS",
        DeviceType::Desktop,
        "Chrome",
        "macOS",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "Safari on iOS",
        DeviceType::Mobile,
        "Safari",
        "iOS",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    ),
    (
        "Firefox on Windows",
        DeviceType::Desktop,
        "Firefox",
        "Windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
];

/// Adds `shape.accounts` accounts named `seed-<n>` after those already seeded, printing
/// progress, in `shape.writers` concurrent transactions; returns how many the database
/// held before.
pub async fn seed(db: &DatabaseConnection, shape: Shape) -> anyhow::Result<u64> {
    let already = seeded_accounts(db).await?;
    let started = Instant::now();
    let now = Utc::now().trunc_subsecs(6);
    let end = already + shape.accounts;
    let batches = (already..end)
        .step_by(ACCOUNTS_PER_TRANSACTION as usize)
        .map(|first| first..(first + ACCOUNTS_PER_TRANSACTION).min(end));
    let mut written = stream::iter(batches)
        .map(|accounts| async move {
            let mut rows = Rows::default();
            for index in accounts.clone() {
                rows.account(&format!("seed-{index:08}"), shape, now);
            }
            let txn = db.begin().await?;
            rows.insert(&txn).await?;
            txn.commit().await?;
            anyhow::Ok(accounts.end - accounts.start)
        })
        .buffer_unordered(shape.writers.max(1));
    let mut done = 0;
    while let Some(batch) = written.next().await {
        let before = done;
        done += batch?;
        if before / 50_000 != done / 50_000 || done == shape.accounts {
            let rate = done as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "{done} of {} accounts ({rate:.0}/s, {:.0} s left)",
                shape.accounts,
                (shape.accounts - done) as f64 / rate
            );
        }
    }
    Ok(already)
}

/// Accounts a previous `seed` added: seeding again adds after them.
async fn seeded_accounts(db: &DatabaseConnection) -> anyhow::Result<u64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM account_cursors WHERE user_id LIKE 'seed-%'",
        ))
        .await?
        .context("COUNT(*) returns a row")?;
    Ok(row.try_get::<i64>("", "n")? as u64)
}

/// What one pass of each background job finds to do, `count` of each, on accounts of its
/// own (`due-<run>-<n>`): sessions past their expiry but not yet recorded as ended (the
/// sweep), trust past its expiry (the trust sweep), sessions ended and security-log
/// entries older than the default retention (a retention pass: 3 × `count` rows).
pub async fn plant_due_work(db: &DatabaseConnection, count: u64, run: &str) -> anyhow::Result<()> {
    let now = Utc::now().trunc_subsecs(6);
    let mut rows = Rows::default();
    for index in 0..count {
        let user = format!("due-{run}-{index}");
        // Trusted until a minute ago.
        let mut device = new_device(&user, 0, now - Duration::days(200), now);
        device.status = DeviceStatus::Verified;
        device.trust_level = Some(TrustLevel::High);
        device.trusted_at = Some(now - Duration::days(30));
        device.trust_expires_at = Some(now - Duration::minutes(1));
        // Idle past its expiry a minute ago.
        let idle_since = now - Duration::minutes(31);
        let expired = now - Duration::minutes(1);
        rows.session(&device, now - Duration::hours(2), idle_since, expired, None);
        // Ended past the 90-day retention of ended sessions.
        let (long_ago, ended) = (now - Duration::days(120), now - Duration::days(100));
        rows.session(&device, long_ago, long_ago, ended, Some(ended));
        // Past the 365-day retention of the security log.
        for seq in 1..=2 {
            rows.event(
                &device,
                seq,
                EventKind::SessionStarted,
                now - Duration::days(400),
            );
        }
        rows.cursor(&user, 2);
        rows.devices.push(device);
    }
    let txn = db.begin().await?;
    rows.insert(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Rows waiting to be inserted.
#[derive(Default)]
struct Rows {
    devices: Vec<device::Model>,
    sessions: Vec<session::Model>,
    events: Vec<account_event::Model>,
    cursors: Vec<account_cursor::Model>,
}

impl Rows {
    /// One account in `shape`: devices first seen a year ago in turn, sessions of the last
    /// weeks (the newest live), and a security log over the last 300 days.
    fn account(&mut self, user: &str, shape: Shape, now: DateTime<Utc>) {
        let devices: Vec<device::Model> = (0..shape.devices)
            .map(|index| {
                let first_seen = now - Duration::days(365 - 30 * index as i64);
                let last_seen = now - Duration::hours(1 + 24 * index as i64);
                new_device(user, index, first_seen, last_seen)
            })
            .collect();
        for index in 0..shape.sessions {
            let device = &devices[(index % shape.devices) as usize];
            let age = Duration::days(7 * (shape.sessions - index) as i64);
            let started = now - age;
            if index + 1 == shape.sessions {
                let active = now - Duration::minutes(5);
                self.session(
                    device,
                    started,
                    active,
                    now + Duration::days(LIVE_FOR),
                    None,
                );
            } else {
                let ended = started + Duration::hours(3);
                self.session(device, started, started, ended, Some(ended));
            }
        }
        let log_span = Duration::days(300);
        for seq in 1..=shape.events {
            let device = &devices[(seq % shape.devices) as usize];
            let at = now - log_span + log_span * seq as i32 / (shape.events as i32 + 1);
            let kind = [
                EventKind::SessionStarted,
                EventKind::SessionEnded,
                EventKind::DeviceAdded,
            ][(seq % 3) as usize];
            self.event(device, seq as i64, kind, at);
        }
        self.cursor(user, shape.events as i64);
        self.devices.extend(devices);
    }

    /// A session on `device` that expires at `expires` (its lifetime ends then too), live
    /// or `ended`.
    fn session(
        &mut self,
        device: &device::Model,
        started: DateTime<Utc>,
        last_activity: DateTime<Utc>,
        expires: DateTime<Utc>,
        ended: Option<DateTime<Utc>>,
    ) {
        self.sessions.push(session::Model {
            id: id_at(started),
            user_id: device.user_id.clone(),
            device_id: device.id,
            login_method: Some("password".to_owned()),
            ip_address: device.ip_address.clone(),
            country: device.country.clone(),
            city: device.city.clone(),
            started_at: started,
            last_activity_at: last_activity,
            expires_at: expires,
            absolute_expires_at: expires,
            ended_at: ended,
            end_reason: ended.map(|_| EndReason::SignedOut),
            pending_until: None,
        });
    }

    /// Entry `seq` of the device's account's security log.
    fn event(&mut self, device: &device::Model, seq: i64, kind: EventKind, at: DateTime<Utc>) {
        self.events.push(account_event::Model {
            id: id_at(at),
            user_id: device.user_id.clone(),
            seq,
            detail: (kind == EventKind::SessionEnded).then(|| json!({ "reason": "SIGNED_OUT" })),
            kind,
            actor_session_id: None,
            admin_key: None,
            device_id: Some(device.id),
            session_id: None,
            ip_address: device.ip_address.clone(),
            country: device.country.clone(),
            city: device.city.clone(),
            occurred_at: at,
        });
    }

    fn cursor(&mut self, user: &str, last_seq: i64) {
        self.cursors.push(account_cursor::Model {
            user_id: user.to_owned(),
            last_seq,
        });
    }

    /// Inserts every row, parents first.
    async fn insert(self, db: &impl ConnectionTrait) -> anyhow::Result<()> {
        insert_all(db, self.devices).await?;
        insert_all(db, self.sessions).await?;
        insert_all(db, self.events).await?;
        insert_all(db, self.cursors).await
    }
}

/// Device `index` of `user`'s account.
fn new_device(
    user: &str,
    index: u64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
) -> device::Model {
    let (name, device_type, browser, os, user_agent) = BROWSERS[(index % 3) as usize];
    let id = id_at(first_seen);
    device::Model {
        id,
        user_id: user.to_owned(),
        name: name.to_owned(),
        token_hash: Some(format!("{:064x}", id.as_u128())),
        device_type,
        browser_name: Some(browser.to_owned()),
        browser_version: Some("131.0".to_owned()),
        os_name: Some(os.to_owned()),
        os_version: None,
        user_agent: Some(user_agent.to_owned()),
        ip_address: Some(format!("198.51.100.{}", index + 1)),
        country: Some("DE".to_owned()),
        city: Some("Berlin".to_owned()),
        status: DeviceStatus::Unverified,
        trust_level: None,
        trusted_at: None,
        trust_expires_at: None,
        metadata: None,
        created_at: first_seen,
        last_seen_at: last_seen,
        forgotten_at: None,
        sign_in_check: None,
        sign_in_session_id: None,
        sign_in_checked_at: None,
        confirm_by: None,
    }
}

/// Inserts `models`, [`ROWS_PER_STATEMENT`] to a statement.
async fn insert_all<M>(db: &impl ConnectionTrait, models: Vec<M>) -> anyhow::Result<()>
where
    M: IntoActiveModel<<<M as sea_orm::ModelTrait>::Entity as EntityTrait>::ActiveModel>
        + sea_orm::ModelTrait,
    <<M as sea_orm::ModelTrait>::Entity as EntityTrait>::ActiveModel: ActiveModelTrait + Send,
{
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<_> = models
            .by_ref()
            .take(ROWS_PER_STATEMENT)
            .map(IntoActiveModel::into_active_model)
            .collect();
        <M as sea_orm::ModelTrait>::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// A UUIDv7 of the moment `at`, as the server would have made then.
fn id_at(at: DateTime<Utc>) -> Uuid {
    let seconds = at.timestamp().max(0) as u64;
    Uuid::new_v7(Timestamp::from_unix(
        NoContext,
        seconds,
        at.timestamp_subsec_nanos(),
    ))
}
