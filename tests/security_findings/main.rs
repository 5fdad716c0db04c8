//! One test per finding of the security review (issue #20), each against the real
//! `Application` over HTTP. Datatype panics (finding 2) have their own binary,
//! `security_datatypes`, with the property tests beside the predicates.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod authentication;
mod emission_markers;
mod keys_and_errors;
mod memory_bounds;
mod metrics;
mod more_links;
