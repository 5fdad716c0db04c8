//! Failed sign-in attempts, counted per credential key and per client address in fixed
//! one-minute windows. Past the limit the `Authenticator` answers 429 without hashing, so
//! a stream of wrong secrets can neither guess quickly nor hold the verification permits
//! that every other sign-in needs.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Subjects tracked at once; expired windows are dropped when it fills, so memory stays
/// bounded whatever keys or addresses an attacker makes up.
const CAPACITY: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    Key(String),
    Address(IpAddr),
}

pub struct FailureLimiter {
    max_failures: u32,
    windows: Mutex<HashMap<Subject, (Instant, u32)>>,
}

impl FailureLimiter {
    /// `max_failures` per subject and minute; 0 turns the limit off.
    pub fn new(max_failures: u32) -> Self {
        Self { max_failures, windows: Mutex::new(HashMap::new()) }
    }

    /// Seconds until the first of `subjects` that is over its limit may try again.
    pub fn blocked(&self, subjects: &[Subject]) -> Option<u64> {
        if self.max_failures == 0 {
            return None;
        }
        let windows = self.windows.lock().expect("limiter lock");
        subjects
            .iter()
            .filter_map(|subject| windows.get(subject))
            .filter(|(started, failures)| *failures >= self.max_failures && started.elapsed() < WINDOW)
            .map(|(started, _)| WINDOW.saturating_sub(started.elapsed()).as_secs().max(1))
            .max()
    }

    pub fn record_failure(&self, subjects: &[Subject]) {
        if self.max_failures == 0 {
            return;
        }
        let mut windows = self.windows.lock().expect("limiter lock");
        if windows.len() >= CAPACITY {
            windows.retain(|_, (started, _)| started.elapsed() < WINDOW);
        }
        for subject in subjects {
            if windows.len() >= CAPACITY && !windows.contains_key(subject) {
                // Full of live windows: a made-up subject is not tracked, but known ones are.
                continue;
            }
            let window = windows.entry(subject.clone()).or_insert((Instant::now(), 0));
            if window.0.elapsed() >= WINDOW {
                *window = (Instant::now(), 0);
            }
            window.1 += 1;
        }
    }

    /// A correct secret clears its key's count (an address keeps its own).
    pub fn record_success(&self, key: &str) {
        self.windows.lock().expect("limiter lock").remove(&Subject::Key(key.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_blocked_after_its_limit_and_others_are_not() {
        let limiter = FailureLimiter::new(3);
        let attacker = [Subject::Key("k".into()), Subject::Address("10.0.0.1".parse().unwrap())];
        for _ in 0..2 {
            limiter.record_failure(&attacker);
        }
        assert_eq!(limiter.blocked(&attacker), None, "two failures are under the limit");

        limiter.record_failure(&attacker);

        let retry = limiter.blocked(&attacker).expect("blocked at the limit");
        assert!((1..=60).contains(&retry), "{retry}");
        assert!(limiter.blocked(&[Subject::Key("k".into())]).is_some(), "the key alone is blocked");
        assert_eq!(limiter.blocked(&[Subject::Key("other".into())]), None);
        limiter.record_success("k");
        assert!(limiter.blocked(&[Subject::Key("k".into())]).is_none(), "success clears the key");
        assert!(limiter.blocked(&attacker).is_some(), "the address stays blocked");
    }

    #[test]
    fn a_limit_of_zero_never_blocks() {
        let limiter = FailureLimiter::new(0);
        let subject = [Subject::Key("k".into())];
        for _ in 0..100 {
            limiter.record_failure(&subject);
        }
        assert_eq!(limiter.blocked(&subject), None);
    }
}
