//! `<Uploader>`: a drop zone that also takes paste and a keyboard-reachable
//! "choose files" button, and the list of uploads with a progress bar,
//! speed, time left, status and pause/resume/cancel/retry for each. An
//! `aria-live` region announces finished and failed uploads. The engine
//! that moves the bytes runs in the browser only (`upload::engine`); on
//! the server the widget renders empty.

use leptos::{html, prelude::*};

use crate::upload::{
    i18n::{strings_for, Strings},
    percent,
    plan::{human_bytes, human_duration},
    Item, Status, UploaderOptions,
};

/// The widget's styles, scoped to `.uploader`; they travel with it, so a
/// host page needs no stylesheet of Satchel's.
const STYLE: &str = include_str!("uploader.css");

/// What the user can do with an upload in this state.
fn actions(status: Status) -> (bool, bool, bool, bool) {
    // (pause, resume, cancel, retry)
    match status {
        Status::Queued => (false, false, true, false),
        Status::Hashing | Status::Uploading | Status::Retrying | Status::Offline => {
            (true, false, true, false)
        }
        Status::Paused => (false, true, true, false),
        Status::Failed => (false, false, true, true),
        Status::Done | Status::Cancelled => (false, false, false, false),
    }
}

/// `on_complete` hears the uuid of each file that finished (after the
/// DOM event), for a page that does its own follow-up.
#[component]
pub fn Uploader(
    options: UploaderOptions,
    #[prop(optional)] on_complete: Option<Callback<String>>,
) -> impl IntoView {
    let items = RwSignal::new(Vec::<Item>::new());
    let language = options.language.clone();
    // The server renders English unless told otherwise; the browser's
    // language applies once the widget runs there.
    let strings: RwSignal<&'static Strings> =
        RwSignal::new(strings_for(language.as_deref().unwrap_or("en")));
    let announcement = RwSignal::new(String::new());
    let root = NodeRef::<html::Div>::new();
    let picker = NodeRef::<html::Input>::new();

    #[cfg(feature = "hydrate")]
    let engine =
        StoredValue::new_local(crate::upload::engine::Engine::new(options, items, on_complete));
    #[cfg(not(feature = "hydrate"))]
    let _ = (options, on_complete);

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(el) = root.get() {
            engine.with_value(|e| e.set_root(el.into()));
        }
        if language.is_none() {
            if let Some(lang) = web_sys::window().and_then(|w| w.navigator().language()) {
                strings.set(strings_for(&lang));
            }
        }
    });

    // Announce each upload once when it finishes or fails.
    let announced = StoredValue::new(Vec::<(u32, Status)>::new());
    Effect::new(move |_| {
        let s = strings.get();
        for item in items.get() {
            let status = item.status.get();
            if !matches!(status, Status::Done | Status::Failed) {
                // Going again: its next ending is news again.
                announced.update_value(|seen| seen.retain(|(id, _)| *id != item.id));
                continue;
            }
            let fresh = announced.with_value(|seen| !seen.contains(&(item.id, status)));
            if fresh {
                announced.update_value(|seen| seen.push((item.id, status)));
                let word = if status == Status::Done { s.announce_done } else { s.announce_failed };
                announcement.set(format!("{word}: {}", item.name.get_value()));
            }
        }
    });

    let add = move |files: Option<web_sys::FileList>| {
        let Some(list) = files else { return };
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        #[cfg(feature = "hydrate")]
        engine.with_value(|e| e.add(files));
        #[cfg(not(feature = "hydrate"))]
        let _ = files;
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        add(ev.data_transfer().and_then(|d| d.files()));
    };
    let on_paste = move |ev: leptos::ev::ClipboardEvent| {
        let files = ev.clipboard_data().and_then(|d| d.files());
        if files.as_ref().is_some_and(|f| f.length() > 0) {
            ev.prevent_default();
            add(files);
        }
    };
    let on_pick = move |_| {
        if let Some(input) = picker.get() {
            add(input.files());
            // Picking the same file again must fire `change` again.
            input.set_value("");
        }
    };
    let choose = move |_| {
        if let Some(input) = picker.get() {
            input.click();
        }
    };

    let overall = move || {
        let list = items.get();
        let live: Vec<&Item> =
            list.iter().filter(|i| i.status.get() != Status::Cancelled).collect();
        let size: u64 = live.iter().map(|i| i.size).sum();
        let done: u64 = live
            .iter()
            .map(|i| if i.status.get() == Status::Done { i.size } else { i.done.get() })
            .sum();
        (done, size, live.iter().all(|i| i.status.get() == Status::Done))
    };
    // All uploads together: bytes, speed and time left.
    let overall_text = move || {
        let (done, size, _) = overall();
        let speed: f64 = items.get().iter().filter_map(|i| i.speed.get()).sum();
        let mut text = format!("{} / {}", human_bytes(done), human_bytes(size));
        if speed > 0.0 {
            let left = size.saturating_sub(done) as f64 / speed;
            text.push_str(&format!(
                " · {}/s · {} {}",
                human_bytes(speed as u64),
                human_duration(left),
                strings.get().left
            ));
        }
        text
    };

    let row = move |item: Item| {
        let name = item.name.get_value();
        let label = name.clone();
        let status = move || item.status.get();
        let shown_percent = move || if status() == Status::Done { 100 } else { item.percent() };
        let flags = move || actions(status());
        view! {
            <li class="upload" data-status=move || status().as_str()>
                <div class="upload-head">
                    <span class="upload-name">{name}</span>
                    <span class="upload-size">
                        {move || {
                            let done = if status() == Status::Done { item.size } else { item.done.get() };
                            format!("{} / {}", human_bytes(done), human_bytes(item.size))
                        }}
                    </span>
                </div>
                <div
                    class="bar"
                    role="progressbar"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || shown_percent().to_string()
                    aria-label=move || format!("{} {label}", strings.get().progress_of)
                >
                    <div class="bar-fill" style:width=move || format!("{}%", shown_percent())></div>
                </div>
                <div class="upload-meta">
                    <span class="upload-status">{move || status().label(strings.get())}</span>
                    <span class="upload-percent">{move || format!("{} %", shown_percent())}</span>
                    <span class="upload-speed">
                        {move || item.speed.get().map(|b| format!("{}/s", human_bytes(b as u64)))}
                    </span>
                    <span class="upload-eta">
                        {move || {
                            item.eta
                                .get()
                                .map(|t| format!("{} {}", human_duration(t), strings.get().left))
                        }}
                    </span>
                    <span class="upload-error">{move || item.error.get()}</span>
                </div>
                <div class="upload-actions">
                    <Show when=move || flags().0>
                        <button type="button" class="pause" on:click=move |_| {
                            #[cfg(feature = "hydrate")]
                            engine.with_value(|e| e.pause(item));
                        }>{move || strings.get().pause}</button>
                    </Show>
                    <Show when=move || flags().1>
                        <button type="button" class="resume" on:click=move |_| {
                            #[cfg(feature = "hydrate")]
                            engine.with_value(|e| e.resume(item));
                        }>{move || strings.get().resume}</button>
                    </Show>
                    <Show when=move || flags().3>
                        <button type="button" class="retry" on:click=move |_| {
                            #[cfg(feature = "hydrate")]
                            engine.with_value(|e| e.resume(item));
                        }>{move || strings.get().retry}</button>
                    </Show>
                    <Show when=move || flags().2>
                        <button type="button" class="cancel" on:click=move |_| {
                            #[cfg(feature = "hydrate")]
                            engine.with_value(|e| e.cancel(item));
                        }>{move || strings.get().cancel}</button>
                    </Show>
                </div>
            </li>
        }
    };

    view! {
        <div class="uploader" node_ref=root>
            <style>{STYLE}</style>
            <div
                class="dropzone"
                tabindex="0"
                role="group"
                aria-label=move || strings.get().drop_here
                on:dragover=move |ev: leptos::ev::DragEvent| ev.prevent_default()
                on:drop=on_drop
                on:paste=on_paste
            >
                <p class="drop-text">{move || strings.get().drop_here}</p>
                <p>
                    <span>{move || strings.get().or}</span>
                    " "
                    <button type="button" class="choose" on:click=choose>
                        {move || strings.get().choose}
                    </button>
                </p>
                <p class="hint">{move || strings.get().paste_hint}</p>
                <input
                    type="file"
                    multiple
                    class="visually-hidden"
                    tabindex="-1"
                    aria-hidden="true"
                    node_ref=picker
                    on:change=on_pick
                />
            </div>
            <Show when=move || !items.get().is_empty()>
                <div
                    class="bar overall"
                    role="progressbar"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=move || {
                        let (done, size, all_done) = overall();
                        (if all_done { 100 } else { percent(done, size) }).to_string()
                    }
                    aria-label=move || strings.get().overall
                >
                    <div
                        class="bar-fill"
                        style:width=move || {
                            let (done, size, all_done) = overall();
                            format!("{}%", if all_done { 100 } else { percent(done, size) })
                        }
                    ></div>
                </div>
                <p class="overall-text">{overall_text}</p>
            </Show>
            <ul class="uploads" aria-label=move || strings.get().files_label>
                <For each=move || items.get() key=|item| item.id children=row />
            </ul>
            <div class="visually-hidden" aria-live="polite" role="status">
                {move || announcement.get()}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_offers_only_what_makes_sense() {
        assert_eq!(actions(Status::Uploading), (true, false, true, false));
        assert_eq!(actions(Status::Paused), (false, true, true, false));
        assert_eq!(actions(Status::Failed), (false, false, true, true));
        assert_eq!(actions(Status::Done), (false, false, false, false));
        assert_eq!(actions(Status::Cancelled), (false, false, false, false));
        assert_eq!(actions(Status::Queued), (false, false, true, false));
    }
}
