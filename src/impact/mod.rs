//! Impact analytics: did a training or nudge change a KPI? Pure statistics over per-person KPI
//! observations (difference in differences with Welch tests, effect sizes, power, parallel-trend
//! and regression-to-the-mean checks), Phillips ROI, and a self-contained HTML report. No
//! storage and no HTTP: the API, the CLI and the Rhai host functions fetch the observations
//! and call in here. Methods and their limits: `docs/impact.md`.

pub mod analysis;
pub(crate) mod chart;
pub(crate) mod distribution;
pub(crate) mod format;
pub mod input;
pub mod report;
pub mod roi;
pub mod stats;
pub mod trend;

pub use analysis::{
    analyze, GroupFigures, ImpactReport, ParallelTrendCheck, TrendCheckStatus, Verdict, Warning, WarningCode,
};
pub use input::{ImpactData, ImpactError, ImpactInput, ImpactSpec, KpiDirection, Observation};
pub use report::render_html;
pub use roi::{roi, RoiInput, RoiReport};
pub use stats::{welch, Summary, TTest};
pub use trend::{trend_series, TrendPoint, TrendSeries};
