//! Kommo fidelity, the files list and the file and version objects: every
//! date preset Kommo lists (`filter[date][date_preset]`) on `created_at`
//! and `updated_at`, `filter[date][from]`/`[to]`, `filter[deleted]` and
//! `filter[updated_by][]` as Kommo defines them, `limit` above the maximum
//! read as the maximum, `_page` and `_links` `self`/`next`/`prev`/`first`
//! followed as the PHP library follows them, every key of the file and
//! version objects present (null when empty), `sanitized_name` in ASCII,
//! and a new version renaming the file. Requests go as Kommo's official
//! PHP library sends them (`http_build_query` brackets, `limit=50&page=1`);
//! on SQLite and PostgreSQL.

use chrono::{DateTime, Datelike};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use satchel::{domain::date_preset::DatePreset, store::now_unix, testing::Backend};
use serde_json::{json, Value};
use support::{path_of, pattern, upload_one_part, Answer};

use crate::support;

use support::kommo::Kommo;

const PUBLIC_URL: &str = "https://drive.satchel.test";

/// Keys of a file object as Kommo documents them (its reference's file
/// object and upload answer, and what `FileModel::fromArray` reads).
const FILE_KEYS: [&str; 20] = [
    "uuid",
    "version_uuid",
    "id",
    "name",
    "sanitized_name",
    "size",
    "type",
    "metadata",
    "previews",
    "is_trashed",
    "has_multiple_versions",
    "source_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "deleted_at",
    "deleted_by",
    "session_id",
    "_links",
];

/// Keys of a version object as Kommo documents them.
const VERSION_KEYS: [&str; 15] = [
    "uuid",
    "file_uuid",
    "type",
    "name",
    "sanitized_name",
    "size",
    "is_main",
    "source_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "metadata",
    "previews",
    "_links",
];

type Ctx = Kommo;

impl Ctx {
    async fn upload_named(&self, name: &str, file_uuid: Option<&str>) -> Value {
        upload_one_part(&self.router, &self.token, name, &pattern(16, 3), file_uuid).await
    }

    /// The list as the PHP library asks for it: its query, then the
    /// paging it always sends (here `setLimit(250)`, so one page holds
    /// every file a test makes) unless the query pages itself.
    async fn list(&self, query: &str) -> Answer {
        let pages_itself = query.contains("limit") || query.contains("page");
        let paged = if pages_itself { query.to_owned() } else { with_page(query) };
        self.php("GET", &format!("/v1.0/files?{paged}"), None).await
    }

    /// Sets a file's times, as if it had been uploaded and edited then.
    async fn set_times(&self, uuid: &str, created_at: i64, updated_at: i64) {
        sqlx::query("update files set created_at = $1, updated_at = $2 where uuid = $3")
            .bind(created_at)
            .bind(updated_at)
            .bind(uuid)
            .execute(self.app.state.db.pool())
            .await
            .unwrap();
    }
}

fn with_page(query: &str) -> String {
    match query {
        "" => "limit=250&page=1".to_owned(),
        q => format!("{q}&limit=250&page=1"),
    }
}

