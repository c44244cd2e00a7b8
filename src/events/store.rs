//! The event tables' one owner: every statement on `account_events` and
//! `account_cursors` is here. The service decides what to record and when; this writes the
//! events with their positions, and reads them back for delivery, for the security log
//! and for webhooks.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{account_cursor, account_event, session};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use super::{AccountEvent, AccountHead};

/// How many events one read replays; a longer gap takes several.
pub(super) const PAGE: u64 = 256;
/// How many accounts one read of positions asks for.
const HEADS_PER_READ: usize = 500;

/// The position of `user_id`'s latest committed event; 0 before the first.
pub(super) async fn head(db: &DatabaseConnection, user_id: &str) -> Result<i64, DbErr> {
    Ok(account_cursor::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map_or(0, |cursor| cursor.last_seq))
}

/// The positions of the latest committed events of `user_ids`, for those that have any.
pub(super) async fn heads(
    db: &DatabaseConnection,
    user_ids: &[String],
) -> Result<HashMap<String, i64>, DbErr> {
    let mut heads = HashMap::with_capacity(user_ids.len());
    for chunk in user_ids.chunks(HEADS_PER_READ) {
        let cursors = account_cursor::Entity::find()
            .filter(account_cursor::Column::UserId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        heads.extend(
            cursors
                .into_iter()
                .map(|cursor| (cursor.user_id, cursor.last_seq)),
        );
    }
    Ok(heads)
}

/// Up to [`PAGE`] of `user_id`'s events after position `after`, oldest first, each with
/// the session it is about as it stands now: one read, however many subscribers will
/// receive them.
pub(super) async fn after(
    db: &DatabaseConnection,
    user_id: &str,
    after: i64,
) -> Result<Vec<AccountEvent>, DbErr> {
    Ok(account_event::Entity::find()
        .find_also_related(session::Entity)
        .filter(account_event::Column::UserId.eq(user_id))
        .filter(account_event::Column::Seq.gt(after))
        .order_by_asc(account_event::Column::Seq)
        .limit(PAGE)
        .all(db)
        .await?
        .into_iter()
        .map(|(record, session)| AccountEvent { record, session })
        .collect())
}

/// Takes `user_id`'s cursor row lock now rather than at commit, so that a change which
/// decides on what the account has (the session cap, "was this you?") runs alone among
/// the account's writers. On SQLite every writer is alone already (`BEGIN IMMEDIATE`).
pub async fn lock_account(txn: &DatabaseTransaction, user_id: &str) -> Result<(), DbErr> {
    account_cursor::Entity::insert(account_cursor::ActiveModel {
        user_id: Set(user_id.to_owned()),
        last_seq: Set(0),
    })
    .on_conflict(
        OnConflict::column(account_cursor::Column::UserId)
            .value(
                account_cursor::Column::LastSeq,
                Expr::col((account_cursor::Entity, account_cursor::Column::LastSeq)),
            )
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Writes `rows` into `txn`, each account's with the next positions of that account in
/// the order they were recorded, and returns each account's new head. The cursor row stays
/// locked until `txn` ends, so another transaction writing the same account's events waits
/// here and commits after this one: positions follow commit order. Accounts are taken in
/// one order, so two transactions can never each hold the cursor the other waits for.
pub async fn append(
    txn: &DatabaseTransaction,
    mut rows: Vec<account_event::Model>,
) -> Result<Vec<AccountHead>, DbErr> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows.iter() {
        *counts.entry(row.user_id.clone()).or_default() += 1;
    }
    let mut heads = Vec::with_capacity(counts.len());
    let mut next: BTreeMap<String, i64> = BTreeMap::new();
    for (user_id, count) in counts {
        let cursor = account_cursor::Entity::insert(account_cursor::ActiveModel {
            user_id: Set(user_id.clone()),
            last_seq: Set(count),
        })
        .on_conflict(
            OnConflict::column(account_cursor::Column::UserId)
                .value(
                    account_cursor::Column::LastSeq,
                    Expr::col((account_cursor::Entity, account_cursor::Column::LastSeq)).add(count),
                )
                .to_owned(),
        )
        .exec_with_returning(txn)
        .await?;
        next.insert(user_id.clone(), cursor.last_seq - count + 1);
        heads.push(AccountHead {
            user_id,
            seq: cursor.last_seq,
        });
    }
    for row in rows.iter_mut() {
        let seq = next
            .get_mut(&row.user_id)
            .expect("every account was counted");
        row.seq = *seq;
        *seq += 1;
    }
    if !rows.is_empty() {
        account_event::Entity::insert_many(
            rows.into_iter()
                .map(|row| row.into_active_model().reset_all()),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(heads)
}

/// Where a page of the security log starts: just after this event in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    pub occurred_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Up to `limit` of `user_id`'s events after `after`, newest first. Ties in time are
/// broken by id, so pages never skip or repeat an event.
pub async fn page(
    db: &impl ConnectionTrait,
    user_id: &str,
    limit: u64,
    after: Option<LogPosition>,
) -> Result<Vec<account_event::Model>, DbErr> {
    let mut query = account_event::Entity::find().filter(account_event::Column::UserId.eq(user_id));
    if let Some(after) = after {
        query = query.filter(
            Condition::any()
                .add(account_event::Column::OccurredAt.lt(after.occurred_at))
                .add(
                    Condition::all()
                        .add(account_event::Column::OccurredAt.eq(after.occurred_at))
                        .add(account_event::Column::Id.lt(after.id)),
                ),
        );
    }
    query
        .order_by_desc(account_event::Column::OccurredAt)
        .order_by_desc(account_event::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The events of `ids`, in no order: what webhook deliveries carry.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<account_event::Model>, DbErr> {
    account_event::Entity::find()
        .filter(account_event::Column::Id.is_in(ids))
        .all(db)
        .await
}

/// The events retention deletes: those logged before `cutoff`, by the column retention
/// walks (`occurred_at`, whose index it reads a page of at a time).
pub fn logged_before(cutoff: DateTime<Utc>) -> Condition {
    Condition::all().add(account_event::Column::OccurredAt.lt(cutoff))
}
