//! The home page: what Satchel is and links to everything it serves.

use leptos::prelude::*;

/// Links shown on the home page: (href, label, what it is).
pub const HOME_LINKS: &[(&str, &str, &str)] = &[
    ("/api/docs", "API documentation", "Browse the HTTP API (OpenAPI 3.1)"),
    ("/api/openapi.json", "OpenAPI document", "The machine-readable contract"),
    ("/healthz", "Health", "Liveness check"),
    ("/metrics", "Metrics", "Prometheus request counts and latencies"),
];

/// Satchel's own pages (signed in): (href, label, what it is).
pub const PAGE_LINKS: &[(&str, &str, &str)] = &[
    ("/leads", "Leads", "Cards with a feed, a Media tab and file fields"),
    ("/contacts", "Contacts", "The same, for people"),
    ("/companies", "Companies", "The same, for organisations"),
    ("/files", "Files", "Every file: filters, trash and restore, usage"),
];

/// Satchel's landing page. The "ready" badge flips once the page has
/// hydrated, which tells a person (and the browser tests) that the wasm
/// bundle loaded and took over.
#[component]
pub fn HomePage() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <section class="card">
            <h1>"Satchel"</h1>
            <p class="lead">
                "A self-hosted file service that speaks Kommo's Files API: resumable upload "
                "sessions, files with versions, a trash, and files on leads, contacts and companies."
            </p>
            <p
                class="status"
                data-hydrated=move || hydrated.get().to_string()
                aria-live="polite"
            >
                {move || if hydrated.get() { "Interactive" } else { "Loading…" }}
            </p>
            <h2>"Pages"</h2>
            <ul class="links">
                {PAGE_LINKS
                    .iter()
                    .map(|(href, label, about)| view! {
                        <li><a href=*href>{*label}</a> " — " <span>{*about}</span></li>
                    })
                    .collect_view()}
            </ul>
            <h2>"For integrations"</h2>
            <ul class="links">
                {HOME_LINKS
                    .iter()
                    .map(|(href, label, about)| {
                        view! {
                            <li>
                                <a href=*href rel="external">{*label}</a>
                                " — "
                                <span>{*about}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{HOME_LINKS, PAGE_LINKS};

    #[test]
    fn home_links_point_to_absolute_paths_served_by_satchel() {
        for (href, label, _) in HOME_LINKS {
            assert!(href.starts_with('/'), "{label} must link within Satchel");
        }
        let hrefs: Vec<_> = HOME_LINKS.iter().map(|l| l.0).collect();
        assert!(hrefs.contains(&"/api/docs"));
        assert!(hrefs.contains(&"/healthz"));
        for (href, label, _) in PAGE_LINKS {
            let route = href.trim_start_matches('/');
            assert!(
                route == "files" || crate::pages::KINDS.iter().any(|k| k.0 == route),
                "{label} must be one of the app's routes"
            );
        }
    }
}
