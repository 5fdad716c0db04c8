//! Storage: the backend-neutral contract (`contract`) and its backends.

pub mod blobs;
pub mod contract;

pub use contract::*;
pub mod sqlite;