/// The names a list answers (with their extensions, as the library's
/// `getNameWithExtension()` writes them), in order; none for a 204.
fn names(answer: &Answer) -> Vec<String> {
    if answer.status == 204 {
        assert!(answer.body.is_empty(), "204 has no body");
        return vec![];
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    let files = body["_embedded"]["files"].as_array().expect("_embedded.files");
    assert_eq!(body["_count"], files.len());
    files.iter().map(name_with_extension).collect()
}

fn name_with_extension(file: &Value) -> String {
    match (file["name"].as_str().unwrap(), file["metadata"]["extension"].as_str().unwrap()) {
        (name, "") => name.to_owned(),
        (name, extension) => format!("{name}.{extension}"),
    }
}

fn uuid(file: &Value) -> String {
    file["uuid"].as_str().unwrap().to_owned()
}

/// Every key is present; `null` only where Kommo allows it.
fn assert_keys(object: &Value, keys: &[&str], what: &str) {
    for key in keys {
        assert!(object.get(key).is_some(), "{what} lacks {key}: {object}");
    }
}

/// Waits out the last two minutes of a UTC day, so the presets the test
/// computes and those the server computes fall on the same day.
async fn away_from_midnight() {
    let into_day = now_unix().rem_euclid(86_400);
    if into_day > 86_400 - 120 {
        tokio::time::sleep(std::time::Duration::from_secs((86_400 - into_day + 2) as u64)).await;
    }
}

async fn every_date_preset_lists_the_files_of_its_period(backend: Backend) {
    away_from_midnight().await;
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let now = now_unix();

    // The periods, checked against plain arithmetic where it is short.
    let day_start = now - now.rem_euclid(86_400);
    let weekday = DateTime::from_timestamp(now, 0).unwrap().weekday().num_days_from_monday();
    let monday = day_start - i64::from(weekday) * 86_400;
    for (preset, expected) in [
        (DatePreset::Day, (day_start, day_start + 86_399)),
        (DatePreset::Yesterday, (day_start - 86_400, day_start - 1)),
        (DatePreset::Tomorrow, (day_start + 86_400, day_start + 2 * 86_400 - 1)),
        (DatePreset::Week, (monday, monday + 7 * 86_400 - 1)),
        (DatePreset::PreviousWeek, (monday - 7 * 86_400, monday - 1)),
        (DatePreset::NextWeek, (monday + 7 * 86_400, monday + 14 * 86_400 - 1)),
        (DatePreset::Last3Days, (day_start - 2 * 86_400, day_start + 86_399)),
        (DatePreset::Next3Days, (day_start, day_start + 3 * 86_400 - 1)),
    ] {
        assert_eq!(preset.range(now), Some(expected), "{preset:?}");
    }

    // One file at each edge of every period and one second outside it.
    let mut times: Vec<i64> = DatePreset::ALL
        .iter()
        .flat_map(|p| {
            let (from, to) = p.range(now).unwrap();
            [from - 1, from, to, to + 1]
        })
        .chain([now])
        .collect();
    times.sort_unstable();
    times.dedup();
    let mut files = Vec::new();
    for (i, at) in times.iter().enumerate() {
        let file = ctx.upload_named(&format!("t{i:02}.txt"), None).await;
        ctx.set_times(&uuid(&file), *at, *at).await;
        files.push((format!("t{i:02}.txt"), *at));
    }
    // Newest first, as the list orders by default.
    let within = |from: i64, to: i64| -> Vec<String> {
        let mut inside: Vec<&(String, i64)> =
            files.iter().filter(|(_, at)| from <= *at && *at <= to).collect();
        inside.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
        inside.into_iter().map(|(name, _)| name.clone()).collect()
    };

    for preset in DatePreset::ALL {
        let (from, to) = preset.range(now).unwrap();
        let expected = within(from, to);
        assert!(expected.len() >= 2, "{preset:?} holds both edges");
        // The library's setDate(null, 'created_at', $preset), encoded.
        let query = format!(
            "filter%5Bdate%5D%5Btype%5D=created_at&filter%5Bdate%5D%5Bdate_preset%5D={}",
            preset.as_str()
        );
        assert_eq!(names(&ctx.list(&query).await), expected, "{preset:?}");
        // created_at is the default type.
        let bare = format!("filter[date][date_preset]={}", preset.as_str());
        assert_eq!(names(&ctx.list(&bare).await), expected, "{preset:?}");
    }

    // An explicit range: both ends included, either end alone.
    let (from, to) = (times[3], times[times.len() - 4]);
    let range = format!("filter%5Bdate%5D%5Bfrom%5D={from}&filter%5Bdate%5D%5Bto%5D={to}");
    assert_eq!(names(&ctx.list(&range).await), within(from, to));
    assert_eq!(names(&ctx.list(&format!("filter[date][to]={to}")).await), within(i64::MIN, to));
    // A preset wins over explicit bounds sent with it.
    let both = format!("filter[date][date_preset]=day&filter[date][from]={from}");
    let (day_from, day_to) = DatePreset::Day.range(now).unwrap();
    assert_eq!(names(&ctx.list(&both).await), within(day_from, day_to));

    // On updated_at: the files were made long ago and edited at `times`.
    for (name, at) in &files {
        let file = ctx.list(&format!("filter[name]={name}")).await.json();
        ctx.set_times(&uuid(&file["_embedded"]["files"][0]), 1_000_000_000, *at).await;
    }
    for preset in DatePreset::ALL {
        let (from, to) = preset.range(now).unwrap();
        let on_updates = format!(
            "filter%5Bdate%5D%5Btype%5D=updated_at&filter%5Bdate%5D%5Bdate_preset%5D={}",
            preset.as_str()
        );
        let answer = ctx.list(&on_updates).await;
        let mut listed = names(&answer);
        let mut expected = within(from, to);
        // Equal created_at: the list's order is then by id; compare sets.
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected, "{preset:?} on updated_at");
        let on_creation = format!("filter[date][date_preset]={}", preset.as_str());
        assert_eq!(ctx.list(&on_creation).await.status, 204, "{preset:?} on created_at");
    }

    // A preset Kommo does not list, or a misspelt one, is named.
    for bad in ["fortnight", "last_6_months", "Day"] {
        let answer = ctx.list(&format!("filter[date][date_preset]={bad}")).await;
        let detail = answer.problem(400, "validation")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("filter[date][date_preset]") && detail.contains("last_6_month"));
    }
    ctx.app.cleanup().await;
}

