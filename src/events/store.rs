//! Reading account events back from their table: what an instance or a feed replays when
//! it missed some, in the order of their positions.

use std::collections::HashMap;

use entity::{account_cursor, account_event, session};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::AccountEvent;

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
