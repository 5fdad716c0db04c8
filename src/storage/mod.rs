//! Storage: the backend-neutral contract (`contract`) and its backends.

pub mod audit;
pub mod automation;
pub mod badges;
pub mod blobs;
pub mod contract;
pub mod erasure;
pub mod people;
pub mod skills;

pub use audit::{AuditDraft, AuditEntry};
pub use automation::*;
pub use badges::*;
pub use contract::*;
pub use erasure::*;
pub use people::*;
pub use skills::*;
pub mod sqlite;
