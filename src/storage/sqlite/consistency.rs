//! The `stored` clock and the consistency horizon: which `stored` values the writer may still
//! assign, and therefore what `consistent_through()` may safely claim. The writer thread moves
//! it; `SqliteStore::consistent_through` reads it from any thread.

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};

use crate::xapi::time::{now_micros, Micros};

/// Assigns `stored` values: unique and strictly increasing, close to the wall clock.
/// Owned by the writer thread.
#[derive(Debug)]
pub(super) struct StoredClock {
    last: Micros,
}

impl StoredClock {
    /// Continues after the highest `stored` already in the database.
    pub(super) fn starting_after(last: Micros) -> Self {
        Self { last }
    }

    /// The highest value handed out (committed or rolled back; never handed out again).
    pub(super) fn last(&self) -> Micros {
        self.last
    }

    /// Never assign `floor` or anything below it.
    pub(super) fn skip_through(&mut self, floor: Micros) {
        self.last = self.last.max(floor);
    }

    /// `max(now, last + 1)`: unique and strictly increasing even when many statements are
    /// stored within one microsecond or the wall clock steps back.
    pub(super) fn next_stored(&mut self) -> Micros {
        self.last = now_micros().max(self.last.saturating_add(1));
        self.last
    }
}

/// Shared between the writer and readers. Every value read or written with `SeqCst`, so the
/// reasoning below holds in the single total order of these operations.
///
/// * `in_flight_from`: while a write transaction is open, the lowest `stored` it may assign;
///   `i64::MAX` otherwise. Readers never claim past it.
/// * `assigned_through`: the highest `stored` the writer handed out in a finished
///   transaction (committed, or rolled back and never reused).
/// * `promised`: the highest horizon ever reported. The writer reads it after publishing
///   `in_flight_from` and never assigns below it, so a reader that saw no transaction in
///   flight has made a promise the next transaction keeps, even if the wall clock steps back.
#[derive(Debug)]
pub(super) struct Consistency {
    in_flight_from: AtomicI64,
    assigned_through: AtomicI64,
    promised: AtomicI64,
}

impl Consistency {
    pub(super) fn new(last_stored: Micros) -> Self {
        Self {
            in_flight_from: AtomicI64::new(i64::MAX),
            assigned_through: AtomicI64::new(last_stored),
            promised: AtomicI64::new(i64::MIN),
        }
    }

    /// Every statement with `stored` below the returned instant is committed.
    pub(super) fn consistent_through(&self) -> Micros {
        let horizon = now_micros().max(self.assigned_through.load(SeqCst).saturating_add(1));
        self.promised.fetch_max(horizon, SeqCst);
        horizon.min(self.in_flight_from.load(SeqCst))
    }

    /// The writer opens a transaction: publishes its lowest possible `stored`, then raises
    /// the clock past every promise already made.
    pub(super) fn begin_transaction(&self, clock: &mut StoredClock) {
        self.in_flight_from.store(clock.last().saturating_add(1), SeqCst);
        let promised = self.promised.load(SeqCst);
        clock.skip_through(promised.saturating_sub(1));
    }

    /// The transaction is committed or rolled back: nothing up to `clock.last()` is pending.
    pub(super) fn end_transaction(&self, clock: &StoredClock) {
        self.assigned_through.fetch_max(clock.last(), SeqCst);
        self.in_flight_from.store(i64::MAX, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_increase_even_within_one_microsecond() {
        let mut clock = StoredClock::starting_after(now_micros() + 1_000_000);
        let first = clock.next_stored();
        let second = clock.next_stored();
        assert!(second > first);
    }

    #[test]
    fn the_horizon_stays_below_an_open_transaction() {
        let consistency = Consistency::new(0);
        let mut clock = StoredClock::starting_after(now_micros() + 10_000_000);
        consistency.begin_transaction(&mut clock);
        let assigned = clock.next_stored();
        assert!(consistency.consistent_through() <= assigned);
        consistency.end_transaction(&clock);
        assert!(consistency.consistent_through() > assigned);
    }

    #[test]
    fn a_reported_horizon_is_kept_by_the_next_transaction() {
        let consistency = Consistency::new(0);
        let horizon = consistency.consistent_through();
        let mut clock = StoredClock::starting_after(0);
        consistency.begin_transaction(&mut clock);
        assert!(clock.next_stored() >= horizon);
    }
}
