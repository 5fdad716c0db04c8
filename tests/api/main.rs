//! One integration-test binary: each module drives the real `Application` over HTTP.

mod about;
mod auth;
mod conformance;
mod documents;
mod helpers;
mod process;
mod rules;
mod statements;
