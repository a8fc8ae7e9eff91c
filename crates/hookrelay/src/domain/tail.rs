//! The live tail's cursor: which of a license's deliveries a tail has shown, and which of a new
//! look at the store are news (new deliveries, or ones whose state changed since shown).
//!
//! The tail polls the store (every node reads the same rows, so it works across nodes on
//! PostgreSQL) for the license's deliveries with an id above [`TailCursor::floor`], oldest first.
//! The cursor remembers the state it showed of the newest [`WATCHED`] of them: those are looked
//! at again on every poll, so a delivery shows up when it is created and again when an attempt
//! moves it on. The floor stays below the watched ones, so a delivery whose transaction commits
//! a little after one with a higher id (two PostgreSQL nodes ingesting at once) is still seen.
//! Only the deliveries' own index `(license_id, id)` is read: no index on a column that every
//! attempt changes is needed.

use std::collections::BTreeMap;

use super::delivery::{Delivery, DeliveryId, DeliveryStatus};

/// How many of the newest deliveries a tail keeps looking at for changes.
pub const WATCHED: usize = 200;

/// Rows one poll reads at most: the watched ones and as many new ones again (and more).
pub const POLL_LIMIT: usize = 500;

/// What a tail has shown.
#[derive(Debug, Clone, Default)]
pub struct TailCursor {
    /// Deliveries at or below this id are not looked at any more.
    floor: i64,
    /// The state shown of each watched delivery, by id.
    shown: BTreeMap<i64, (DeliveryStatus, i64)>,
}

impl TailCursor {
    /// A tail that shows what happens after the delivery `newest` (none: from the start).
    pub fn after(newest: Option<DeliveryId>) -> TailCursor {
        TailCursor {
            floor: newest.map_or(0, |d| d.0),
            shown: BTreeMap::new(),
        }
    }

    /// A tail taken up again after a reconnection whose last event was about delivery `last`
    /// (its `Last-Event-ID`), when `newest` is the newest now: the [`WATCHED`] deliveries up to
    /// `last` are shown again as they are now (their changes during the gap are not lost),
    /// then everything after. A `last` beyond `newest` (not this license's) starts at `newest`.
    pub fn resumed(last: DeliveryId, newest: Option<DeliveryId>) -> TailCursor {
        let newest = newest.map_or(0, |d| d.0);
        if last.0 > newest {
            return TailCursor::after(Some(DeliveryId(newest)));
        }
        TailCursor::after(Some(DeliveryId((last.0 - WATCHED as i64).max(0))))
    }

    /// The id above which the next poll reads, oldest first, [`POLL_LIMIT`] rows.
    pub fn floor(&self) -> DeliveryId {
        DeliveryId(self.floor)
    }

    /// Takes one poll's rows (ids above the floor, oldest first) and returns those to show:
    /// new ones and ones whose status or attempt count changed since shown.
    pub fn news(&mut self, rows: Vec<Delivery>) -> Vec<Delivery> {
        let mut news = Vec::new();
        for d in rows.into_iter().filter(|d| d.id.0 > self.floor) {
            let state = (d.status, d.attempts);
            if self.shown.insert(d.id.0, state) != Some(state) {
                news.push(d);
            }
        }
        while self.shown.len() > WATCHED {
            if let Some((id, _)) = self.shown.pop_first() {
                self.floor = self.floor.max(id);
            }
        }
        news
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livechat_webhooks::EventType;

    fn d(id: i64, status: DeliveryStatus, attempts: i64) -> Delivery {
        Delivery {
            id: DeliveryId(id),
            event_id: String::new(),
            webhook_id: String::new(),
            event_type: EventType::ChatStarted,
            status,
            attempts,
            next_attempt_at: None,
            last_status_code: None,
            last_error: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn ids(rows: &[Delivery]) -> Vec<i64> {
        rows.iter().map(|d| d.id.0).collect()
    }

    use DeliveryStatus::{Failed, Pending, Succeeded};

    #[test]
    fn new_deliveries_and_changed_ones_are_news_and_unchanged_ones_are_not() {
        let mut c = TailCursor::after(Some(DeliveryId(10)));
        assert_eq!(c.floor(), DeliveryId(10));
        let table: [(Vec<Delivery>, Vec<i64>); 4] = [
            (vec![d(11, Pending, 0), d(12, Pending, 0)], vec![11, 12]),
            (vec![d(11, Pending, 0), d(12, Pending, 1)], vec![12]),
            (
                vec![d(11, Succeeded, 1), d(12, Pending, 1), d(13, Pending, 0)],
                vec![11, 13],
            ),
            (vec![d(9, Failed, 3), d(11, Succeeded, 1)], vec![]),
        ];
        for (i, (rows, expected)) in table.into_iter().enumerate() {
            assert_eq!(ids(&c.news(rows)), expected, "poll {i}");
        }
    }

    #[test]
    fn a_delivery_committed_late_below_a_shown_one_is_still_news() {
        let mut c = TailCursor::after(None);
        assert_eq!(ids(&c.news(vec![d(2, Pending, 0)])), [2]);
        assert_eq!(
            c.floor(),
            DeliveryId(0),
            "the floor stays below watched rows"
        );
        assert_eq!(ids(&c.news(vec![d(1, Pending, 0), d(2, Pending, 0)])), [1]);
    }

    #[test]
    fn the_floor_rises_past_all_but_the_newest_watched_deliveries() {
        let mut c = TailCursor::after(None);
        let rows: Vec<_> = (1..=POLL_LIMIT as i64).map(|i| d(i, Pending, 0)).collect();
        assert_eq!(c.news(rows).len(), POLL_LIMIT);
        let floor = (POLL_LIMIT - WATCHED) as i64;
        assert_eq!(c.floor(), DeliveryId(floor));
        // The next poll reads the watched ones and new ones; older changes are not news.
        let next = vec![
            d(floor, Failed, 1),
            d(floor + 1, Succeeded, 1),
            d(501, Pending, 0),
        ];
        assert_eq!(ids(&c.news(next)), [floor + 1, 501]);
    }

    #[test]
    fn a_resumed_tail_shows_the_watched_deliveries_again_then_what_followed() {
        let c = TailCursor::resumed(DeliveryId(1_000), Some(DeliveryId(1_050)));
        assert_eq!(c.floor(), DeliveryId(1_000 - WATCHED as i64));
        let c = TailCursor::resumed(DeliveryId(7), Some(DeliveryId(9)));
        assert_eq!(c.floor(), DeliveryId(0));
        let c = TailCursor::resumed(DeliveryId(99_999), Some(DeliveryId(9)));
        assert_eq!(
            c.floor(),
            DeliveryId(9),
            "an id not yet given is not trusted"
        );
    }
}
