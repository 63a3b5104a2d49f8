//! `/files`: the Files manager. Its whole state (view, filters, order,
//! page, open drawer) lives in the query string, so every view is a link,
//! reads with JavaScript off and survives a reload; selecting, trashing
//! and restoring need the hydrated page.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{
    data::{self, FileDrawer, FileRow, FilesPage, Usage},
    query::{FilesQuery, ORDERS, PRESETS, UNITS},
};
use crate::pages::{
    frame::{RequireViewer, Viewer},
    shared::{byte_size, entity_kind, kind_badge, problem, when, Chip},
};

/// `today`, `in 1 day`, `in N days`.
fn when_purged(days: i64) -> String {
    match days {
        0 => "today".to_owned(),
        1 => "in 1 day".to_owned(),
        n => format!("in {n} days"),
    }
}

/// `1 file`, `N files`.
fn files_phrase(n: i64) -> String {
    match n {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    }
}

/// The usage bar: the account's active bytes against its quota.
fn usage_view(usage: Usage) -> impl IntoView {
    let used = byte_size(usage.used_bytes);
    let label = match usage.quota_bytes {
        Some(quota) => format!("{used} of {} used", byte_size(quota)),
        None => format!("{used} used (no quota)"),
    };
    let files = files_phrase(usage.file_count);
    view! {
        <div class="usage">
            <p id="usage-label">{label}</p>
            {usage.quota_bytes.map(|quota| {
                let max = quota.max(1).to_string();
                let value = usage.used_bytes.min(quota).max(0).to_string();
                view! {
                    <meter min="0" max=max value=value high=(quota as f64 * 0.9).to_string()
                        aria-labelledby="usage-label"></meter>
                }
            })}
            <p class="muted">{format!("{files} · {} in the trash", byte_size(usage.trashed_bytes))}</p>
        </div>
    }
}

