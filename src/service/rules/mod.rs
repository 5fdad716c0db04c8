//! The rules engine inside the running LRS: the catalog of rule files, the store-backed
//! host, and the runner that evaluates stored statements and commits what rules produce.

pub mod catalog;
pub mod delivery;
pub mod host;
pub mod poison;
pub mod runner;
pub mod scheduler;

pub use catalog::{CatalogError, RuleCatalog, RuleView, RulesListing};
pub use delivery::{LrsEmitter, StoreOutbox};
pub use host::StoreHost;
pub use runner::{RuleRunner, RunnerSettings};
pub use scheduler::RuleScheduler;
