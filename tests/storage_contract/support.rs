//! Shared pieces of the contract suite: the backend factory, the harness holding the store
//! under test, and a builder of storage-level statements (JSON plus terms).

use std::sync::Arc;

use async_trait::async_trait;
use fluency::storage::{
    IndexTerm, NewStatement, StatementBatch, StatementPage, StatementQuery, Store, StoreResult, StoredStatement,
};
use fluency::xapi::time::Micros;
use serde_json::{json, Value};
use uuid::Uuid;

pub const VOIDED_VERB: &str = "http://adlnet.gov/expapi/verbs/voided";
pub const AUTHORITY: &str = "mbox::mailto:authority@example.com";

/// Opens a backend's store; every call reaches the same data (for reopening).
#[async_trait]
pub trait Backend: Send + Sync {
    async fn open(&self) -> Arc<dyn Store>;
}

/// The store under test. Field order matters: the store closes before its backend.
pub struct Harness {
    pub store: Arc<dyn Store>,
    backend: Box<dyn Backend>,
}

impl Harness {
    pub async fn open(backend: Box<dyn Backend>) -> Self {
        Self { store: backend.open().await, backend }
    }

    /// Closes the store and opens it again on the same data.
    pub async fn reopen(self) -> Self {
        let Self { store, backend } = self;
        drop(store);
        Self::open(backend).await
    }

    pub async fn try_insert(&self, drafts: &[&Draft]) -> StoreResult<Vec<Micros>> {
        self.store.insert_statements(batch(drafts)).await
    }

    pub async fn insert(&self, drafts: &[&Draft]) -> Vec<Micros> {
        self.try_insert(drafts).await.expect("the batch is stored")
    }

    pub async fn query(&self, query: StatementQuery) -> StatementPage {
        self.store.query_statements(&query).await.expect("the query runs")
    }

    /// Ids matching every term, newest first.
    pub async fn ids_matching(&self, terms: &[IndexTerm]) -> Vec<Uuid> {
        let page = self.query(StatementQuery { terms: terms.to_vec(), limit: 1000, ..Default::default() }).await;
        page.statements.iter().map(|statement| statement.id).collect()
    }

    pub async fn find(&self, id: Uuid) -> Option<StoredStatement> {
        let mut found = self.store.find_statements(&[id]).await.expect("the find runs");
        found.pop()
    }
}

pub fn batch(drafts: &[&Draft]) -> StatementBatch {
    StatementBatch {
        statements: drafts.iter().map(|draft| draft.build()).collect(),
        activity_definitions: Vec::new(),
        merge_definition: |_, _| {},
        agents: Vec::new(),
    }
}

/// A statement as the service would hand it to storage: JSON without `stored`, plus terms.
#[derive(Clone, Debug)]
pub struct Draft {
    pub id: Uuid,
    pub verb: String,
    pub actor: String,
    object: Object,
    extra_terms: Vec<IndexTerm>,
    timestamp: Option<String>,
    scaled_score: Option<f64>,
}

#[derive(Clone, Debug)]
enum Object {
    Activity(String),
    StatementRef(Uuid),
}

impl Default for Draft {
    fn default() -> Self {
        Self::new()
    }
}

impl Draft {
    /// A fresh id, a shared verb and actor, and a unique activity.
    pub fn new() -> Self {
        let id = Uuid::new_v4();
        Self {
            id,
            verb: "http://adlnet.gov/expapi/verbs/experienced".into(),
            actor: "learner@example.com".into(),
            object: Object::Activity(format!("http://example.com/activities/{id}")),
            extra_terms: Vec::new(),
            timestamp: None,
            scaled_score: None,
        }
    }

    pub fn voiding(target: Uuid) -> Self {
        Self::new().verb(VOIDED_VERB).referring_to(target)
    }

    pub fn verb(mut self, verb: &str) -> Self {
        self.verb = verb.into();
        self
    }

    pub fn actor(mut self, mailbox: &str) -> Self {
        self.actor = mailbox.into();
        self
    }

    pub fn referring_to(mut self, target: Uuid) -> Self {
        self.object = Object::StatementRef(target);
        self
    }

    pub fn term(mut self, term: IndexTerm) -> Self {
        self.extra_terms.push(term);
        self
    }

    pub fn timestamp(mut self, timestamp: &str) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    pub fn scaled_score(mut self, scaled: f64) -> Self {
        self.scaled_score = Some(scaled);
        self
    }

    pub fn activity(mut self, id: &str) -> Self {
        self.object = Object::Activity(id.into());
        self
    }

    pub fn activity_id(&self) -> Option<&str> {
        match &self.object {
            Object::Activity(id) => Some(id),
            Object::StatementRef(_) => None,
        }
    }

    pub fn agent_term(&self) -> IndexTerm {
        IndexTerm::Agent(self.agent_term_key())
    }

    /// The actor's IFI key.
    pub fn agent_term_key(&self) -> String {
        format!("mbox::mailto:{}", self.actor)
    }

    pub fn verb_term(&self) -> IndexTerm {
        IndexTerm::Verb(self.verb.clone())
    }

    pub fn build(&self) -> NewStatement {
        let mut json = json!({
            "id": self.id.to_string(),
            "actor": {"objectType": "Agent", "mbox": format!("mailto:{}", self.actor)},
            "verb": {"id": self.verb},
        });
        let mut terms = vec![
            self.agent_term(),
            IndexTerm::RelatedAgent(format!("mbox::mailto:{}", self.actor)),
            self.verb_term(),
            IndexTerm::RelatedAgent(AUTHORITY.into()),
            IndexTerm::Authority(AUTHORITY.into()),
        ];
        let object_ref = match &self.object {
            Object::Activity(id) => {
                json["object"] = json!({"objectType": "Activity", "id": id});
                terms.push(IndexTerm::Activity(id.clone()));
                terms.push(IndexTerm::RelatedActivity(id.clone()));
                None
            }
            Object::StatementRef(target) => {
                json["object"] = json!({"objectType": "StatementRef", "id": target.to_string()});
                Some(*target)
            }
        };
        if let Some(scaled) = self.scaled_score {
            json["result"] = json!({"score": {"scaled": scaled}});
        }
        if let Some(timestamp) = &self.timestamp {
            json["timestamp"] = Value::String(timestamp.clone());
        }
        json["authority"] = json!({"objectType": "Agent", "mbox": "mailto:authority@example.com"});
        terms.extend(self.extra_terms.iter().cloned());
        NewStatement {
            id: self.id,
            json: json.to_string(),
            timestamp_from_stored: self.timestamp.is_none(),
            terms,
            object_ref,
            is_voiding: self.verb == VOIDED_VERB,
        }
    }
}
