//! Impact analytics: did a training or nudge change a KPI? Pure statistics over per-person KPI
//! observations (difference in differences with Welch tests, effect sizes, power, parallel-trend
//! and regression-to-the-mean checks; ANCOVA adjustment in `adjust`; staggered training dates
//! in `staggered`; guardrail KPIs in `guardrail`; many KPIs at once in `multiplicity`; dose
//! in `dose`), Phillips ROI, and a self-contained HTML report. No
//! storage and no HTTP: the API, the CLI and the Rhai host functions fetch the observations
//! and call in here. Methods and their limits: `docs/impact.md`.

pub mod adjust;
pub mod analysis;
pub(crate) mod chart;
mod chart_event;
pub mod claim;
pub(crate) mod distribution;
pub mod dose;
pub(crate) mod format;
pub mod guardrail;
mod headline;
pub mod input;
pub mod multiplicity;
pub mod ols;
pub mod report;
pub mod report_sections;
pub mod roi;
pub mod simulation;
pub mod staggered;
pub mod stats;
pub mod trend;

pub use analysis::{
    analyze, GroupFigures, ImpactReport, ParallelTrendCheck, TrendCheckStatus, Verdict, Warning, WarningCode,
};
pub use input::{ImpactData, ImpactError, ImpactInput, ImpactSpec, KpiDirection, Observation};
pub use report::{render_html, render_html_with};
pub use roi::{roi, RoiInput, RoiReport};
pub use stats::{welch, Summary, TTest};
pub use trend::{trend_series, TrendPoint, TrendSeries};
