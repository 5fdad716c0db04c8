//! Property tests, the `cargo test` stand-in for fuzzing (issue #20; cargo-fuzz needs a
//! nightly toolchain): every datatype predicate, the timestamp parser, the strict JSON parser,
//! statement validation and what runs on accepted statements, the multipart parser, the JWS
//! check and the live server are fed characters chosen to break byte arithmetic (multi-byte,
//! combining, case-changing, controls) near known-good values, and arbitrary bytes. They must
//! answer without panicking, refuse with an error that names the field, and still accept
//! generated well-formed values.
//!
//! Each property runs a fixed number of cases (constants `CASES` per module, read through
//! [`strategies::config`]) from a fresh random seed, so every CI run tries new inputs. To run
//! more: `PROPTEST_CASES=100000 cargo test --test properties` (it applies to every property,
//! the live ones included); `PROPTEST_RNG_SEED=<n>` makes a run repeatable. A failure prints
//! its shrunk input, which then belongs in a unit test next to the code it broke.

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
