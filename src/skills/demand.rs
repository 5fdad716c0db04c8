//! Skill demand: per skill, the monthly volume of evidence (and of people showing it), the
//! demand signals the framework holds (roles requiring the skill), a linear trend with 6-
//! and 12-month forecasts and 95% prediction intervals, and an "emerging" flag when the
//! volume rises significantly. Ordinary least squares on the monthly counts; docs/skills.md,
//! "Demand", gives the formulas. Pure: the caller reads the volumes from the store.

use std::collections::BTreeMap;

use serde::Serialize;

use super::framework::Framework;
use crate::impact::distribution::{student_t_cdf, student_t_quantile};
use crate::storage::EvidenceVolume;

/// A significance level for "emerging": the slope's one-sided p-value must be below it.
const EMERGING_P: f64 = 0.05;
/// And the fitted volume must have risen by at least this share over the window.
const EMERGING_RISE: f64 = 0.25;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub months_ahead: u32,
    pub evidence: f64,
    /// The 95% prediction interval (never below 0).
    pub low: f64,
    pub high: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SkillDemand {
    pub skill: String,
    pub name: Option<String>,
    /// `YYYY-MM`, evidence, people: every month of the window, zeros included.
    pub months: Vec<(String, u64, u64)>,
    /// Roles of the framework that require the skill.
    pub roles_requiring: usize,
    /// Enabled rules whose source names the skill's IRI (nudges and awards about it).
    pub rules_asking: usize,
    /// Change of monthly evidence per month, and its one-sided p-value (rising).
    pub trend_per_month: f64,
    pub trend_p: Option<f64>,
    pub forecasts: Vec<Forecast>,
    pub emerging: bool,
}

/// The last `months` calendar months up to and including `last_month` (`YYYY-MM`).
pub fn window(last_month: &str, months: u32) -> Vec<String> {
    let (year, month) = last_month.split_once('-').unwrap_or(("1970", "01"));
    let index = year.parse::<i64>().unwrap_or(1970) * 12 + month.parse::<i64>().unwrap_or(1) - 1;
    (0..months as i64)
        .rev()
        .map(|back| {
            let i = index - back;
            format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1)
        })
        .collect()
}

/// Demand for every skill of the framework over the months given (oldest first). Months
/// before the first evidence of any skill are left out: they are months without data, not
/// months without demand. `rule_sources` are the enabled rules' files, searched for each
/// skill's IRI.
pub fn demand(
    framework: &Framework,
    volumes: &[EvidenceVolume],
    months: &[String],
    rule_sources: &[String],
) -> Vec<SkillDemand> {
    let first = volumes.iter().map(|v| v.month.as_str()).min();
    let skip = first.map_or(0, |first| months.iter().take_while(|m| m.as_str() < first).count());
    let months = &months[skip.min(months.len().saturating_sub(3))..];
    let mut by_skill: BTreeMap<&str, BTreeMap<&str, (u64, u64)>> = BTreeMap::new();
    for volume in volumes {
        by_skill
            .entry(volume.skill.as_str())
            .or_default()
            .insert(volume.month.as_str(), (volume.evidence, volume.people));
    }
    framework
        .skills
        .values()
        .map(|skill| {
            let counts = by_skill.get(skill.iri.as_str());
            let months: Vec<(String, u64, u64)> = months
                .iter()
                .map(|m| {
                    let (evidence, people) = counts.and_then(|c| c.get(m.as_str())).copied().unwrap_or((0, 0));
                    (m.clone(), evidence, people)
                })
                .collect();
            let series: Vec<f64> = months.iter().map(|(_, evidence, _)| *evidence as f64).collect();
            let fit = LinearFit::of(&series);
            let forecasts = [6u32, 12]
                .into_iter()
                .filter_map(|ahead| fit.as_ref()?.forecast(series.len() as f64 - 1.0 + ahead as f64, ahead))
                .collect();
            let emerging = fit.as_ref().is_some_and(|f| {
                let (first, last) = (f.at(0.0), f.at(series.len() as f64 - 1.0));
                let active = series.iter().filter(|v| **v > 0.0).count() >= 3;
                active && f.rising_p().is_some_and(|p| p < EMERGING_P) && last >= first.max(1.0) * (1.0 + EMERGING_RISE)
            });
            SkillDemand {
                skill: skill.iri.clone(),
                name: skill.display_name().cloned(),
                months,
                roles_requiring: framework
                    .roles
                    .values()
                    .filter(|r| r.requires.iter().any(|q| q.skill == skill.iri))
                    .count(),
                rules_asking: rule_sources
                    .iter()
                    .filter(|source| source.contains(&format!("\"{}\"", skill.iri)))
                    .count(),
                trend_per_month: fit.as_ref().map_or(0.0, |f| f.slope),
                trend_p: fit.as_ref().and_then(LinearFit::rising_p),
                forecasts,
                emerging,
            }
        })
        .collect()
}

/// y = intercept + slope * t over t = 0, 1, ..., n - 1.
struct LinearFit {
    n: f64,
    intercept: f64,
    slope: f64,
    /// Residual standard deviation, and the sum of squares of t about its mean.
    sigma: f64,
    sxx: f64,
    mean_t: f64,
}

impl LinearFit {
    /// At least 3 points (one degree of freedom for the residuals).
    fn of(series: &[f64]) -> Option<Self> {
        let n = series.len() as f64;
        if series.len() < 3 {
            return None;
        }
        let mean_t = (n - 1.0) / 2.0;
        let mean_y = series.iter().sum::<f64>() / n;
        let sxx: f64 = (0..series.len()).map(|t| (t as f64 - mean_t).powi(2)).sum();
        let sxy: f64 = series.iter().enumerate().map(|(t, y)| (t as f64 - mean_t) * (y - mean_y)).sum();
        let slope = sxy / sxx;
        let intercept = mean_y - slope * mean_t;
        let residuals: f64 = series.iter().enumerate().map(|(t, y)| (y - intercept - slope * t as f64).powi(2)).sum();
        Some(Self { n, intercept, slope, sigma: (residuals / (n - 2.0)).sqrt(), sxx, mean_t })
    }

