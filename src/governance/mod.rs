//! Governance: what a privacy officer signs off. Today this module owns the audit log:
//! every administrative action (rules, credentials, frameworks, analyses, imports) is
//! appended to a hash-chained log in the store, readable and verifiable through the admin
//! API (`/api/audit`). Transparency reports, consent, erasure and retention will live here.

pub mod audit;

pub use audit::{record, verify, Verification};