async fn a_limit_above_the_maximum_is_read_as_the_maximum(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let first = ctx.upload_named("seed.txt", None).await;
    // 251 more rows like it, a second apart, newest last.
    for i in 1..=251 {
        sqlx::query(
            "insert into files (uuid, account_id, name, extension, size, active_version_id, \
             created_at, updated_at, created_by, updated_by) \
             select $1, account_id, $2, extension, size, active_version_id, created_at + $3, \
             updated_at, created_by, updated_by from files where uuid = $4",
        )
        .bind(format!("clone-{i:03}"))
        .bind(format!("c{i:03}.txt"))
        .bind(i64::from(i))
        .bind(uuid(&first))
        .execute(ctx.app.state.db.pool())
        .await
        .unwrap();
    }
    // A limit over 250: a full page of 250, and links that say 250.
    let page = ctx.list("limit=1000&page=1").await;
    assert_eq!(names(&page).len(), 250);
    let body = page.json();
    assert_eq!(body["_page"], 1);
    let next = body["_links"]["next"]["href"].as_str().unwrap();
    assert!(next.ends_with("page=2&limit=250"), "{next}");
    assert!(body["_links"]["self"]["href"].as_str().unwrap().ends_with("page=1&limit=250"));
    let second = ctx.php("GET", &path_of(next), None).await;
    assert_eq!(names(&second), ["c001.txt", "seed.txt"]);
    assert!(second.json()["_links"].get("next").is_none());
    // At the maximum and below it nothing changes.
    assert_eq!(names(&ctx.list("limit=250&page=2").await).len(), 2);
    assert_eq!(names(&ctx.list("limit=100&page=3").await).len(), 52);
    // Not a limit at all: named.
    for bad in ["limit=0", "limit=-1", "limit=many", "limit%5B0%5D=5", "page=0&limit=5"] {
        let answer = ctx.list(bad).await;
        let detail = answer.problem(400, "validation")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(bad.split(['=', '%']).next().unwrap()), "{bad}: {detail}");
    }
    ctx.app.cleanup().await;
}

async fn pages_link_to_self_next_prev_and_first(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    for name in ["a.txt", "b.txt", "c.txt", "d.txt", "e.pdf"] {
        ctx.upload_named(name, None).await;
    }
    // The library's query: extensions indexed, brackets encoded.
    let query = "filter%5Bextensions%5D%5B0%5D=txt&order%5Bcreated_at%5D=asc&limit=2&page=1";
    let first = ctx.list(query).await;
    assert_eq!(names(&first), ["a.txt", "b.txt"]);
    let links = first.json()["_links"].clone();
    assert_eq!(first.json()["_page"], 1);
    assert!(links.get("prev").is_none() && links.get("first").is_none(), "{links}");
    let href = |links: &Value, rel: &str| links[rel]["href"].as_str().unwrap().to_owned();
    let self_ = href(&links, "self");
    assert!(self_.starts_with(&format!("{PUBLIC_URL}/v1.0/files?")), "{self_}");
    // The filters come back as sent, so nextPage() walks the same list.
    assert!(self_.contains("filter%5Bextensions%5D%5B0%5D=txt"), "{self_}");
    assert!(self_.contains("order%5Bcreated_at%5D=asc"), "{self_}");

    // Page 2 has every link; the library follows them with the link's query.
    let second = ctx.php("GET", &path_of(&href(&links, "next")), None).await;
    assert_eq!(names(&second), ["c.txt", "d.txt"]);
    let links = second.json()["_links"].clone();
    assert_eq!(second.json()["_page"], 2);
    assert!(href(&links, "self").ends_with("page=2&limit=2"));
    for (rel, page, expected) in [("prev", 1, ["a.txt", "b.txt"]), ("first", 1, ["a.txt", "b.txt"])]
    {
        let answer = ctx.php("GET", &path_of(&href(&links, rel)), None).await;
        assert_eq!(answer.json()["_page"], page, "{rel}");
        assert_eq!(names(&answer), expected, "{rel}");
    }
    // Four txt files fill two pages exactly: the second links no `next`
    // (Satchel links only a page it knows holds something), and a third
    // page is 204.
    assert!(links.get("next").is_none(), "{links}");
    assert_eq!(ctx.list(&query.replace("page=1", "page=3")).await.status, 204);

    // A last page that is not the second: prev goes back one, first to 1.
    let third = ctx.list("order%5Bcreated_at%5D=asc&limit=2&page=3").await;
    assert_eq!(names(&third), ["e.pdf"]);
    let links = third.json()["_links"].clone();
    assert!(href(&links, "prev").ends_with("page=2&limit=2"));
    assert!(href(&links, "first").ends_with("page=1&limit=2"));
    assert!(links.get("next").is_none());
    ctx.app.cleanup().await;
}

