//! xAPI domain logic that needs no storage and no HTTP: versions, timestamps, agents,
//! statement preparation, equivalence, output formats, activity definitions and the
//! multipart form of statements with attachments.

pub mod activity;
pub mod agent;
pub mod equivalence;
pub mod format;
pub mod language;
pub mod multipart;
pub mod prepare;
pub mod terms;
pub mod time;
pub mod version;

pub use version::XapiVersion;
