//! KPI data for impact analysis: the KPI xAPI profile (observations as ordinary
//! statements), the CSV import, the seeded demo dataset, and the `fluency kpi` and
//! `fluency demo` commands. Writes through `service`; the impact analysis reads back with
//! `profile::read_kpi_statement`.

pub mod command;
pub mod demo;
pub mod import;
pub mod profile;
pub mod sink;

pub use demo::{demo_impact_spec, generate_demo, DemoData, DemoSpec, DemoTruth};
pub use import::{ActorKind, CsvColumns, CsvImport, CsvRows, RowError};
pub use profile::{
    kpi_statement, read_kpi_definition, read_kpi_statement, Direction, KpiDefinition, KpiObservation, ReadObservation,
};
pub use sink::StatementSink;