async fn files_and_versions_carry_every_key_kommo_documents(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let uploaded = ctx.upload_named("Quote.pdf", None).await;
    let file_uuid = uuid(&uploaded);
    // The upload's answer, the file, and the list's items: all whole.
    assert_keys(&uploaded, &FILE_KEYS, "the upload answer");
    let file = ctx.ok("GET", &format!("/v1.0/files/{file_uuid}"), None).await;
    assert_keys(&file, &FILE_KEYS, "the file");
    let listed = ctx.list("").await.json()["_embedded"]["files"][0].clone();
    assert_keys(&listed, &FILE_KEYS, "a listed file");
    // What FileModel::fromArray needs: an integer id, links, actors.
    assert!(file["id"].as_i64().unwrap() > 0);
    for link in ["self", "download", "download_version"] {
        assert!(file["_links"][link]["href"].is_string(), "{link}");
    }
    for actor in ["created_by", "updated_by"] {
        assert!(file[actor]["id"].is_i64() && file[actor]["type"] == "internal", "{actor}");
    }
    assert!(file["size"].is_i64());
    // Empty values are null, not left out.
    for empty in ["source_id", "deleted_at", "deleted_by", "previews"] {
        assert!(file[empty].is_null(), "{empty}: {file}");
    }

    // A second version; both versions whole.
    let second = ctx.upload_named("Quote.pdf", Some(&file_uuid)).await;
    let versions_uri = format!("/v1.0/files/{file_uuid}/versions");
    let versions = ctx.ok("GET", &versions_uri, None).await;
    assert_eq!(versions["_count"], 2);
    let listed_versions = versions["_embedded"]["versions"].as_array().unwrap().clone();
    for version in &listed_versions {
        assert_keys(version, &VERSION_KEYS, "a version");
        assert!(version["source_id"].is_null());
        assert!(version["size"].is_i64());
        assert_eq!(version["file_uuid"], file_uuid.as_str());
        assert_eq!(version["updated_at"], version["created_at"], "not changed since its upload");
        assert_eq!(version["updated_by"], version["created_by"]);
        assert_eq!(version["updated_by"]["type"], "internal");
        assert!(version["metadata"]["extension"] == "pdf" && version["previews"].is_null());
    }
    assert_eq!(listed_versions[0]["uuid"], second["version_uuid"], "newest first");
    assert_eq!(listed_versions[0]["is_main"], true);
    let one = ctx
        .ok("GET", &format!("{versions_uri}/{}", uploaded["version_uuid"].as_str().unwrap()), None)
        .await;
    assert_keys(&one, &VERSION_KEYS, "one version");

    // Made the active one again, the first version records when and by whom.
    sqlx::query("update file_versions set created_at = 1000000000 where uuid = $1")
        .bind(uploaded["version_uuid"].as_str().unwrap())
        .execute(ctx.app.state.db.pool())
        .await
        .unwrap();
    let before = now_unix();
    let switched = ctx
        .ok(
            "PATCH",
            &format!("/v1.0/files/{file_uuid}"),
            // What FileModel::toApi() sends.
            Some(json!({"uuid": file_uuid, "version_uuid": uploaded["version_uuid"], "request_id": 0})),
        )
        .await;
    assert_keys(&switched, &FILE_KEYS, "the PATCH answer");
    let first = ctx
        .ok("GET", &format!("{versions_uri}/{}", uploaded["version_uuid"].as_str().unwrap()), None)
        .await;
    assert_eq!(first["is_main"], true);
    assert_eq!(first["created_at"], 1_000_000_000);
    assert!(first["updated_at"].as_i64().unwrap() >= before);
    assert_eq!(first["updated_by"], switched["updated_by"]);

    // Trashed: the deletion's keys get values.
    let trashed = ctx.php("DELETE", "/v1.0/files", Some(json!([{"uuid": file_uuid}]))).await;
    assert_eq!(trashed.status, 200, "{}", trashed.text());
    let gone = ctx.ok("GET", &format!("/v1.0/files/{file_uuid}?with=deleted"), None).await;
    assert_keys(&gone, &FILE_KEYS, "a trashed file");
    assert!(gone["deleted_at"].is_i64() && gone["deleted_by"]["type"] == "internal");
    assert_eq!(gone["is_trashed"], true);
    ctx.app.cleanup().await;
}

