//! The pages a signed-in person uses: entity lists for now. Each reads
//! through `api`'s server functions, so it renders on the server (and
//! reads with JavaScript off) and works fully once hydrated.

use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;

use crate::upload::plan::human_bytes;

pub mod api;
pub mod catalogue;
pub mod feed;
mod files;

pub use files::FilesManagerPage;

use api::{AddNote, CreateEntity, EntityCard, FieldCard, FileChip, SetTextField, Viewer};

/// The entity types, with their page titles.
pub const KINDS: [(&str, &str, &str); 3] = [
    ("leads", "Leads", "lead"),
    ("contacts", "Contacts", "contact"),
    ("companies", "Companies", "company"),
];

/// A server function's failure as a person reads it: the API's detail,
/// without the transport's prefix.
pub fn problem(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(text) => text.clone(),
        other => other.to_string(),
    }
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
                            Err(e) => view! { <p role="alert">{problem(&e)}</p> }.into_any(),
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
                        .map(|e| view! { <p role="alert">{problem(&e)}</p> })
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

/// A file as a chip: icon by type, name, size, download; a trashed file
/// shows as deleted, without a link.
#[component]
pub fn Chip(chip: FileChip) -> impl IntoView {
    let icon = feed::icon(&chip.kind);
    let size = human_bytes(chip.size.max(0) as u64);
    view! {
        <span class="chip" data-deleted=chip.is_deleted.to_string()>
            <span class="chip-icon" data-kind=chip.kind.clone() aria-hidden="true">{icon}</span>
            {if chip.is_deleted {
                view! {
                    <span class="chip-name">{chip.name.clone()}</span>
                    <span class="chip-deleted">"deleted"</span>
                }
                .into_any()
            } else {
                view! {
                    <a class="chip-name" href=chip.download.clone() download=chip.name.clone()>
                        {chip.name.clone()}
                    </a>
                }
                .into_any()
            }}
            <span class="chip-size">{size}</span>
        </span>
    }
}

/// The error of an action's last run, as an alert.
fn action_error<A>(action: ServerAction<A>) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = (), Error = ServerFnError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p role="alert" class="error">{problem(&e)}</p> })
    }
}

