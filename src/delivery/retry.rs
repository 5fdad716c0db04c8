//! The retry policy: what one attempt's result means (delivered, try again, give up) and
//! when to try again (exponential backoff with jitter, `Retry-After` honoured but capped).
//! `sender` classifies each attempt; `worker` asks the policy what to do next.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Deserialize;

/// What an attempt's result means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// Network error, timeout, 408, 429 or 5xx: the receiver may accept it later.
    Retry,
    /// 3xx (never followed) and other 4xx: the request itself is refused; dead-letter now.
    Permanent,
}

/// The verdict for an HTTP status.
pub fn classify_status(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry,
        _ => Verdict::Permanent,
    }
}

/// The result of one attempt, as the worker and the outbox need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub verdict: Verdict,
    /// The HTTP status, if a response came back.
    pub status: Option<u16>,
    /// The receiver's `Retry-After`, already converted to a delay (uncapped).
    pub retry_after: Option<Duration>,
    /// Short description of a failure; never contains the target's URL.
    pub error: Option<String>,
}

impl AttemptOutcome {
    pub fn delivered(status: Option<u16>) -> Self {
        Self { verdict: Verdict::Delivered, status, retry_after: None, error: None }
    }

    /// A failure with no response (network error, timeout): worth retrying.
    pub fn retryable(error: impl Into<String>) -> Self {
        Self { verdict: Verdict::Retry, status: None, retry_after: None, error: Some(error.into()) }
    }

    /// A failure no retry can fix (bad configuration, an intent the target cannot carry).
    pub fn permanent(error: impl Into<String>) -> Self {
        Self { verdict: Verdict::Permanent, status: None, retry_after: None, error: Some(error.into()) }
    }

    /// A response: classified by status; `detail` (e.g. the start of the body) goes in the error.
    pub fn from_response(status: u16, retry_after: Option<Duration>, detail: &str) -> Self {
        let verdict = classify_status(status);
        let error = (verdict != Verdict::Delivered).then(|| {
            let gone = if status == 410 { " (the endpoint is gone; check the target)" } else { "" };
            let detail = detail.trim();
            if detail.is_empty() {
                format!("HTTP {status}{gone}")
            } else {
                format!("HTTP {status}{gone}: {detail}")
            }
        });
        Self { verdict, status: Some(status), retry_after, error }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (past dates mean now).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is a subset of RFC 2822.
    let date = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((date - now).to_std().unwrap_or(Duration::ZERO))
}

/// How retry delays are spread so that many failed deliveries do not return together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Uniform in `[0, min(cap, base * 2^(n-1))]` ("full jitter").
    Full,
    /// `d(n) = min(cap, uniform(base, 3 * d(n-1)))`, `d(0) = base` ("decorrelated jitter").
    Decorrelated,
}

/// `[delivery.retry]` in the configuration file; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Seconds of the first backoff step (default 5).
    pub base_seconds: Option<f64>,
    /// Longest wait between two attempts, in seconds (default 3600).
    pub cap_seconds: Option<f64>,
    /// Attempts before an entry is dead-lettered, the first one included (default 12).
    pub max_attempts: Option<u32>,
    /// `full` (default) or `decorrelated`.
    pub jitter: Option<Jitter>,
    /// Longest `Retry-After` obeyed, in seconds (default 3600); longer ones are cut to this.
    pub retry_after_cap_seconds: Option<f64>,
}

/// The checked policy. Defaults: base 5 s, cap 1 h, 12 attempts, full jitter: the ceilings
/// of the 11 waits add up to about 2.4 h (about half that on average), so an hour-long
/// outage is ridden out while a dead endpoint is given up on the same day.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    pub jitter: Jitter,
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(3600),
            max_attempts: 12,
            jitter: Jitter::Full,
            retry_after_cap: Duration::from_secs(3600),
        }
    }
}

/// What to do with an entry after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Delivered,
    RetryAfter(Duration),
    DeadLetter(String),
}

