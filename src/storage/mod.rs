//! Storage: the backend-neutral contract (`contract`) and its backends.

pub mod automation;
pub mod blobs;
pub mod contract;

pub use automation::*;
pub use contract::*;
pub mod sqlite;
