//! Property tests (the `cargo test` stand-in for fuzzing, issue #20): every datatype
//! predicate, the strict JSON parser, statement validation and the multipart parser are fed
//! arbitrary Unicode and bytes, and must answer without panicking, refuse with an error that
//! names the field, and still accept known-good values.
//!
//! Each property runs a fixed number of cases (see [`strategies::config`]); set
//! `PROPTEST_CASES` to run more, e.g. `PROPTEST_CASES=100000 cargo test --test properties`.

mod datatypes;
mod equivalence;
#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod json;
mod live;
mod multipart;
mod signature;
mod statements;
mod strategies;
mod time;
