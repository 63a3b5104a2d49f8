//! The pages a signed-in person uses: entity lists for now. Each reads
//! through `api`'s server functions, so it renders on the server (and
//! reads with JavaScript off) and works fully once hydrated.

use leptos::{form::ActionForm, prelude::*};

pub mod api;

use api::{CreateEntity, Viewer};

/// The entity types, with their page titles.
pub const KINDS: [(&str, &str, &str); 3] = [
    ("leads", "Leads", "lead"),
    ("contacts", "Contacts", "contact"),
    ("companies", "Companies", "company"),
];

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
                        Err(e) => view! { <p role="alert">{e.to_string()}</p> }.into_any(),
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

/// A list of leads, contacts or companies, with a form for a new one.
#[component]
pub fn EntityListPage(kind: &'static str) -> impl IntoView {
    let (_, title, one) = KINDS.iter().copied().find(|k| k.0 == kind).unwrap_or(KINDS[0]);
    let create = ServerAction::<CreateEntity>::new();
    let rows =
        Resource::new(move || create.version().get(), move |_| api::entities(kind.to_owned()));
    let list = move |_: Viewer| {
        view! {
            <section class="card">
                <h1>{title}</h1>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match rows.await {
                            Ok(rows) if rows.is_empty() => {
                                view! { <p class="muted">{format!("No {kind} yet.")}</p> }.into_any()
                            }
                            Ok(rows) => view! {
                                <ul class="entity-list">
                                    {rows
                                        .into_iter()
                                        .map(|r| view! {
                                            <li><a href=format!("/{kind}/{}", r.id)>{r.name}</a></li>
                                        })
                                        .collect_view()}
                                </ul>
                            }
                            .into_any(),
                            Err(e) => view! { <p role="alert">{e.to_string()}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        }
    };
    let form = move |viewer: Viewer| {
        view! {
            <section class="card">
                <h2>{format!("New {one}")}</h2>
                <ActionForm action=create attr:class="inline-form">
                    <input type="hidden" name="csrf" value=viewer.csrf />
                    <input type="hidden" name="kind" value=kind />
                    <label>
                        "Name " <input type="text" name="name" required maxlength="255" />
                    </label>
                    <button type="submit">"Create"</button>
                </ActionForm>
                {move || {
                    create
                        .value()
                        .get()
                        .and_then(|r| r.err())
                        .map(|e| view! { <p role="alert">{e.to_string()}</p> })
                }}
            </section>
        }
    };
    view! {
        <RequireViewer signed_in=move |v: Viewer| view! { {list(v.clone())} {form(v)} } />
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
