//! Skills: a living, explainable map of what every person can do, inferred from the
//! statements Fluency already stores. This module owns the framework (skills, roles and
//! evidence mappings, read from `<data_dir>/skills/` and the admin API) and, as they land,
//! evidence extraction, the inference model and its runner, and the queries the API and
//! CLI answer.
//!
//! A statement's way through it: the skills runner follows committed statements in
//! `stored` order (never the ingest path), `evidence` finds which skills a statement is
//! evidence of and how strongly, `model` updates each person's estimate, and the runner
//! writes evidence, estimates and its position in one storage commit.

pub mod case;
pub mod catalog;
pub mod demand;
pub mod esco;
pub mod evidence;
pub mod framework;
pub mod inference;
pub mod model;
pub mod native;
pub mod queries;
pub mod report;
pub mod runner;
pub mod simulate;
pub mod teams;

pub use catalog::FrameworkCatalog;
pub use framework::{Framework, FrameworkError, FrameworkParts, Origin};
pub use inference::SkillMap;
pub use queries::SkillsService;
pub use runner::SkillsRunner;
