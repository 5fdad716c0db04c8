//! Delivery against a real HTTP receiver: an actix-web server on 127.0.0.1:0 that answers
//! from a script and records every request, as a Slack, Teams or webhook endpoint would.

#[path = "support/receiver.rs"]
mod receiver;

use receiver::{reply, Receiver, Reply};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fluency::delivery::{
    verify, DeliveryWorker, EmitError, EntryStatus, Jitter, MemoryOutbox, RetryPolicy, StatementEmitter, Target,
    TargetKind, TargetSettings, Targets, WebhookSecret, WorkerSettings,
};
use fluency::rules::{Intent, IntentRecord, NotifyMessage};
use serde_json::{json, Value};
use tokio::sync::watch;
use uuid::Uuid;

const SECRET: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The idempotency key of the test intent for `target`: the outbox keys entries by it,
/// so intents queued side by side need their own.
fn key(target: &str) -> String {
    format!("{}{target}", &KEY[..40])
}

// ---- the sending side ----

struct NoStatements;

#[async_trait]
impl StatementEmitter for NoStatements {
    async fn emit(&self, _: Value) -> Result<(), EmitError> {
        Err(EmitError::Permanent("no statements in these tests".into()))
    }
}

fn target(name: &str, kind: TargetKind, url: &str) -> Target {
    let secret = (kind == TargetKind::Webhook).then(|| SECRET.to_string());
    Target::parse(name, &TargetSettings { kind, url: url.into(), secret, timeout_seconds: None }).unwrap()
}

/// Tiny delays so that retries happen within milliseconds.
fn quick_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(50),
        max_attempts,
        jitter: Jitter::Decorrelated,
        retry_after_cap: Duration::from_secs(1),
    }
}

fn worker(outbox: &Arc<MemoryOutbox>, targets: Vec<Target>, policy: RetryPolicy) -> DeliveryWorker {
    let targets: Targets = targets.into_iter().map(|t| (t.name().to_string(), t)).collect();
    let settings =
        WorkerSettings { poll_interval: Duration::from_millis(5), seed: Some(7), ..WorkerSettings::default() };
    DeliveryWorker::new(outbox.clone(), Arc::new(NoStatements), targets, policy, settings).unwrap()
}

fn notify(target: &str, message: NotifyMessage) -> IntentRecord {
    IntentRecord {
        key: key(target),
        rule: "nudge".into(),
        rule_version: "2".into(),
        trigger: Uuid::from_u128(0xabc),
        index: 0,
        intent: Intent::Notify { target: target.into(), message },
    }
}

fn text(text: &str) -> NotifyMessage {
    NotifyMessage::Text { text: text.into() }
}

fn secret() -> WebhookSecret {
    WebhookSecret::parse(SECRET).unwrap()
}

fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(time.timestamp(), 0).unwrap()
}

// ---- the tests ----

#[tokio::test]
async fn an_unavailable_receiver_gets_the_same_delivery_until_it_accepts_it_once() {
    let receiver = Receiver::start([reply(503), reply(503)], reply(200));
    let outbox = Arc::new(MemoryOutbox::new());
    let worker = worker(&outbox, vec![target("lms", TargetKind::Webhook, &receiver.url)], quick_policy(5));
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.clone().run(stopped));

    let id = outbox.push(notify("lms", text("Hi")), Some("lms"), Utc::now());
    worker.waker().notify_one();
    receiver.wait_for(3).await;
    stop.send(true).unwrap();
    running.await.unwrap();

    let stored = outbox.get(&id).unwrap();
    assert_eq!((stored.status, stored.entry.attempts), (EntryStatus::Delivered, 3));
    assert_eq!(receiver.count(), 3);
    assert_eq!(receiver.processed(), 1, "deduplicated by webhook-id, one delivery");
    let requests = receiver.state.requests.lock().unwrap();
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(request.headers["webhook-id"], key("lms"), "attempt {n}");
        assert_eq!(request.headers["idempotency-key"], key("lms"), "attempt {n}");
        assert_eq!(request.body, requests[0].body, "attempt {n} sends the same bytes");
    }
    for pair in requests.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(20), "decorrelated backoff waits at least base");
    }
    let stats = worker.stats().snapshot();
    assert_eq!((stats.attempts, stats.retried, stats.delivered), (3, 2, 1));
}

