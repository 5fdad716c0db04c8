//! Consent: a person may opt out of skills inference (which also takes them out of impact
//! analyses' cohorts) and of nudges (no rule runs on their statements, so no intent is made
//! about them). The registry keeps everyone's choice in memory, loaded from the store at
//! start and changed through `set`, so every runner sees a change on its next statement.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::storage::{ConsentRecord, Store, StoreResult};
use crate::xapi::time::now_micros;

#[derive(Default)]
struct OptOuts {
    inference: HashSet<String>,
    nudges: HashSet<String>,
}

#[derive(Default)]
pub struct ConsentRegistry {
    opted_out: RwLock<OptOuts>,
}

/// One person's choices, as the API shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Consent {
    pub person: String,
    pub inference: bool,
    pub nudges: bool,
}

impl ConsentRegistry {
    pub async fn load(store: &dyn Store) -> StoreResult<Arc<Self>> {
        let registry = Self::default();
        let records = store.consents().await?;
        {
            let mut opted_out = registry.opted_out.write().expect("consent lock");
            for record in records {
                if record.inference_opt_out {
                    opted_out.inference.insert(record.person.clone());
                }
                if record.nudges_opt_out {
                    opted_out.nudges.insert(record.person);
                }
            }
        }
        Ok(Arc::new(registry))
    }

    pub fn infers(&self, person: &str) -> bool {
        !self.opted_out.read().expect("consent lock").inference.contains(person)
    }

    pub fn nudges(&self, person: &str) -> bool {
        !self.opted_out.read().expect("consent lock").nudges.contains(person)
    }

    pub fn of(&self, person: &str) -> Consent {
        Consent { person: person.to_string(), inference: self.infers(person), nudges: self.nudges(person) }
    }

    /// Everyone opted out of inference.
    pub fn inference_opt_outs(&self) -> HashSet<String> {
        self.opted_out.read().expect("consent lock").inference.clone()
    }

    /// Stores the person's choices, then applies them; returns whether inference consent
    /// changed (inferred estimates must then be inferred again without, or with, them).
    pub async fn set(&self, store: &dyn Store, person: &str, inference: bool, nudges: bool) -> StoreResult<bool> {
        let record = ConsentRecord {
            person: person.to_string(),
            inference_opt_out: !inference,
            nudges_opt_out: !nudges,
            updated: now_micros(),
        };
        store.set_consent(record).await?;
        let mut opted_out = self.opted_out.write().expect("consent lock");
        let changed = match inference {
            true => opted_out.inference.remove(person),
            false => opted_out.inference.insert(person.to_string()),
        };
        match nudges {
            true => opted_out.nudges.remove(person),
            false => opted_out.nudges.insert(person.to_string()),
        };
        Ok(changed)
    }
}
