//! Fluency: a conformant xAPI Learning Record Store.
//! Layers depend one way: `http -> service -> {storage, rules, validation, xapi}`; `auth` is used
//! by `http` and the CLI.

pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod credentials;
pub mod delivery;
pub mod error;
pub mod governance;
pub mod http;
pub mod impact;
pub mod kpi;
pub mod metrics;
pub mod people;
pub mod private_file;
pub mod rules;
pub mod service;
pub mod skills;
pub mod startup;
pub mod storage;
pub mod tabular;
pub mod validation;
pub mod xapi;

// Unit tests count allocations as the server does, so memory limits are tested for real.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: rules::memory::CountingAllocator<std::alloc::System> =
    rules::memory::CountingAllocator(std::alloc::System);
