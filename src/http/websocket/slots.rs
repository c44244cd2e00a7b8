//! How many subscription connections each session holds, to cap them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

/// How many connections each session has open, to cap them.
pub struct ConnectionSlots {
    open: Mutex<HashMap<Uuid, usize>>,
    per_session: usize,
}

/// One claimed connection; gives its place back when dropped.
pub(super) struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    session_id: Uuid,
}

impl ConnectionSlots {
    pub fn new(per_session: usize) -> Self {
        Self {
            open: Mutex::new(HashMap::new()),
            per_session,
        }
    }

    pub(super) fn claim(self: &Arc<Self>, session_id: Uuid) -> Option<ConnectionSlot> {
        let mut open = self.open.lock().expect("connection slots poisoned");
        let count = open.entry(session_id).or_insert(0);
        if *count >= self.per_session {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            session_id,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("connection slots poisoned");
        if let Some(count) = open.get_mut(&self.session_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.session_id);
            }
        }
    }
}
