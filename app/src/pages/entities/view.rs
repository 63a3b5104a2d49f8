//! The entity pages: `/{kind}`, a list of leads, contacts or companies
//! with a form for a new one, and `/{kind}/{id}`, an entity's card (its
//! feed with a note form, the Media tab with its upload widget, and its
//! fields with version histories). They read and change through `data`.

use leptos::{form::ActionForm, prelude::*};
use leptos_router::hooks::use_params_map;

use super::{
    data::{self, AddNote, CreateEntity, EntityCard, FieldCard, SetTextField},
    feed::FeedItem,
};
use crate::pages::{
    frame::{RequireViewer, Viewer},
    shared::{action_error, entity_kind, problem, when, Chip, FileChip, KINDS},
};

/// A list of leads, contacts or companies, with a form for a new one.
#[component]
pub fn EntityListPage(kind: &'static str) -> impl IntoView {
    let (_, title, one) = entity_kind(kind).unwrap_or(KINDS[0]);
    let create = ServerAction::<CreateEntity>::new();
    let rows =
        Resource::new(move || create.version().get(), move |_| data::entities(kind.to_owned()));
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
    let one = entity_kind(&card.kind).map_or("entity", |k| k.2);
    let set_text = actions.set_text;
    view! {
        <section class="card">
            <p class="muted">{one}</p>
            <h1>{card.name}</h1>
        </section>
        <div class="card-grid">
            <section class="card" aria-labelledby="feed-title">
                <h2 id="feed-title">"Feed"</h2>
                {feed_view(card.feed)}
                {note_form(&actions)}
            </section>
            <section class="card" aria-labelledby="media-title">
                <h2 id="media-title">"Media"</h2>
                {media_view(card.media, &actions)}
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

/// The feed: its items oldest first, each with its moment, what it is,
/// its text and its files.
fn feed_view(feed: Vec<FeedItem>) -> impl IntoView {
    if feed.is_empty() {
        view! { <p class="muted">"No notes yet."</p> }.into_any()
    } else {
        view! {
            <ol class="feed">
                {feed
                    .into_iter()
                    .map(|item| view! {
                        <li class="feed-item">
                            <p class="muted"><time>{when(item.created_at)}</time></p>
                            {item.detail.map(|d| view! { <p class="note-kind">{d}</p> })}
                            {item.text.map(|t| view! { <p>{t}</p> })}
                            {item.files.into_iter().map(|c| view! { <Chip chip=c /> }).collect_view()}
                        </li>
                    })
                    .collect_view()}
            </ol>
        }
        .into_any()
    }
}

/// The Media tab: its files, each with a button that detaches it.
fn media_view(media: Vec<FileChip>, actions: &MediaActions) -> impl IntoView {
    if media.is_empty() {
        view! { <p class="muted">"No files yet."</p> }.into_any()
    } else {
        view! {
            <ul class="media">
                {media
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
                                if data::detach_file(csrf, kind.into(), id, uuid).await.is_ok() {
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
            if data::attach_file(csrf, kind.into(), id, uuid).await.is_ok() {
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
                Some(id) => data::load_card(kind.to_owned(), id).await,
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
            let fetched = LocalResource::new(move || data::widget_token(csrf.clone()));
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
