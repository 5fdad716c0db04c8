//! Fluency: a conformant xAPI Learning Record Store.
//! Layers depend one way: `http -> service -> {storage, validation, xapi}`.

pub mod storage;
pub mod validation;
pub mod xapi;