    fn at(&self, t: f64) -> f64 {
        self.intercept + self.slope * t
    }

    /// P(slope this large | no trend), one-sided; `None` for a perfect fit.
    fn rising_p(&self) -> Option<f64> {
        let standard_error = self.sigma / self.sxx.sqrt();
        if standard_error == 0.0 {
            return (self.slope > 0.0).then_some(0.0).or(Some(1.0));
        }
        Some(1.0 - student_t_cdf(self.slope / standard_error, self.n - 2.0)?)
    }

    /// The fitted value at `t` with the 95% prediction interval of a new observation:
    /// y(t) ± t(0.975, n - 2) σ √(1 + 1/n + (t - mean_t)² / Sxx).
    fn forecast(&self, t: f64, months_ahead: u32) -> Option<Forecast> {
        let quantile = student_t_quantile(0.975, self.n - 2.0)?;
        let half = quantile * self.sigma * (1.0 + 1.0 / self.n + (t - self.mean_t).powi(2) / self.sxx).sqrt();
        let value = self.at(t);
        Some(Forecast {
            months_ahead,
            evidence: value.max(0.0),
            low: (value - half).max(0.0),
            high: (value + half).max(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::native::read_native;

    fn framework() -> Framework {
        let text = "[[skill]]\niri = \"https://s.example/rust\"\n[[skill]]\niri = \"https://s.example/cobol\"\n[[role]]\nid = \"https://r.example/dev\"\nrequires = [{ skill = \"https://s.example/rust\", level = 3 }]\n";
        Framework::build(read_native("t.toml", text).unwrap()).unwrap()
    }

    fn volumes(skill: &str, counts: &[u64], months: &[String]) -> Vec<EvidenceVolume> {
        counts
            .iter()
            .zip(months)
            .map(|(c, m)| EvidenceVolume { skill: skill.into(), month: m.clone(), evidence: *c, people: c / 2 })
            .collect()
    }

    #[test]
    fn a_window_runs_back_across_years() {
        assert_eq!(window("2026-02", 4), vec!["2025-11", "2025-12", "2026-01", "2026-02"]);
    }

    #[test]
    fn a_steady_rise_is_emerging_and_a_flat_noisy_series_is_not() {
        let months = window("2026-12", 12);
        let mut data = volumes("https://s.example/rust", &[10, 12, 15, 15, 19, 21, 22, 26, 27, 30, 33, 35], &months);
        data.extend(volumes("https://s.example/cobol", &[20, 18, 21, 19, 22, 20, 18, 21, 19, 20, 22, 19], &months));

        let found = demand(&framework(), &data, &months, &[]);

        let rust = found.iter().find(|d| d.skill.ends_with("rust")).unwrap();
        let cobol = found.iter().find(|d| d.skill.ends_with("cobol")).unwrap();
        assert!(rust.emerging && !cobol.emerging, "{rust:?} {cobol:?}");
        assert_eq!(rust.roles_requiring, 1);
        let rules = ["notify(\"x\", skill_level(actor_id(statement), \"https://s.example/rust\"));".to_string()];
        let asked = demand(&framework(), &data, &months, &rules);
        assert_eq!(asked.iter().map(|d| d.rules_asking).collect::<Vec<_>>(), vec![0, 1], "cobol, then rust");
        assert!((rust.trend_per_month - 2.2).abs() < 0.2, "{}", rust.trend_per_month);
        let in_a_year = &rust.forecasts[1];
        assert_eq!(in_a_year.months_ahead, 12);
        assert!(in_a_year.low < in_a_year.evidence && in_a_year.evidence < in_a_year.high);
        assert!(in_a_year.evidence > 55.0 && in_a_year.evidence < 65.0, "{in_a_year:?}");
        assert!(rust.forecasts[0].high - rust.forecasts[0].low < in_a_year.high - in_a_year.low, "wider further out");
    }

    #[test]
    fn months_before_any_evidence_are_not_counted_as_no_demand() {
        let months = window("2026-12", 24);
        let flat = volumes("https://s.example/cobol", &[20, 18, 21, 19, 22, 20, 18, 21, 19, 20, 22, 19], &months[12..]);

        let found = demand(&framework(), &flat, &months, &[]);

        let cobol = found.iter().find(|d| d.skill.ends_with("cobol")).unwrap();
        assert_eq!(cobol.months.len(), 12, "the window starts at the first evidence");
        assert!(!cobol.emerging, "{cobol:?}");
    }

    #[test]
    fn prediction_intervals_match_the_textbook_formula() {
        // y = 1, 3, 2, 5, 4 over t = 0..4: slope 0.8, intercept 1.4, residual SS 3.6.
        let fit = LinearFit::of(&[1.0, 3.0, 2.0, 5.0, 4.0]).unwrap();
        assert!((fit.slope - 0.8).abs() < 1e-12 && (fit.intercept - 1.4).abs() < 1e-12);
        let forecast = fit.forecast(6.0, 2).unwrap();
        let sigma = (3.6f64 / 3.0).sqrt();
        let half = 3.182446305284263 * sigma * (1.0 + 0.2 + 16.0 / 10.0f64).sqrt();
        assert!((forecast.evidence - 6.2).abs() < 1e-12);
        assert!((forecast.high - (6.2 + half)).abs() < 1e-6, "{forecast:?}");
    }
}
