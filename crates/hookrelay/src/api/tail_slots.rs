//! The live tails a node serves at once: [`MAX_TAILS`] in all and [`MAX_TAILS_PER_LICENSE`] per
//! license, so one tenant (or one person's many tabs) cannot take every slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::error::ApiError;

/// How many tails a node serves at once.
pub const MAX_TAILS: usize = 32;
/// How many of them one license may hold.
pub const MAX_TAILS_PER_LICENSE: usize = 8;

/// The tails open on this node, by license.
#[derive(Default)]
pub struct TailSlots {
    open: Mutex<HashMap<String, usize>>,
}

/// One open tail's slot, given back when dropped.
pub struct TailSlot {
    slots: Arc<TailSlots>,
    license_id: String,
}

impl TailSlots {
    /// A slot for a tail of `license_id`, or 429 saying which limit is reached.
    pub fn take(self: &Arc<Self>, license_id: &str) -> Result<TailSlot, ApiError> {
        let mut open = self.open.lock().expect("tail slots");
        if open.values().sum::<usize>() >= MAX_TAILS {
            return Err(ApiError::TooManyRequests(format!(
                "{MAX_TAILS} live tails are open on this server already; close one or try again later"
            )));
        }
        let mine = open.entry(license_id.to_string()).or_default();
        if *mine >= MAX_TAILS_PER_LICENSE {
            return Err(ApiError::TooManyRequests(format!(
                "this license has {MAX_TAILS_PER_LICENSE} live tails open on this server already; close one"
            )));
        }
        *mine += 1;
        Ok(TailSlot {
            slots: self.clone(),
            license_id: license_id.to_string(),
        })
    }
}

impl Drop for TailSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("tail slots");
        if let Some(n) = open.get_mut(&self.license_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.license_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_license_has_its_share_and_the_node_its_total() {
        let slots = Arc::new(TailSlots::default());
        let mine: Vec<TailSlot> = (0..MAX_TAILS_PER_LICENSE)
            .map(|_| slots.take("a").unwrap())
            .collect();
        assert!(slots.take("a").is_err(), "past the license's share");
        let others: Vec<TailSlot> = (0..MAX_TAILS - MAX_TAILS_PER_LICENSE)
            .map(|i| slots.take(&format!("l{i}")).unwrap())
            .collect();
        assert!(slots.take("b").is_err(), "past the node's total");
        drop(mine);
        assert!(slots.take("a").is_ok(), "slots come back when tails close");
        assert_eq!(others.len(), MAX_TAILS - MAX_TAILS_PER_LICENSE);
    }
}
