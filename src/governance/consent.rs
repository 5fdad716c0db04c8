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
    /// People being erased, or erased since the start: out of both, whatever is stored.
    erased: HashSet<String>,
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
        registry.reload(store).await?;
        Ok(Arc::new(registry))
    }

    /// Reads every choice from the store again (another process, `fluency people consent`,
    /// may have changed some); returns whether anyone's inference consent changed.
    pub async fn reload(&self, store: &dyn Store) -> StoreResult<bool> {
        let (mut inference, mut nudges) = (HashSet::new(), HashSet::new());
        for record in store.consents().await? {
            if record.inference_opt_out {
                inference.insert(record.person.clone());
            }
            if record.nudges_opt_out {
                nudges.insert(record.person);
            }
        }
        let mut opted_out = self.opted_out.write().expect("consent lock");
        let changed = opted_out.inference != inference;
        opted_out.inference = inference;
        opted_out.nudges = nudges;
        Ok(changed)
    }

    pub fn infers(&self, person: &str) -> bool {
        let opted_out = self.opted_out.read().expect("consent lock");
        !opted_out.inference.contains(person) && !opted_out.erased.contains(person)
    }

    pub fn nudges(&self, person: &str) -> bool {
        let opted_out = self.opted_out.read().expect("consent lock");
        !opted_out.nudges.contains(person) && !opted_out.erased.contains(person)
    }

    pub fn of(&self, person: &str) -> Consent {
        Consent { person: person.to_string(), inference: self.infers(person), nudges: self.nudges(person) }
    }

    /// Leaves these people out of inference and nudges from now on, in memory only: they are
    /// being erased, and the records that would say so are erased too.
    pub fn exclude(&self, keys: &[String]) {
        self.opted_out.write().expect("consent lock").erased.extend(keys.iter().cloned());
    }

    /// Everyone opted out of inference (or being erased).
    pub fn inference_opt_outs(&self) -> HashSet<String> {
        let opted_out = self.opted_out.read().expect("consent lock");
        opted_out.inference.union(&opted_out.erased).cloned().collect()
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
