//! What every page sits in: who is signed in (`Viewer`, read once per
//! page load), the bar at the top, and `RequireViewer`, which shows a
//! page's content only to someone signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::shared::{problem, KINDS};

/// The signed-in browser, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub account: String,
    /// Sent back with every state-changing call.
    pub csrf: String,
    /// Whether it may move files to the trash.
    pub may_delete: bool,
}

/// Who is signed in (`None`: nobody).
#[server(prefix = "/_pages")]
pub async fn current_viewer() -> Result<Option<Viewer>, ServerFnError> {
    super::backend::viewer().await
}

/// The viewer, fetched once per page load.
pub type ViewerResource = Resource<Result<Option<Viewer>, ServerFnError>>;

/// Renders `signed_in` with the viewer, or how to sign in.
#[component]
pub fn RequireViewer<F, V>(signed_in: F) -> impl IntoView
where
    F: Fn(Viewer) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let viewer = expect_context::<ViewerResource>();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let signed_in = signed_in.clone();
                Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => signed_in(v).into_any(),
                        Ok(None) => view! { <SignInHint /> }.into_any(),
                        Err(e) => view! { <p role="alert">{problem(&e)}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn SignInHint() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Sign in"</h1>
            <p>
                "Open the sign-in link Satchel printed when it started, or run "
                <code>"satchel login-link"</code> " on the server for a new one."
            </p>
        </section>
    }
}

/// The bar at the top of every page: where to go, and who is signed in.
#[component]
pub fn TopBar() -> impl IntoView {
    let viewer = expect_context::<ViewerResource>();
    view! {
        <header class="topbar">
            <nav aria-label="Main">
                <a href="/" class="brand">"Satchel"</a>
                {KINDS
                    .iter()
                    .map(|(kind, title, _)| view! { <a href=format!("/{kind}")>{*title}</a> })
                    .collect_view()}
                <a href="/files">"Files"</a>
            </nav>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => view! {
                            <form method="post" action="/logout" class="signout">
                                <span class="muted">{v.account}</span>
                                <input type="hidden" name="csrf" value=v.csrf />
                                <button type="submit">"Sign out"</button>
                            </form>
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }
                })}
            </Suspense>
        </header>
    }
}