async fn the_sanitized_name_is_the_name_in_ascii(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    for (name, shown, sanitized) in [
        ("Отчёт за квартал.PDF", "Отчёт за квартал", "Otchyot za kvartal"),
        ("Crème brûlée à Łódź.txt", "Crème brûlée à Łódź", "Creme brulee a Lodz"),
        ("Щит и меч.docx", "Щит и меч", "Shchit i mech"),
        ("source.jpeg", "source", "source"),
        ("50%: done?.csv", "50%: done?", "50__ done_"),
        ("报告.txt", "报告", "__"),
    ] {
        let file = ctx.upload_named(name, None).await;
        assert_eq!(
            (file["name"].as_str(), file["sanitized_name"].as_str()),
            (Some(shown), Some(sanitized))
        );
        assert!(file["sanitized_name"].as_str().unwrap().is_ascii());
        let versions = ctx.ok("GET", &format!("/v1.0/files/{}/versions", uuid(&file)), None).await;
        let version = &versions["_embedded"]["versions"][0];
        assert_eq!(
            (version["name"].as_str(), version["sanitized_name"].as_str()),
            (Some(shown), Some(sanitized))
        );
        // The download link ends in the whole name in ASCII, as Kommo's
        // `picture.png`; the bytes keep their real name in the header.
        let link = file["_links"]["download"]["href"].as_str().unwrap();
        let last = link.split('?').next().unwrap().rsplit('/').next().unwrap();
        let decoded = percent_decode_str(last).decode_utf8().unwrap();
        let extension = name.rsplit_once('.').unwrap().1;
        assert_eq!(decoded, format!("{sanitized}.{extension}"), "{link}");
        let got = ctx.php("GET", &path_of(link), None).await;
        assert_eq!(got.status, 200);
        let disposition = got.header("content-disposition").unwrap();
        assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    }
    // filter[name] still finds the name as shown, not the ASCII one.
    let by_name =
        |name: &str| format!("filter%5Bname%5D={}", utf8_percent_encode(name, NON_ALPHANUMERIC));
    assert_eq!(names(&ctx.list(&by_name("Щит и меч")).await), ["Щит и меч.docx"]);
    assert!(names(&ctx.list(&by_name("Shchit i mech")).await).is_empty());
    ctx.app.cleanup().await;
}

