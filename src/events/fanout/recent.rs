//! An account's latest events, kept in memory for feeds that fell behind, so that a burst
//! reaching a thousand subscribers of one account does not cost a thousand replays from
//! the table.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::events::AccountEvent;

/// How many of an account's latest events stay in memory. Events leave after
/// [`RECENT_FOR`] too, so an account's history costs memory only while it is busy.
pub(super) const RECENT_EVENTS: usize = 1024;
const RECENT_FOR: Duration = Duration::from_secs(30);

/// The latest events sent on one account's channel, oldest first, with when they were
/// sent.
#[derive(Default)]
pub(super) struct Recent(VecDeque<(Instant, Arc<AccountEvent>)>);

impl Recent {
    /// Keeps `event`, dropping those too many or too old.
    pub(super) fn remember(&mut self, event: Arc<AccountEvent>) {
        let now = Instant::now();
        while self.0.len() >= RECENT_EVENTS
            || self
                .0
                .front()
                .is_some_and(|(sent, _)| now.duration_since(*sent) > RECENT_FOR)
        {
            self.0.pop_front();
        }
        self.0.push_back((now, event));
    }

    /// The events after position `last`, if memory still holds all of them.
    pub(super) fn after(&self, last: i64) -> Option<Vec<Arc<AccountEvent>>> {
        let (_, oldest) = self.0.front()?;
        if oldest.seq() > last + 1 {
            return None;
        }
        Some(
            self.0
                .iter()
                .filter(|(_, event)| event.seq() > last)
                .map(|(_, event)| event.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::fanout::testing::event;

    #[test]
    fn memory_answers_only_when_it_holds_every_missed_event() {
        let mut recent = Recent::default();
        assert!(recent.after(0).is_none(), "an empty memory holds nothing");
        let count = RECENT_EVENTS as i64 + 10;
        for seq in 1..=count {
            recent.remember(event("y", seq).into());
        }
        // The first ten were pushed out by the cap.
        assert!(recent.after(9).is_none());
        let missed = recent.after(10).expect("11 onwards are held");
        assert_eq!(missed.len(), RECENT_EVENTS);
        assert_eq!(missed.first().map(|event| event.seq()), Some(11));
        assert_eq!(recent.after(count).map(|events| events.len()), Some(0));
    }
}