impl RetryPolicy {
    pub fn from_settings(settings: &RetrySettings) -> Result<Self, String> {
        let defaults = Self::default();
        let seconds = |field: &str, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 * 30.0 => Ok(Duration::from_secs_f64(s)),
            Some(_) => Err(format!("delivery.retry.{field}: must be a positive number of seconds (at most 30 days)")),
        };
        let policy = Self {
            base: seconds("base_seconds", settings.base_seconds, defaults.base)?,
            cap: seconds("cap_seconds", settings.cap_seconds, defaults.cap)?,
            max_attempts: settings.max_attempts.unwrap_or(defaults.max_attempts),
            jitter: settings.jitter.unwrap_or(defaults.jitter),
            retry_after_cap: seconds(
                "retry_after_cap_seconds",
                settings.retry_after_cap_seconds,
                defaults.retry_after_cap,
            )?,
        };
        if policy.cap < policy.base {
            return Err("delivery.retry.cap_seconds: must be at least base_seconds".into());
        }
        if !(1..=100).contains(&policy.max_attempts) {
            return Err("delivery.retry.max_attempts: must be 1 to 100".into());
        }
        Ok(policy)
    }

    /// The wait after the `failures`-th failed attempt (1 for the first retry).
    pub fn backoff(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let failures = failures.max(1);
        match self.jitter {
            Jitter::Full => {
                let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
                let ceiling = self.base.saturating_mul(factor).min(self.cap);
                ceiling.mul_f64(rng.gen::<f64>())
            }
            Jitter::Decorrelated => {
                // Recomputing the chain needs no stored state and keeps each step's distribution.
                let mut delay = self.base;
                for _ in 0..failures {
                    let high = delay.saturating_mul(3).max(self.base);
                    delay = (self.base + (high - self.base).mul_f64(rng.gen::<f64>())).min(self.cap);
                }
                delay
            }
        }
    }

    /// What follows attempt number `attempts` (1-based, this one included) with `outcome`.
    /// The wait is the backoff, or the receiver's `Retry-After` (capped) when that is longer.
    pub fn decide(&self, attempts: u32, outcome: &AttemptOutcome, rng: &mut impl Rng) -> Decision {
        let error = || outcome.error.clone().unwrap_or_else(|| "failed".into());
        match outcome.verdict {
            Verdict::Delivered => Decision::Delivered,
            Verdict::Permanent => Decision::DeadLetter(error()),
            Verdict::Retry if attempts >= self.max_attempts => {
                Decision::DeadLetter(format!("gave up after {attempts} attempts; last: {}", error()))
            }
            Verdict::Retry => {
                let backoff = self.backoff(attempts, rng);
                let asked = outcome.retry_after.map_or(Duration::ZERO, |d| d.min(self.retry_after_cap));
                Decision::RetryAfter(backoff.max(asked))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn statuses_are_classified_as_the_webhook_convention_says() {
        let cases = [
            (200, Verdict::Delivered),
            (204, Verdict::Delivered),
            (301, Verdict::Permanent),
            (304, Verdict::Permanent),
            (400, Verdict::Permanent),
            (401, Verdict::Permanent),
            (404, Verdict::Permanent),
            (408, Verdict::Retry),
            (410, Verdict::Permanent),
            (429, Verdict::Retry),
            (500, Verdict::Retry),
            (503, Verdict::Retry),
            (599, Verdict::Retry),
            (101, Verdict::Permanent),
        ];

        for (status, verdict) in cases {
            assert_eq!(classify_status(status), verdict, "HTTP {status}");
        }
    }

    #[test]
    fn outcomes_describe_the_failure_and_say_when_the_endpoint_is_gone() {
        assert_eq!(AttemptOutcome::from_response(200, None, "ok").error, None);
        assert_eq!(
            AttemptOutcome::from_response(400, None, " invalid_payload\n").error.unwrap(),
            "HTTP 400: invalid_payload"
        );
        assert_eq!(AttemptOutcome::from_response(503, None, "").error.unwrap(), "HTTP 503");
        assert!(AttemptOutcome::from_response(410, None, "channel_is_archived").error.unwrap().contains("gone"));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").unwrap().with_timezone(&Utc);

        assert_eq!(parse_retry_after("120", now), Some(secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now), Some(secs(60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO), "a past date");
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn full_jitter_stays_under_the_doubling_ceiling_and_the_cap() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);

        for failures in 1..=40 {
            let ceiling = (secs(5) * 2u32.saturating_pow(failures - 1).min(1 << 20)).min(secs(3600));
            for _ in 0..50 {
                assert!(policy.backoff(failures, &mut rng) <= ceiling, "failure {failures}");
            }
        }
    }

    #[test]
    fn decorrelated_jitter_stays_between_base_and_cap() {
        let policy = RetryPolicy { jitter: Jitter::Decorrelated, ..RetryPolicy::default() };
        let mut rng = StdRng::seed_from_u64(7);

        for failures in 1..=20 {
            let delay = policy.backoff(failures, &mut rng);
            assert!((secs(5)..=secs(3600)).contains(&delay), "failure {failures}: {delay:?}");
        }
        assert!(policy.backoff(1, &mut rng) <= secs(15), "the first wait is at most 3 * base");
    }

    #[test]
    fn a_seed_makes_the_schedule_reproducible() {
        let policy = RetryPolicy::default();
        let schedule = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (1..=11).map(|n| policy.backoff(n, &mut rng)).collect::<Vec<_>>()
        };

        assert_eq!(schedule(42), schedule(42));
        assert_ne!(schedule(42), schedule(43));
    }

    #[test]
    fn decisions_follow_the_verdict_the_attempt_count_and_retry_after() {
        let policy = RetryPolicy { retry_after_cap: secs(600), ..RetryPolicy::default() };
        let mut rng = StdRng::seed_from_u64(1);
        let unavailable = AttemptOutcome::from_response(503, None, "");
        let throttled = AttemptOutcome::from_response(429, Some(secs(90)), "");
        let throttled_long = AttemptOutcome::from_response(429, Some(secs(86_400)), "");

        assert_eq!(policy.decide(1, &AttemptOutcome::delivered(Some(200)), &mut rng), Decision::Delivered);
        assert_eq!(
            policy.decide(1, &AttemptOutcome::from_response(400, None, "bad"), &mut rng),
            Decision::DeadLetter("HTTP 400: bad".into())
        );
        assert!(matches!(policy.decide(1, &unavailable, &mut rng), Decision::RetryAfter(d) if d <= secs(5)));
        assert_eq!(
            policy.decide(12, &unavailable, &mut rng),
            Decision::DeadLetter("gave up after 12 attempts; last: HTTP 503".into())
        );
        assert!(matches!(policy.decide(1, &throttled, &mut rng), Decision::RetryAfter(d) if d == secs(90)));
        assert_eq!(policy.decide(1, &throttled_long, &mut rng), Decision::RetryAfter(secs(600)), "capped");
    }

    #[test]
    fn settings_fill_in_defaults_and_refuse_nonsense() {
        let defaults = RetryPolicy::from_settings(&RetrySettings::default()).unwrap();
        let custom = RetrySettings {
            base_seconds: Some(0.5),
            max_attempts: Some(3),
            jitter: Some(Jitter::Decorrelated),
            ..Default::default()
        };

        assert_eq!(defaults, RetryPolicy::default());
        let custom = RetryPolicy::from_settings(&custom).unwrap();
        assert_eq!(
            (custom.base, custom.max_attempts, custom.jitter),
            (Duration::from_millis(500), 3, Jitter::Decorrelated)
        );
        let refused = [
            ("a zero base", RetrySettings { base_seconds: Some(0.0), ..Default::default() }),
            (
                "a cap under the base",
                RetrySettings { base_seconds: Some(10.0), cap_seconds: Some(5.0), ..Default::default() },
            ),
            ("no attempt at all", RetrySettings { max_attempts: Some(0), ..Default::default() }),
            ("an infinite cap", RetrySettings { cap_seconds: Some(f64::INFINITY), ..Default::default() }),
        ];
        for (description, settings) in refused {
            assert!(RetryPolicy::from_settings(&settings).is_err(), "{description}");
        }
    }
}