async fn a_new_version_with_another_name_renames_the_file(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let draft = ctx.upload_named("draft.docx", None).await;
    let file_uuid = uuid(&draft);
    let renamed = ctx
        .ok("PATCH", &format!("/v1.0/files/{file_uuid}"), Some(json!({"name": "Contract"})))
        .await;
    assert_eq!(name_with_extension(&renamed), "Contract.docx");

    // A new version with another name and extension: the file shows it.
    let signed = ctx.upload_named("Contract signed.PDF", Some(&file_uuid)).await;
    assert_eq!(signed["uuid"], file_uuid.as_str());
    assert_eq!(
        (signed["name"].as_str(), signed["sanitized_name"].as_str()),
        (Some("Contract signed"), Some("Contract signed"))
    );
    assert_eq!(signed["metadata"], json!({"extension": "pdf", "mime_type": "application/pdf"}));
    assert_eq!(signed["type"], "document");
    assert_eq!(signed["has_multiple_versions"], true);
    let file = ctx.ok("GET", &format!("/v1.0/files/{file_uuid}"), None).await;
    assert_eq!(name_with_extension(&file), "Contract signed.pdf");
    assert!(file["_links"]["download"]["href"]
        .as_str()
        .unwrap()
        .contains("Contract%20signed%2EPDF"));
    // The list filters see the new name and extension.
    assert_eq!(
        names(&ctx.list("filter%5Bextensions%5D%5B0%5D=pdf").await),
        ["Contract signed.pdf"]
    );
    assert!(names(&ctx.list("filter%5Bextensions%5D%5B0%5D=docx").await).is_empty());
    assert_eq!(names(&ctx.list("filter%5Bterm%5D=signed").await), ["Contract signed.pdf"]);
    assert_eq!(
        names(&ctx.list("filter%5Bname%5D=Contract%20signed").await),
        ["Contract signed.pdf"]
    );
    assert!(names(&ctx.list("filter%5Bterm%5D=draft").await).is_empty());
    // Each version keeps the name it was uploaded with.
    let versions = ctx.ok("GET", &format!("/v1.0/files/{file_uuid}/versions"), None).await;
    let version_names: Vec<String> = versions["_embedded"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(name_with_extension)
        .collect();
    assert_eq!(version_names, ["Contract signed.pdf", "draft.docx"]);

    // Made active again, the first version brings its extension back (the
    // bytes are a docx again); the file keeps the name it is shown by.
    let back = ctx
        .ok(
            "PATCH",
            &format!("/v1.0/files/{file_uuid}"),
            Some(json!({"version_uuid": draft["version_uuid"]})),
        )
        .await;
    assert_eq!(name_with_extension(&back), "Contract signed.docx");
    assert_eq!(back["metadata"]["mime_type"], draft["metadata"]["mime_type"]);

    // A version without an extension leaves the file without one; the same
    // name again changes nothing but the version.
    let bare = ctx.upload_named("notes", Some(&file_uuid)).await;
    assert_eq!(
        (bare["name"].as_str(), bare["metadata"]["extension"].as_str()),
        (Some("notes"), Some(""))
    );
    let again = ctx.upload_named("notes", Some(&file_uuid)).await;
    assert_eq!(name_with_extension(&again), "notes");
    assert_eq!(
        ctx.ok("GET", &format!("/v1.0/files/{file_uuid}/versions"), None).await["_count"],
        4
    );
    ctx.app.cleanup().await;
}

async fn deleted_and_updated_by_filter_as_kommo_defines_them(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let editor = ctx.app.token("acme", "files").await;
    let kept = ctx.upload_named("kept.txt", None).await;
    let binned = ctx.upload_named("binned.txt", None).await;
    let trash = ctx.php("DELETE", "/v1.0/files", Some(json!([{"uuid": uuid(&binned)}]))).await;
    assert_eq!(trash.status, 200);

    // "If passed, deleted files will be displayed": the library sends
    // `filter[deleted]=1` (PHP's true); any value is passed but 0/false.
    for passed in
        ["filter%5Bdeleted%5D=1", "filter[deleted]=true", "filter[deleted]=", "filter[deleted]=yes"]
    {
        assert_eq!(names(&ctx.list(passed).await), ["binned.txt"], "{passed}");
    }
    for not in ["", "filter[deleted]=0", "filter[deleted]=false"] {
        assert_eq!(names(&ctx.list(not).await), ["kept.txt"], "{not}");
    }

    // updated_by: whoever edited the file last.
    let renamed = ctx
        .php_as(
            &editor,
            "PATCH",
            &format!("/v1.0/files/{}", uuid(&kept)),
            Some(json!({"name": "edited"})),
        )
        .await
        .json();
    let (author, edited_by) = (&kept["created_by"]["id"], &renamed["updated_by"]["id"]);
    assert_ne!(author, edited_by);
    let by_editor = format!("filter%5Bupdated_by%5D%5B0%5D={edited_by}");
    assert_eq!(names(&ctx.list(&by_editor).await), ["edited.txt"]);
    let by_author = format!("filter%5Bupdated_by%5D%5B0%5D={author}");
    assert!(names(&ctx.list(&by_author).await).is_empty());
    let created = format!("filter%5Bcreated_by%5D%5B0%5D={author}");
    assert_eq!(names(&ctx.list(&created).await), ["edited.txt"]);
    ctx.app.cleanup().await;
}

on_both!(
    every_date_preset_lists_the_files_of_its_period,
    a_limit_above_the_maximum_is_read_as_the_maximum,
    pages_link_to_self_next_prev_and_first,
    files_and_versions_carry_every_key_kommo_documents,
    the_sanitized_name_is_the_name_in_ascii,
    a_new_version_with_another_name_renames_the_file,
    deleted_and_updated_by_filter_as_kommo_defines_them,
);
