//! People and teams: who is in which team, reports to whom and holds which role, imported
//! from a CSV file (`import`) and kept through the storage contract's people section.
//! `fluency people import` (`cli::people`) reads the file and stores the records.

pub mod import;

pub use import::{parse_ifi, read_people, PeopleCsvError, PeopleRows};