/// The filter form: a plain GET form, so it works without JavaScript.
fn filter_form(q: FilesQuery) -> impl IntoView {
    let unit = q.unit.clone();
    let preset = q.preset.clone();
    let clear = q.is_filtered().then(|| {
        let href = FilesQuery { trash: q.trash, ..FilesQuery::default() }.href();
        view! { <a href=href class="clear">"Clear filters"</a> }
    });
    view! {
        <form method="get" action="/files" class="filters" role="search" aria-label="Filter files">
            {q.trash.then(|| view! { <input type="hidden" name="trash" value="1" /> })}
            {(!q.order.is_empty()).then(|| view! { <input type="hidden" name="order" value=q.order.clone() /> })}
            {(!q.dir.is_empty()).then(|| view! { <input type="hidden" name="dir" value=q.dir.clone() /> })}
            <label>
                "Name or linked entity "
                <input type="search" name="term" value=q.term.clone() maxlength="255" />
            </label>
            <label>
                "Extensions "
                <input type="text" name="ext" value=q.ext.clone() placeholder="pdf, png" size="10" />
            </label>
            <fieldset class="size-range">
                <legend>"Size"</legend>
                <label>"from " <input type="number" name="size_from" min="0" step="any" value=q.size_from.clone() /></label>
                <label>"to " <input type="number" name="size_to" min="0" step="any" value=q.size_to.clone() /></label>
                <label>
                    <span class="visually-hidden">"Unit"</span>
                    <select name="unit">
                        {UNITS
                            .iter()
                            .map(|(name, _)| {
                                let chosen = unit == *name || (unit.is_empty() && *name == "B");
                                view! { <option value=*name selected=chosen>{*name}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
            </fieldset>
            <label>
                "Uploaded "
                <select name="preset">
                    <option value="" selected={preset.is_empty()}>"Any time"</option>
                    {PRESETS
                        .iter()
                        .map(|(value, label)| view! {
                            <option value=*value selected={preset == *value}>{*label}</option>
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Apply"</button>
            {clear}
        </form>
    }
}

/// What a row's checkbox and the batch buttons share.
#[derive(Clone, Copy)]
struct Selection {
    selected: RwSignal<Vec<String>>,
}

impl Selection {
    fn toggle(&self, uuid: &str, on: bool) {
        self.selected.update(|s| {
            s.retain(|u| u != uuid);
            if on {
                s.push(uuid.to_owned());
            }
        });
    }
}

fn row_view(
    q: &FilesQuery,
    row: FileRow,
    pick: Selection,
    restore: Callback<Vec<String>>,
) -> impl IntoView {
    let uuid = row.chip.file_uuid.clone();
    let name = row.chip.name.clone();
    let open = q.opened(&uuid).href();
    let for_check = uuid.clone();
    let for_change = uuid.clone();
    let checked = move || pick.selected.read().contains(&for_check);
    let purge = row.purge_in_days.map(when_purged);
    let trashed = q.trash;
    let row_uuid = uuid.clone();
    view! {
        <tr data-uuid=row_uuid>
            <td>
                <input type="checkbox" aria-label=format!("Select {name}") prop:checked=checked
                    on:change=move |ev| pick.toggle(&for_change, event_target_checked(&ev)) />
            </td>
            <th scope="row" class="file-name">
                {kind_badge(&row.chip.kind)}
                <a href=open>{name.clone()}</a>
            </th>
            <td class="optional">{if row.extension.is_empty() { "—".to_owned() } else { row.extension.clone() }}</td>
            <td class="optional">{row.chip.kind.clone()}</td>
            <td class="num">{byte_size(row.chip.size)}</td>
            <td class="optional"><time>{when(row.created_at)}</time></td>
            <td class="optional">{row.author.clone()}</td>
            <td>
                {if row.links.is_empty() {
                    view! { <span class="muted">"—"</span> }.into_any()
                } else {
                    view! {
                        <ul class="links">
                            {row.links.iter().map(|l| view! { <li><a href=l.href()>{l.name.clone()}</a></li> }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
            </td>
            {if trashed {
                let restore_one = move |_| restore.run(vec![uuid.clone()]);
                view! {
                    <td>{purge.unwrap_or_default()}</td>
                    <td>
                        <button type="button" class="small" aria-label=format!("Restore {name}") on:click=restore_one>
                            "Restore"
                        </button>
                    </td>
                }
                .into_any()
            } else {
                view! {
                    <td class="optional">
                        <a href=row.chip.download.clone() download=name.clone() aria-label=format!("Download {name}")>
                            "Download"
                        </a>
                    </td>
                }
                .into_any()
            }}
        </tr>
    }
}

fn table_view(
    q: FilesQuery,
    page: FilesPage,
    pick: Selection,
    restore: Callback<Vec<String>>,
) -> impl IntoView {
    if page.rows.is_empty() && q.page() > 1 {
        // Everything on this page was moved away (or the link is stale).
        let back = q.at_page(q.page() - 1).href();
        return view! {
            <p class="muted">"This page is empty now. " <a href=back rel="prev">"← Previous page"</a></p>
        }
        .into_any();
    }
    if page.rows.is_empty() {
        let text = match (q.trash, q.is_filtered()) {
            (_, true) => "No file matches these filters.",
            (true, false) => "The trash is empty.",
            (false, false) => "No files yet. Upload some on an entity's card.",
        };
        return view! { <p class="muted">{text}</p> }.into_any();
    }
    let all: Vec<String> = page.rows.iter().map(|r| r.chip.file_uuid.clone()).collect();
    let all_for_check = all.clone();
    let all_checked = move || {
        let s = pick.selected.read();
        all_for_check.iter().all(|u| s.contains(u))
    };
    let toggle_all = move |ev| {
        let on = event_target_checked(&ev);
        pick.selected.set(if on { all.clone() } else { Vec::new() });
    };
    let header = |column: &'static str, label: &'static str, class: &'static str| {
        let sorted = q.order_column() == column;
        let sort = sorted.then(|| if q.direction() == "asc" { "ascending" } else { "descending" });
        let href = q.ordered_by(column).href();
        view! { <th scope="col" class=class aria-sort=sort><a href=href>{label}</a></th> }
    };
    // On a phone the table keeps the checkbox, name, size and links;
    // the drawer shows the rest.
    let (name_col, size_col, created_col) = (
        header(ORDERS[0].0, ORDERS[0].1, ""),
        header(ORDERS[1].0, ORDERS[1].1, ""),
        header(ORDERS[2].0, ORDERS[2].1, "optional"),
    );
    let pager = {
        let prev = (q.page() > 1).then(|| q.at_page(q.page() - 1).href());
        let next = page.has_next.then(|| q.at_page(q.page() + 1).href());
        view! {
            <nav class="pager" aria-label="Pages">
                {prev.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
                <span>{format!("Page {}", q.page())}</span>
                {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
            </nav>
        }
    };
    let trash = q.trash;
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label="Files table">
            <table class="files-table">
                <thead>
                    <tr>
                        <th scope="col">
                            <input type="checkbox" aria-label="Select every file on this page"
                                prop:checked=all_checked on:change=toggle_all />
                        </th>
                        {name_col}
                        <th scope="col" class="optional">"Extension"</th>
                        <th scope="col" class="optional">"Type"</th>
                        {size_col}
                        {created_col}
                        <th scope="col" class="optional">"Author"</th>
                        <th scope="col">"Linked to"</th>
                        {if trash {
                            view! { <th scope="col">"Purged"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th> }.into_any()
                        } else {
                            view! { <th scope="col" class="optional"><span class="visually-hidden">"Download"</span></th> }.into_any()
                        }}
                    </tr>
                </thead>
                <tbody>
                    {page.rows.into_iter().map(|row| row_view(&q, row, pick, restore)).collect_view()}
                </tbody>
            </table>
        </div>
        {pager}
    }
    .into_any()
}

fn drawer_view(q: &FilesQuery, detail: FileDrawer) -> impl IntoView {
    let close = q.list_part().href();
    // Opening the drawer takes the focus there, so a keyboard or screen
    // reader user lands on what they opened.
    let title = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if let Some(heading) = title.get() {
            let _ = heading.focus();
        }
    });
    let row = detail.row;
    let current = row.chip.version_uuid.clone();
    let status = match row.purge_in_days {
        Some(days) => format!("In the trash; purged {}", when_purged(days)),
        None => "Active".to_owned(),
    };
    view! {
        <aside class="drawer card" aria-labelledby="drawer-title">
            <div class="drawer-head">
                <h2 id="drawer-title" tabindex="-1" node_ref=title>{row.chip.name.clone()}</h2>
                <a href=close class="close" aria-label="Close the details">"Close"</a>
            </div>
            <dl class="facts">
                <dt>"Size"</dt><dd>{byte_size(row.chip.size)}</dd>
                <dt>"Type"</dt><dd>{row.chip.kind.clone()}</dd>
                <dt>"Created"</dt><dd>{when(row.created_at)}</dd>
                <dt>"Author"</dt><dd>{row.author.clone()}</dd>
                <dt>"Status"</dt><dd>{status}</dd>
            </dl>
            <h3>{format!("Versions ({})", detail.versions.len())}</h3>
            <ol class="versions">
                {detail
                    .versions
                    .into_iter()
                    .map(|v| {
                        let active = v.version_uuid == current;
                        view! {
                            <li>
                                <Chip chip=v />
                                {active.then(|| view! { " " <span class="badge">"current"</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
            <h3>"Linked to"</h3>
            {if row.links.is_empty() {
                view! { <p class="muted">"No entity."</p> }.into_any()
            } else {
                view! {
                    <ul class="links">
                        {row.links.iter().map(|l| {
                            let kind = entity_kind(&l.kind).map_or("", |k| k.2);
                            view! { <li><a href=l.href()>{l.name.clone()}</a> " " <span class="muted">{kind}</span></li> }
                        }).collect_view()}
                    </ul>
                }
                .into_any()
            }}
        </aside>
    }
}

/// `/files`: the Files manager.
#[component]
pub fn FilesManagerPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let params = params.read();
        FilesQuery::from_params(|name| params.get(name))
    });
    // The list without the drawer: opening a file reloads nothing else.
    let list_query = Memo::new(move |_| query.get().list_part());
    let changed = RwSignal::new(0u32);
    let list =
        Resource::new(move || (list_query.get(), changed.get()), |(q, _)| data::list_files(q));
    let usage = Resource::new(move || changed.get(), |_| data::file_usage());
    let detail = Resource::new(
        move || (query.get().open, changed.get()),
        |(open, _)| async move {
            if open.is_empty() {
                Ok(None)
            } else {
                data::file_detail(open).await.map(Some)
            }
        },
    );
    let pick = Selection { selected: RwSignal::new(Vec::new()) };
    // A new list (another page, view or filter) starts with nothing selected.
    Effect::new(move |_| {
        list_query.track();
        pick.selected.set(Vec::new());
    });
    let failure = RwSignal::new(None::<String>);
    // What the last batch did, for screen readers and everyone else.
    let notice = RwSignal::new(String::new());
    Effect::new(move |_| {
        list_query.track();
        failure.set(None);
    });
    let trash_view = Memo::new(move |_| query.with(|q| q.trash));

    view! {
        <RequireViewer signed_in=move |viewer: Viewer| {
            let csrf = viewer.csrf.clone();
            let act = Callback::new(move |(restore, uuids): (bool, Vec<String>)| {
                let csrf = csrf.clone();
                leptos::task::spawn_local(async move {
                    let joined = uuids.join(",");
                    let done = if restore {
                        data::restore_files(csrf, joined).await
                    } else {
                        data::trash_files(csrf, joined).await
                    };
                    let files = files_phrase(uuids.len() as i64);
                    match done {
                        Ok(()) => {
                            failure.set(None);
                            notice.set(if restore {
                                format!("Restored {files}.")
                            } else {
                                format!("Moved {files} to the trash.")
                            });
                            pick.selected.set(Vec::new());
                            changed.update(|n| *n += 1);
                        }
                        Err(e) => {
                            notice.set(String::new());
                            failure.set(Some(problem(&e)));
                        }
                    }
                });
            });
            let restore = Callback::new(move |uuids: Vec<String>| act.run((true, uuids)));
            let may_delete = viewer.may_delete;
            // One button per view, whose label and state follow the
            // selection (so it keeps focus while rows are picked).
            let count = move || pick.selected.read().len();
            let chosen = move || pick.selected.get_untracked();
            let batch = move || {
                if trash_view.get() {
                    view! {
                        <button type="button" disabled=move || count() == 0
                            on:click=move |_| act.run((true, chosen()))>
                            {move || format!("Restore selected ({})", count())}
                        </button>
                    }
                    .into_any()
                } else if may_delete {
                    view! {
                        <button type="button" class="danger" disabled=move || count() == 0
                            on:click=move |_| act.run((false, chosen()))>
                            {move || format!("Move to trash ({})", count())}
                        </button>
                    }
                    .into_any()
                } else {
                    // Focusable, so its reason is read out; it does nothing.
                    view! {
                        <button type="button" class="danger" aria-disabled="true" aria-describedby="no-delete">
                            "Move to trash"
                        </button>
                        <span id="no-delete" class="muted">"Your sign-in may not delete files."</span>
                    }
                    .into_any()
                }
            };
            view! {
                <section class="card files-head">
                    <h1>{move || if query.get().trash { "Trash" } else { "Files" }}</h1>
                    <nav class="tabs" aria-label="File views">
                        {move || {
                            let trash = query.get().trash;
                            let files_href = FilesQuery::default().href();
                            let trash_href = FilesQuery { trash: true, ..FilesQuery::default() }.href();
                            view! {
                                <a href=files_href aria-current=(!trash).then_some("page")>"Files"</a>
                                <a href=trash_href aria-current=trash.then_some("page")>"Trash"</a>
                            }
                        }}
                    </nav>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            usage.await.ok().map(usage_view)
                        })}
                    </Transition>
                </section>
                <section class="card" aria-label="File list">
                    {move || filter_form(list_query.get())}
                    <div class="batch">{batch}</div>
                    <p role="status" class="notice">{move || notice.get()}</p>
                    {move || failure.get().map(|text| view! { <p role="alert" class="error">{text}</p> })}
                    <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            let q = query.get_untracked();
                            match list.await {
                                Ok(page) => table_view(q, page, pick, restore).into_any(),
                                Err(e) => view! { <p role="alert" class="error">{problem(&e)}</p> }.into_any(),
                            }
                        })}
                    </Transition>
                </section>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let q = query.get_untracked();
                        match detail.await {
                            Ok(Some(detail)) => drawer_view(&q, detail).into_any(),
                            Ok(None) => ().into_any(),
                            Err(e) => view! {
                                <aside class="drawer card"><p role="alert" class="error">{problem(&e)}</p></aside>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            }
        } />
    }
}
