//! Statement and parameter validation: strict JSON parsing, JSON Schema structure checks
//! (documents in `schemas/`) and the rules a schema cannot express. Called by the service
//! layer before anything reaches storage.

mod error;
pub mod signature;

pub use error::ValidationError;
