//! One integration-test binary: each module drives the real `Application` over HTTP.

mod about;
mod auth;
mod conformance;
mod console;
mod delivery;
mod documents;
mod erasure_kill;
mod helpers;
mod impact;
mod impact_spec;
mod openapi;
mod process;
#[path = "../support/receiver.rs"]
mod receiver;
mod rules;
#[path = "../support/scan.rs"]
mod scan;
mod statements;
