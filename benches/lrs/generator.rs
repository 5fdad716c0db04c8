//! Seeded, realistic statements: thousands of actors, hundreds of activities and verbs,
//! results, context with registrations and parent activities; about 1 KB each.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

pub const ACTORS: usize = 5_000;
pub const ACTIVITIES: usize = 500;
pub const VERBS: usize = 120;
pub const REGISTRATIONS: usize = 20_000;

pub struct Generator {
    rng: StdRng,
    registrations: Vec<String>,
}

pub fn actor_mbox(index: usize) -> String {
    format!("mailto:learner{index}@bench.example.com")
}

pub fn activity_id(index: usize) -> String {
    format!("http://bench.example.com/activities/module-{index}")
}

pub fn verb_id(index: usize) -> String {
    format!("http://bench.example.com/verbs/verb-{index}")
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let registrations =
            (0..REGISTRATIONS).map(|_| uuid::Builder::from_random_bytes(rng.gen()).into_uuid().to_string()).collect();
        Self { rng, registrations }
    }

    pub fn registration(&self, index: usize) -> &str {
        &self.registrations[index % REGISTRATIONS]
    }

    pub fn pick_registration(&mut self) -> String {
        let index = self.rng.gen_range(0..REGISTRATIONS);
        self.registrations[index].clone()
    }

    pub fn statement(&mut self) -> Value {
        let actor = self.rng.gen_range(0..ACTORS);
        let activity = self.rng.gen_range(0..ACTIVITIES);
        let parent = activity / 10;
        let verb = self.rng.gen_range(0..VERBS);
        let registration = self.pick_registration();
        let raw: f64 = self.rng.gen_range(0..=100) as f64;
        let seconds = self.rng.gen_range(30..3600);
        json!({
            "actor": {"objectType": "Agent", "name": format!("Learner {actor}"), "mbox": actor_mbox(actor)},
            "verb": {"id": verb_id(verb), "display": {"en-US": format!("verb {verb}")}},
            "object": {
                "objectType": "Activity",
                "id": activity_id(activity),
                "definition": {
                    "name": {"en-US": format!("Module {activity}")},
                    "description": {"en-US": "A short module about handling difficult customer conversations well."},
                    "type": "http://adlnet.gov/expapi/activities/module"
                }
            },
            "result": {
                "score": {"raw": raw, "min": 0.0, "max": 100.0, "scaled": raw / 100.0},
                "success": raw >= 60.0,
                "completion": true,
                "duration": format!("PT{seconds}S")
            },
            "context": {
                "registration": registration,
                "platform": "Bench LMS",
                "language": "en-US",
                "contextActivities": {
                    "parent": [{"objectType": "Activity", "id": format!("http://bench.example.com/courses/course-{parent}")}],
                    "grouping": [{"objectType": "Activity", "id": "http://bench.example.com/programmes/onboarding"}]
                },
                "extensions": {"http://bench.example.com/extensions/team": format!("team-{}", actor % 50)}
            },
            "timestamp": "2026-01-15T10:00:00.000Z"
        })
    }
}