fn field_view(field: FieldCard, actions: MediaActions) -> impl IntoView {
    let body = if field.field_type == "text" {
        let MediaActions { kind, id, csrf, set_text, .. } = actions;
        let label = format!("New value of {}", field.name);
        let save = format!("Save {}", field.name);
        view! {
            <p class="field-text">{field.text.clone().unwrap_or_else(|| "—".into())}</p>
            <ActionForm action=set_text attr:class="inline-form">
                <input type="hidden" name="csrf" value=csrf />
                <input type="hidden" name="kind" value=kind />
                <input type="hidden" name="id" value=id.to_string() />
                <input type="hidden" name="field_id" value=field.id.to_string() />
                <input type="text" name="text" aria-label=label maxlength="4000"
                    value=field.text.unwrap_or_default() />
                <button type="submit" class="small" aria-label=save>"Save"</button>
            </ActionForm>
        }
        .into_any()
    } else if field.files.is_empty() {
        view! { <p class="muted">"No file"</p> }.into_any()
    } else {
        field
            .files
            .into_iter()
            .map(|file| {
                let count = file.versions.len();
                let file_uuid = file.current.file_uuid.clone();
                let deleted = file.current.is_deleted;
                let changed = actions.changed;
                let token = actions.token;
                let reload = Callback::new(move |_: String| changed.update(|n| *n += 1));
                let new_version = move || {
                    let token = token.get()?;
                    let options = crate::upload::UploaderOptions {
                        token,
                        file_uuid: Some(file_uuid.clone()),
                        concurrency: 1,
                        ..Default::default()
                    };
                    (!deleted).then(|| {
                        view! {
                            <details class="new-version">
                                <summary>"Upload a new version"</summary>
                                <crate::Uploader options on_complete=reload />
                            </details>
                        }
                    })
                };
                view! {
                    <div class="field-file">
                        <Chip chip=file.current />
                        <details>
                            <summary>{format!("Versions ({count})")}</summary>
                            <ol class="versions">
                                {file
                                    .versions
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, v)| view! {
                                        <li><span class="muted">{format!("v{} ", count - i)}</span><Chip chip=v /></li>
                                    })
                                    .collect_view()}
                            </ol>
                        </details>
                        {new_version}
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class="field">
            <h3>{field.name}</h3>
            {body}
        </div>
    }
}

/// What the card's forms and buttons need.
#[derive(Clone)]
struct MediaActions {
    kind: &'static str,
    id: i64,
    csrf: String,
    /// Bumped after a change, so the card reloads.
    changed: RwSignal<u32>,
    /// The widget's one-hour `files` token, once the page's script has
    /// fetched it (a plain signal, so reading it suspends nothing).
    token: RwSignal<Option<String>>,
    set_text: ServerAction<SetTextField>,
    add_note: ServerAction<AddNote>,
    /// The note being written; emptied once it is added.
    note_text: RwSignal<String>,
}

fn note_form(actions: &MediaActions) -> impl IntoView {
    let MediaActions { add_note, csrf, kind, id, note_text, .. } = actions.clone();
    view! {
        <ActionForm action=add_note attr:class="note-form">
            <input type="hidden" name="csrf" value=csrf />
            <input type="hidden" name="kind" value=kind />
            <input type="hidden" name="id" value=id.to_string() />
            <label for="note-text">"Add a note"</label>
            <textarea id="note-text" name="text" rows="2" required maxlength="10000"
                prop:value=note_text on:input=move |ev| note_text.set(event_target_value(&ev))></textarea>
            <button type="submit">"Add note"</button>
        </ActionForm>
        {action_error(add_note)}
    }
}

fn card_view(card: EntityCard, actions: MediaActions) -> impl IntoView {
    let one = KINDS.iter().find(|k| k.0 == card.kind).map_or("entity", |k| k.2);
    let set_text = actions.set_text;
    view! {
        <section class="card">
            <p class="muted">{one}</p>
            <h1>{card.name}</h1>
        </section>
        <div class="card-grid">
            <section class="card" aria-labelledby="feed-title">
                <h2 id="feed-title">"Feed"</h2>
                {if card.feed.is_empty() {
                    view! { <p class="muted">"No notes yet."</p> }.into_any()
                } else {
                    view! {
                        <ol class="feed">
                            {card
                                .feed
                                .into_iter()
                                .map(|item| view! {
                                    <li class="feed-item">
                                        <p class="muted"><time>{feed::when(item.created_at)}</time></p>
                                        {item.detail.map(|d| view! { <p class="note-kind">{d}</p> })}
                                        {item.text.map(|t| view! { <p>{t}</p> })}
                                        {item.files.into_iter().map(|c| view! { <Chip chip=c /> }).collect_view()}
                                    </li>
                                })
                                .collect_view()}
                        </ol>
                    }
                    .into_any()
                }}
                {note_form(&actions)}
            </section>
            <section class="card" aria-labelledby="media-title">
                <h2 id="media-title">"Media"</h2>
                {if card.media.is_empty() {
                    view! { <p class="muted">"No files yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="media">
                            {card
                                .media
                                .into_iter()
                                .map(|c| {
                                    let actions = actions.clone();
                                    let label = format!("Detach {}", c.name);
                                    let uuid = c.file_uuid.clone();
                                    let detach = move |_| {
                                        let MediaActions { kind, id, csrf, changed, .. } =
                                            actions.clone();
                                        let uuid = uuid.clone();
                                        leptos::task::spawn_local(async move {
                                            if api::detach_file(csrf, kind.into(), id, uuid).await.is_ok() {
                                                changed.update(|n| *n += 1);
                                            }
                                        });
                                    };
                                    view! {
                                        <li>
                                            <Chip chip=c />
                                            " "
                                            <button type="button" class="small" aria-label=label on:click=detach>
                                                "Detach"
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
            </section>
            <section class="card" aria-labelledby="fields-title">
                <h2 id="fields-title">"Fields"</h2>
                {card
                    .fields
                    .into_iter()
                    .map(|f| field_view(f, actions.clone()))
                    .collect_view()}
                {action_error(set_text)}
            </section>
        </div>
    }
}

/// The widget in the Media tab: it uploads with a one-hour `files` token
/// that the page's script fetches, and the page attaches each finished
/// file to the entity. It needs JavaScript.
#[component]
fn MediaUpload(actions: MediaActions) -> impl IntoView {
    let token = actions.token;
    let attach = Callback::new(move |uuid: String| {
        let MediaActions { kind, id, csrf, changed, .. } = actions.clone();
        leptos::task::spawn_local(async move {
            if api::attach_file(csrf, kind.into(), id, uuid).await.is_ok() {
                changed.update(|n| *n += 1);
            }
        });
    });
    // The server and the first render in the browser both show the hint;
    // the widget replaces it once the token is there.
    move || match token.get() {
        Some(token) => {
            let options = crate::upload::UploaderOptions { token, ..Default::default() };
            view! { <crate::Uploader options on_complete=attach /> }.into_any()
        }
        None => view! { <p class="muted">"Uploading needs JavaScript."</p> }.into_any(),
    }
}

/// `/{kind}/{id}`: an entity's card.
#[component]
pub fn EntityCardPage(kind: &'static str) -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok());
    let changed = RwSignal::new(0u32);
    let set_text = ServerAction::<SetTextField>::new();
    let add_note = ServerAction::<AddNote>::new();
    let note_text = RwSignal::new(String::new());
    // The card reloads after a change that worked; a refused one leaves
    // what was typed in place, with the reason.
    Effect::new(move |_| {
        if matches!(add_note.value().get(), Some(Ok(()))) {
            note_text.set(String::new());
            changed.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if matches!(set_text.value().get(), Some(Ok(()))) {
            changed.update(|n| *n += 1);
        }
    });
    let card = Resource::new(
        move || (id(), changed.get()),
        move |(id, _)| async move {
            match id {
                Some(id) => api::load_card(kind.to_owned(), id).await,
                None => Err(ServerFnError::new("There is no such entity.")),
            }
        },
    );
    view! {
        <RequireViewer signed_in=move |viewer: Viewer| {
            // Fetched by the page's script, never put in the HTML; copied
            // into a plain signal so no Suspense waits on it.
            let token = RwSignal::new(None::<String>);
            let csrf = viewer.csrf.clone();
            let fetched = LocalResource::new(move || api::widget_token(csrf.clone()));
            Effect::new(move |_| {
                if let Some(Ok(t)) = fetched.get() {
                    token.set(Some(t));
                }
            });
            let actions = MediaActions {
                kind,
                id: id().unwrap_or_default(),
                csrf: viewer.csrf,
                changed,
                token,
                set_text,
                add_note,
                note_text,
            };
            let for_card = actions.clone();
            view! {
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || {
                        let actions = for_card.clone();
                        Suspend::new(async move {
                            match card.await {
                                Ok(card) => card_view(card, actions).into_any(),
                                Err(e) => view! {
                                    <section class="card"><p role="alert">{problem(&e)}</p></section>
                                }
                                .into_any(),
                            }
                        })
                    }}
                </Transition>
                <section class="card upload-card" aria-labelledby="upload-title">
                    <h2 id="upload-title">"Add files to Media"</h2>
                    <MediaUpload actions />
                </section>
            }
        } />
    }
}
