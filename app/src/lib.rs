#![recursion_limit = "256"]
//! Satchel's pages and components. Everything here renders on the server
//! (feature `ssr`) and hydrates in the browser (feature `hydrate`); no
//! server-only code lives in this crate's components.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

mod home;
pub mod pages;
pub mod upload;
mod uploader;
pub mod wire;

pub use home::HomePage;
pub use uploader::Uploader;

/// The HTML document around every page, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    pages::backend::secure_page();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes to Satchel's pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let viewer: pages::ViewerResource = Resource::new(|| (), |_| pages::current_viewer());
    provide_context(viewer);

    view! {
        <Stylesheet id="leptos" href="/pkg/satchel.css" />
        <Title text="Satchel" />
        <Router>
            <pages::TopBar />
            <main>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=StaticSegment("") view=HomePage />
                    <Route
                        ssr=SsrMode::Async
                        path=StaticSegment("files")
                        view=pages::FilesManagerPage
                    />
                    <Route
                        ssr=SsrMode::Async
                        path=StaticSegment("leads")
                        view=|| view! { <pages::EntityListPage kind="leads" /> }
                    />
                    <Route
                        ssr=SsrMode::Async
                        path=(StaticSegment("leads"), ParamSegment("id"))
                        view=|| view! { <pages::EntityCardPage kind="leads" /> }
                    />
                    <Route
                        ssr=SsrMode::Async
                        path=StaticSegment("contacts")
                        view=|| view! { <pages::EntityListPage kind="contacts" /> }
                    />
                    <Route
                        ssr=SsrMode::Async
                        path=(StaticSegment("contacts"), ParamSegment("id"))
                        view=|| view! { <pages::EntityCardPage kind="contacts" /> }
                    />
                    <Route
                        ssr=SsrMode::Async
                        path=StaticSegment("companies")
                        view=|| view! { <pages::EntityListPage kind="companies" /> }
                    />
                    <Route
                        ssr=SsrMode::Async
                        path=(StaticSegment("companies"), ParamSegment("id"))
                        view=|| view! { <pages::EntityCardPage kind="companies" /> }
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// Shown for any path no page claims.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="card">
            <h1>"Not found"</h1>
            <p>"No page lives here. " <a href="/">"Back to Satchel"</a></p>
        </section>
    }
}
