//! Services: the xAPI rules that sit above storage (conflicts, voiding decisions,
//! definition merging, output formats). Called by the HTTP layer and the CLI; they know
//! nothing of HTTP.

pub mod attachments;
pub mod documents;
pub mod impact;
pub mod impact_study;
pub mod rules;
pub mod statements;

pub use documents::{Conditions, DocumentService, Write};
pub use statements::{AttachmentFile, Format, StatementService};
