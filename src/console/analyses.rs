//! Impact analyses made in the console, kept in memory for the server's life (newest
//! first, at most `KEPT`); each can be exported as JSON or as the standalone HTML report.

use std::sync::{Arc, Mutex};

use crate::auth::secret::random_token;
use crate::service::impact::{ImpactAnswer, ImpactRequest};

const KEPT: usize = 50;

pub struct Analysis {
    pub id: String,
    pub by: String,
    pub request: ImpactRequest,
    pub answer: ImpactAnswer,
}

#[derive(Default)]
pub struct Analyses {
    kept: Mutex<Vec<Arc<Analysis>>>,
}

impl Analyses {
    /// Keeps an analysis; returns its id.
    pub fn keep(&self, by: &str, request: ImpactRequest, answer: ImpactAnswer) -> String {
        let id = random_token(16);
        let mut kept = self.kept.lock().expect("analyses lock");
        kept.insert(0, Arc::new(Analysis { id: id.clone(), by: by.to_string(), request, answer }));
        kept.truncate(KEPT);
        id
    }

    pub fn find(&self, id: &str) -> Option<Arc<Analysis>> {
        self.kept.lock().expect("analyses lock").iter().find(|a| a.id == id).cloned()
    }

    pub fn recent(&self) -> Vec<Arc<Analysis>> {
        self.kept.lock().expect("analyses lock").clone()
    }
}
