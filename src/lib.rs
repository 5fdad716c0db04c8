//! Fluency: a conformant xAPI Learning Record Store.
//! Layers depend one way: `http -> service -> {storage, rules, validation, xapi}`; `auth` is used
//! by `http` and the CLI.

pub mod auth;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod error;
pub mod http;
pub mod impact;
pub mod kpi;
pub mod metrics;
pub mod people;
pub mod rules;
pub mod service;
pub mod skills;
pub mod startup;
pub mod storage;
pub mod tabular;
pub mod validation;
pub mod xapi;
