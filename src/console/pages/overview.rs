//! The overview: statements per day over the last 30 days with data, active learners,
//! the sources statements come from, and rule activity. Everything is read from the
//! folded figures and the rule catalog, so the page does no scan.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::super::activity::Figures;
use super::super::guard::{html, require};
use super::super::layout::{count, page};
use super::super::roles::Need;
use super::super::Console;
use crate::http::AppState;

const DAYS: i64 = 30;
const TOP_SOURCES: usize = 10;

pub async fn get_overview(
    request: HttpRequest,
    console: web::Data<Console>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let session = match require(&request, &console, Need::Overview) {
        Ok(session) => session,
        Err(answer) => return answer,
    };
    let content = console.activity.read(|figures| {
        html! {
            @if !figures.caught_up {
                p.notice role="status" { "Still counting the statements stored before the server started; figures grow until done." }
            }
            (headline(figures))
            (per_day(figures))
            (sources(figures))
        }
    });
    let rules = rule_activity(&state);
    html(StatusCode::OK, page(&session, "/console", "Overview", html! { (content) (rules) }))
}

fn headline(figures: &Figures) -> Markup {
    let latest = figures.latest_day();
    let learners = |days| latest.map_or(0, |last| figures.active_learners(last, days));
    html! {
        dl.figures {
            div { dt { "Statements" } dd { (count(figures.statements)) } }
            div { dt { "Active learners, last 7 days" } dd { (count(learners(7) as u64)) } }
            div { dt { "Active learners, last 30 days" } dd { (count(learners(30) as u64)) } }
            div { dt { "Learners" } dd { (count(figures.last_day.len() as u64)) } }
            div { dt { "KPIs" } dd { (count(figures.kpis.len() as u64)) } }
        }
    }
}

/// A bar chart (SVG) with the same figures as a table for screen readers and copying.
fn per_day(figures: &Figures) -> Markup {
    let Some(last) = figures.latest_day() else {
        return html! { h2 { "Statements per day" } p { "No statement is stored yet." } };
    };
    let days: Vec<(i64, u64)> =
        (last - DAYS + 1..=last).map(|day| (day, figures.per_day.get(&day).copied().unwrap_or(0))).collect();
    let most = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let (width, height, bar) = (600.0, 160.0, 600.0 / DAYS as f64);
    html! {
        h2 id="per-day" { "Statements per day" }
        svg.bars viewBox={"0 0 " (width) " " (height + 20.0)} role="img" aria-labelledby="per-day-title" {
            title id="per-day-title" { "Statements per day, " (date(days[0].0)) " to " (date(last)) ", at most " (most) }
            @for (index, (day, statements)) in days.iter().enumerate() {
                @let h = height * *statements as f64 / most as f64;
                rect x=(index as f64 * bar + 1.0) y=(height - h) width=(bar - 2.0) height=(h) {
                    title { (date(*day)) ": " (statements) }
                }
            }
            text x="0" y=(height + 15.0) { (date(days[0].0)) }
            text x=(width) y=(height + 15.0) text-anchor="end" { (date(last)) }
        }
        details {
            summary { "The figures as a table" }
            table {
                thead { tr { th scope="col" { "Day" } th scope="col" { "Statements" } } }
                tbody {
                    @for (day, statements) in &days {
                        tr { td { (date(*day)) } td.num { (count(*statements)) } }
                    }
                }
            }
        }
    }
}

fn sources(figures: &Figures) -> Markup {
    let mut sources: Vec<(&String, &u64)> = figures.sources.iter().collect();
    sources.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    html! {
        h2 { "Sources" }
        @if sources.is_empty() {
            p { "None yet." }
        } @else {
            table {
                caption { "Statements by the credential that sent them" }
                thead { tr { th scope="col" { "Source" } th scope="col" { "Statements" } } }
                tbody {
                    @for (source, statements) in sources.iter().take(TOP_SOURCES) {
                        tr { td { (source) } td.num { (count(**statements)) } }
                    }
                }
            }
        }
    }
}

fn rule_activity(state: &AppState) -> Markup {
    let Some(catalog) = &state.rules else {
        return html! { h2 { "Rule activity" } p { "Rules are turned off on this server." } };
    };
    let listing = catalog.list();
    let enabled = listing.rules.iter().filter(|r| r.enabled && !r.health.disabled).count();
    let stopped = listing.rules.iter().filter(|r| r.health.disabled).count();
    let runs: u64 = listing.rules.iter().map(|r| r.health.runs).sum();
    let failures: u64 = listing.rules.iter().map(|r| r.health.failures).sum();
    html! {
        h2 { "Rule activity" }
        dl.figures {
            div { dt { "Rules enabled" } dd { (enabled) " of " (listing.rules.len()) } }
            div { dt { "Stopped by failures" } dd { (stopped) } }
            div { dt { "Runs since start" } dd { (count(runs)) } }
            div { dt { "Failed runs" } dd { (count(failures)) } }
        }
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn date(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}
