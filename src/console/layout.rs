//! The console's shell: the document, a skip link, the navigation a viewer's role allows,
//! who is signed in and the sign-out form. maud escapes every text.

use actix_web::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use super::roles::Need;
use super::session::Session;

/// The navigation: path, label, and what seeing it needs.
const PAGES: [(&str, &str, Need); 7] = [
    ("/console", "Overview", Need::Overview),
    ("/console/impact", "Impact", Need::Analyse),
    ("/console/skills", "Skills", Need::Teams),
    ("/console/initiatives", "Initiatives", Need::Curate),
    ("/console/rules", "Rules", Need::Administer),
    ("/console/deliveries", "Deliveries", Need::Administer),
    ("/console/audit", "Audit log", Need::Administer),
];

fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Fluency" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body { (body) }
        }
    }
}

/// A page of the console for a signed-in viewer; `current` is the navigation entry to mark.
pub fn page(session: &Session, current: &str, title: &str, content: Markup) -> Markup {
    let viewer = &session.viewer;
    document(
        title,
        html! {
            a.skip href="#main" { "Skip to content" }
            header.shell {
                a.brand href="/console" { "Fluency" }
                nav aria-label="Console" {
                    ul {
                        @for (path, label, need) in PAGES {
                            @if viewer.may(need) {
                                li {
                                    @if path == current {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                }
                div.who {
                    span.name { (viewer.name) }
                    " "
                    span.roles { (viewer.role_names().join(", ")) }
                    form method="post" action="/console/sign-out" {
                        (csrf_field(session))
                        button type="submit" { "Sign out" }
                    }
                }
            }
            main id="main" tabindex="-1" {
                h1 { (title) }
                (content)
            }
        },
    )
}

/// A page without the shell (signing in, errors before sign-in).
pub fn bare(title: &str, content: Markup) -> Markup {
    document(
        title,
        html! {
            main.bare id="main" {
                p.brand { "Fluency" }
                h1 { (title) }
                (content)
            }
        },
    )
}

pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

pub fn error_page(session: Option<&Session>, status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    let content = html! {
        p.error role="alert" { (message) }
        p { a href="/console" { "Back to the console" } }
    };
    match session {
        Some(session) => page(session, "", title, content),
        None => bare(title, content),
    }
}

/// A number with thousands separated by thin spaces.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::count(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(super::count(999), "999");
    }
}
