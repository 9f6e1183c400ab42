//! The frame every console page shares (navigation, who is logged in, the logout form with its
//! CSRF token), the login form and the problem page.

use maud::{DOCTYPE, Markup, html};

/// Who is looking, and the CSRF token their forms carry.
pub(super) struct View {
    /// The admin token's name.
    pub(super) actor: String,
    /// The session's CSRF token.
    pub(super) csrf: String,
}

/// The navigation: path and label.
const NAV: [(&str, &str); 8] = [
    ("/console/", "Providers"),
    ("/console/policies", "Policies and buckets"),
    ("/console/locate", "Where is my data"),
    ("/console/health", "Health"),
    ("/console/jobs", "Jobs"),
    ("/console/keys", "Keys"),
    ("/console/audit", "Audit log"),
    ("/console/report", "Report"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            title { (title) " · souverain" }
            link rel="stylesheet" href="/console/assets/console.css";
            link rel="icon" type="image/svg+xml" href="/console/assets/favicon.svg";
        }
    }
}

/// A page of the logged-in console: `current` is its navigation entry.
pub(super) fn frame(view: &View, current: &str, title: &str, content: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    strong { "souverain" }
                    @for (path, label) in NAV {
                        a href=(path) class=[(path == current).then_some("current")] { (label) }
                    }
                    form.inline method="post" action="/console/logout" {
                        span.muted { (view.actor) " " }
                        input type="hidden" name="csrf" value=(view.csrf);
                        button type="submit" { "Log out" }
                    }
                }
                main {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The login form, with why the last attempt failed.
pub(super) fn login(message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Log in"))
            body {
                form.login method="post" action="/console/login" {
                    h1 { "souverain console" }
                    @if let Some(m) = message { p.notice { (m) } }
                    label for="token" { "Admin token" }
                    input #token type="password" name="token" autocomplete="off" required;
                    button type="submit" { "Log in" }
                }
            }
        }
    }
}

/// A page that only says what went wrong.
pub(super) fn problem(message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Problem"))
            body { main { p.notice { (message) } p { a href="/console/" { "Back to the console" } } } }
        }
    }
}
