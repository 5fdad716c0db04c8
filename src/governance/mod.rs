//! Governance: what a privacy officer signs off. This module owns the audit log (every
//! administrative action appended to a hash-chained log in the store, readable and
//! verifiable through `/api/audit`) and consent (per-person opt-outs of inference and of
//! nudges, honoured by the skills runner, the rules runner and impact analyses) and the
//! transparency report (what is held about one person, and what for), erasure (every
//! trace of a person removed, tombstones against replays, the files scanned for leftovers),
//! retention (configured policies deleting old statements, on a schedule or on demand,
//! with a dry run) and the keyed pseudonyms erasure and exports use.

pub mod audit;
pub mod consent;
pub mod erased;
pub mod erasure;
pub mod export;
pub mod pseudonym;
pub mod report;
pub mod retention;
pub mod scan;
pub mod subject;
pub mod suppression;

pub use audit::{record, verify, Verification};
pub use consent::{Consent, ConsentRegistry};
