//! xAPI domain logic that needs no storage and no HTTP: versions, timestamps, agents,
//! statement preparation, equivalence, output formats and activity definitions.

pub mod multipart;
pub mod time;
pub mod version;

pub use version::XapiVersion;