#[tokio::test]
async fn webhook_signatures_verify_with_the_shared_secret() {
    let receiver = Receiver::start([], reply(204));
    let outbox = Arc::new(MemoryOutbox::new());
    let worker = worker(&outbox, vec![target("lms", TargetKind::Webhook, &receiver.url)], quick_policy(5));
    let now = Utc::now();
    outbox.push(notify("lms", text("Hi")), Some("lms"), now);

    worker.deliver_due(now, 10).await.unwrap();

    let header = |name| receiver.header(0, name).unwrap_or_else(|| panic!("{name} header"));
    let (id, timestamp, signature, body) =
        (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"), receiver.body(0));
    assert_eq!(timestamp, now.timestamp().to_string());
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(verify(&secret(), &id, &timestamp, &signature, body.as_bytes(), Utc::now().timestamp()), Ok(()));
    let tampered = body.replace("Hi", "Ho");
    assert!(verify(&secret(), &id, &timestamp, &signature, tampered.as_bytes(), Utc::now().timestamp()).is_err());
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "fluency.notify");
    assert_eq!(event["data"]["statement_id"], "00000000-0000-0000-0000-000000000abc");
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_gets_the_entry_dead_lettered_after_max_attempts() {
    let receiver = Receiver::start([], Reply { body: "boom", ..reply(500) });
    let outbox = Arc::new(MemoryOutbox::new());
    let worker = worker(&outbox, vec![target("lms", TargetKind::Webhook, &receiver.url)], quick_policy(3));
    let id = outbox.push(notify("lms", text("Hi")), Some("lms"), Utc::now());

    for _ in 0..4 {
        let due_at = outbox.get(&id).unwrap().entry.next_attempt_at;
        worker.deliver_due(due_at, 10).await.unwrap();
    }

    let stored = outbox.get(&id).unwrap();
    assert_eq!((stored.status, stored.entry.attempts), (EntryStatus::DeadLettered, 3));
    assert_eq!(stored.last_error.as_deref(), Some("gave up after 3 attempts; last: HTTP 500: boom"));
    assert_eq!(receiver.count(), 3, "nothing is sent once dead-lettered");
    assert_eq!(worker.stats().snapshot().dead_lettered, 1);
}

#[tokio::test]
async fn refusals_and_redirects_are_dead_lettered_without_a_retry() {
    let cases = [
        ("a bad request", Reply { body: "invalid_payload", ..reply(400) }, "HTTP 400: invalid_payload"),
        ("a redirect, not followed", reply(302), "HTTP 302"),
        (
            "a gone endpoint",
            Reply { body: "channel_is_archived", ..reply(410) },
            "HTTP 410 (the endpoint is gone; check the target): channel_is_archived",
        ),
    ];

    for (description, answer, error) in cases {
        let receiver = Receiver::start([], answer);
        let outbox = Arc::new(MemoryOutbox::new());
        let worker = worker(&outbox, vec![target("ld-team", TargetKind::Slack, &receiver.url)], quick_policy(5));
        let id = outbox.push(notify("ld-team", text("Hi")), Some("ld-team"), Utc::now());

        worker.deliver_due(Utc::now(), 10).await.unwrap();

        let stored = outbox.get(&id).unwrap();
        assert_eq!((stored.status, stored.entry.attempts), (EntryStatus::DeadLettered, 1), "{description}");
        assert_eq!(stored.last_error.as_deref(), Some(error), "{description}");
        assert_eq!(receiver.count(), 1, "{description}: one request only");
        assert_eq!(worker.stats().snapshot().retried, 0, "{description}");
    }
}

#[tokio::test]
async fn a_target_that_answers_gone_is_switched_off_and_its_later_entries_are_not_sent() {
    let receiver = Receiver::start([reply(410)], reply(200));
    let other = Receiver::start([], reply(200));
    let outbox = Arc::new(MemoryOutbox::new());
    let targets =
        vec![target("ld-team", TargetKind::Slack, &receiver.url), target("lms", TargetKind::Webhook, &other.url)];
    let worker = worker(&outbox, targets, quick_policy(5));
    let first = outbox.push(notify("ld-team", text("one")), Some("ld-team"), Utc::now());
    worker.deliver_due(Utc::now(), 10).await.unwrap();

    let mut later = notify("ld-team", text("two"));
    later.key = key("ld-team-later");
    let second = outbox.push(later, Some("ld-team"), Utc::now());
    let elsewhere = outbox.push(notify("lms", text("three")), Some("lms"), Utc::now());
    worker.deliver_due(Utc::now(), 10).await.unwrap();

    assert_eq!(outbox.get(&first).unwrap().status, EntryStatus::DeadLettered);
    let refused = outbox.get(&second).unwrap();
    assert_eq!(refused.status, EntryStatus::DeadLettered);
    let error = refused.last_error.unwrap();
    assert!(error.starts_with("target \"ld-team\" is switched off: it answered 410 Gone at "), "{error}");
    assert_eq!(receiver.count(), 1, "nothing is sent to a gone target, though it would now accept");
    assert_eq!(outbox.get(&elsewhere).unwrap().status, EntryStatus::Delivered, "other targets are unaffected");
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_its_cap() {
    let cases = [
        ("a short Retry-After", "1", Duration::from_secs(1)),
        ("a day-long Retry-After, capped", "86400", Duration::from_secs(1)),
        ("a Retry-After shorter than the backoff", "0", Duration::ZERO),
    ];

    for (description, retry_after, expected) in cases {
        let throttled = Reply { retry_after: Some(retry_after), ..reply(429) };
        let receiver = Receiver::start([throttled], reply(200));
        let outbox = Arc::new(MemoryOutbox::new());
        let worker = worker(&outbox, vec![target("ld-team", TargetKind::Slack, &receiver.url)], quick_policy(5));
        let now = whole_seconds(Utc::now());
        let id = outbox.push(notify("ld-team", text("Hi")), Some("ld-team"), now);

        worker.deliver_due(now, 10).await.unwrap();

        let waiting = outbox.get(&id).unwrap();
        let wait = (waiting.entry.next_attempt_at - now).to_std().unwrap();
        assert_eq!(waiting.status, EntryStatus::Pending, "{description}");
        assert!(wait >= expected && wait <= expected.max(Duration::from_millis(50)), "{description}: {wait:?}");
        worker.deliver_due(waiting.entry.next_attempt_at, 10).await.unwrap();
        assert_eq!(outbox.get(&id).unwrap().status, EntryStatus::Delivered, "{description}");
    }
}

#[tokio::test]
async fn slack_and_teams_receive_exactly_their_documented_bodies() {
    let slack = Receiver::start([], Reply { body: "ok", ..reply(200) });
    let teams = Receiver::start([], reply(202));
    let outbox = Arc::new(MemoryOutbox::new());
    let targets =
        vec![target("ld-team", TargetKind::Slack, &slack.url), target("teams", TargetKind::Teams, &teams.url)];
    let worker = worker(&outbox, targets, quick_policy(5));
    let blocks = NotifyMessage::Blocks {
        text: "Nudge for Ada".into(),
        blocks: json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*Nudge* for Ada"}}]),
    };
    outbox.push(notify("ld-team", blocks), Some("ld-team"), Utc::now());
    outbox.push(notify("teams", text("Micro-lesson: objection handling (3 min)")), Some("teams"), Utc::now());

    worker.deliver_due(Utc::now(), 10).await.unwrap();

    assert_eq!(
        slack.body(0),
        r#"{"text":"Nudge for Ada","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*Nudge* for Ada"}}]}"#
    );
    assert_eq!(
        teams.body(0),
        concat!(
            r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","#,
            r#""contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","#,
            r#""type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","#,
            r#""text":"Micro-lesson: objection handling (3 min)","wrap":true}]}}]}"#
        )
    );
    for (receiver, name) in [(&slack, "ld-team"), (&teams, "teams")] {
        assert_eq!(receiver.header(0, "content-type").as_deref(), Some("application/json"));
        assert_eq!(receiver.header(0, "idempotency-key"), Some(key(name)));
        assert_eq!(receiver.header(0, "webhook-signature"), None, "only webhook targets are signed");
    }
    assert_eq!(worker.stats().snapshot().delivered, 2);
}

#[tokio::test]
async fn unreachable_and_slow_receivers_are_retried_without_leaking_the_url() {
    let slow = Receiver::start([], Reply { delay: Duration::from_secs(2), ..reply(200) });
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/services/T0/B0/SECRETPATH", listener.local_addr().unwrap().port())
    };
    let outbox = Arc::new(MemoryOutbox::new());
    let targets = vec![
        target("closed", TargetKind::Slack, &closed),
        target("slow", TargetKind::Slack, &slow.url).with_timeout(Duration::from_millis(200)),
    ];
    let worker = worker(&outbox, targets, quick_policy(5));
    let closed_id = outbox.push(notify("closed", text("Hi")), Some("closed"), Utc::now());
    let slow_id = outbox.push(notify("slow", text("Hi")), Some("slow"), Utc::now());

    worker.deliver_due(Utc::now(), 10).await.unwrap();

    for (description, id, expected) in
        [("a closed port", closed_id, "connection failed"), ("a slow receiver", slow_id, "timed out after 200 ms")]
    {
        let stored = outbox.get(&id).unwrap();
        let error = stored.last_error.unwrap();
        assert_eq!(stored.status, EntryStatus::Pending, "{description}");
        assert!(error.starts_with(expected), "{description}: {error}");
        assert!(!error.contains("SECRETPATH"), "{description}: {error}");
    }
}
