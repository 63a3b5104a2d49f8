//! Kommo fidelity, part one: the account object and drive discovery
//! (`GET /api/v4/account?with=drive_url`), and query arrays as Kommo's
//! official PHP library writes them (`filter%5Bextensions%5D%5B0%5D=pdf`,
//! brackets encoded, lists indexed, `limit=50&page=1` always sent) on the
//! files list and the CRM lists; on SQLite and PostgreSQL.

use axum::{
    body::Body,
    http::{header, Request},
};
use satchel::testing::Backend;
use serde_json::{json, Value};
use support::{path_of, pattern, send, upload_one_part, Answer};

use crate::support;

use support::kommo::Kommo;

/// The public URL the drive is discovered at; the trailing slash must not
/// reach `drive_url`.
const PUBLIC_URL: &str = "https://drive.satchel.test";

type Ctx = Kommo;

/// A file of `size` bytes, uploaded in one part with `token`.
async fn upload(ctx: &Ctx, token: &str, name: &str, size: usize) -> Value {
    upload_one_part(&ctx.router, token, name, &pattern(size, size as u8), None).await
}

/// `field` of every item of a list answer (`_embedded.{what}`), in order;
/// none for 204.
fn listed(answer: &Answer, what: &str, field: &str) -> Vec<Value> {
    if answer.status == 204 {
        assert!(answer.body.is_empty());
        return vec![];
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["_embedded"][what].as_array().unwrap().iter().map(|i| i[field].clone()).collect()
}

async fn the_account_answers_kommo_fields_and_the_drive_url(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    // Any valid token of the account, whatever its scopes.
    let files_only = ctx.app.token("acme", "files").await;
    let crm_only = ctx.app.token("acme", "crm").await;

    let account = ctx.php_as(&files_only, "GET", "/api/v4/account?with=drive_url", None).await;
    assert_eq!(account.status, 200, "{}", account.text());
    assert_eq!(account.header("content-type"), Some("application/hal+json"));
    let account = account.json();
    assert_eq!(account["drive_url"], PUBLIC_URL);
    assert_eq!(account["name"], "acme");
    assert_eq!(account["subdomain"], "acme");
    assert!(account["id"].as_i64().unwrap() > 0);
    // What the PHP library reads unchecked, with the types its setters take.
    let created_at = account["created_at"].as_i64().expect("created_at is an integer");
    let now = satchel::store::now_unix();
    assert!(created_at > now - 600 && created_at <= now, "{created_at}");
    assert_eq!(account["updated_at"], created_at, "accounts never change");
    assert_eq!((&account["created_by"], &account["updated_by"]), (&json!(0), &json!(0)));
    assert!(account["current_user_id"].as_i64().unwrap() > 0);
    assert_eq!(account["customers_mode"], "unavailable");
    for key in ["country", "currency", "currency_symbol"] {
        assert_eq!(account[key], "", "{key}");
    }
    for key in
        ["is_unsorted_on", "is_loss_reason_enabled", "is_helpbot_enabled", "is_technical_account"]
    {
        assert_eq!(account[key], false, "{key}");
    }
    assert_eq!(account["contact_name_display_order"], 1);
    assert_eq!(account["mobile_feature_version"], 0);
    assert_eq!(account["_links"]["self"]["href"], format!("{PUBLIC_URL}/api/v4/account"));
    assert!(account.get("_embedded").is_none());

    // The drive URL it discovered serves the Files API: what a file made
    // there links to starts with it.
    let file = upload(&ctx, &files_only, "contract.pdf", 10).await;
    assert!(file["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/v1.0/files/", account["drive_url"].as_str().unwrap())));

    // current_user_id is the user the token acts as: the one a file it
    // makes names as its author.
    assert_eq!(file["created_by"]["id"], account["current_user_id"]);
    let as_crm = ctx.php_as(&crm_only, "GET", "/api/v4/account", None).await;
    assert_eq!(as_crm.status, 200, "{}", as_crm.text());
    let as_crm = as_crm.json();
    assert_eq!(as_crm["id"], account["id"]);
    assert_ne!(as_crm["current_user_id"], account["current_user_id"], "another token");
    assert!(as_crm.get("drive_url").is_none(), "only on request: {as_crm}");

    // Every `with` value Kommo and its PHP library know: the truthful ones
    // answered, the others left out; in any of the list forms.
    for uri in [
        "/api/v4/account?with=amojo_id,amojo_rights,users_groups,task_types,version,\
         entity_names,datetime_settings,drive_url,is_api_filter_enabled,uuid,invoices_settings",
        "/api/v4/account?with%5B0%5D=amojo_rights&with%5B1%5D=users_groups%2Ctask_types\
         &with[]=drive_url&with[]=is_api_filter_enabled&with[]=no_such_thing",
    ] {
        let all = ctx.ok("GET", uri, None).await;
        assert_eq!(all["drive_url"], PUBLIC_URL, "{uri}");
        assert_eq!(all["is_api_filter_enabled"], true);
        assert_eq!(
            all["_embedded"],
            json!({"amojo_rights": {"can_direct": false, "can_create_groups": false},
                   "users_groups": [], "task_types": []})
        );
        for absent in ["amojo_id", "version", "entity_names", "uuid", "invoices_settings"] {
            assert!(all.get(absent).is_none(), "{absent} in {all}");
        }
    }

    // Each account sees itself.
    let other = ctx.app.token("globex", "files").await;
    let globex = ctx.php_as(&other, "GET", "/api/v4/account", None).await.json();
    assert_eq!(globex["name"], "globex");
    assert_ne!(globex["id"], account["id"]);

    // No token, an unknown one, a malformed header: 401 as everywhere.
    let bare =
        send(&ctx.router, Request::get("/api/v4/account").body(Body::empty()).unwrap()).await;
    let problem = bare.problem(401, "unauthorized");
    assert!(problem["detail"].as_str().unwrap().contains("bearer token"), "{problem}");
    ctx.php_as("sat_not-a-token", "GET", "/api/v4/account", None)
        .await
        .problem(401, "unauthorized");
    let basic = Request::get("/api/v4/account?with=drive_url")
        .header(header::AUTHORIZATION, format!("Basic {}", ctx.token))
        .body(Body::empty())
        .unwrap();
    send(&ctx.router, basic).await.problem(401, "unauthorized");

    // The OpenAPI document describes it, drive_url included.
    let doc = send(&ctx.router, support::get("/api/openapi.json")).await.json();
    let method = &doc["paths"]["/api/v4/account"]["get"];
    assert!(method["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "with"));
    let schema = &doc["components"]["schemas"]["AccountView"];
    for key in ["created_at", "updated_at", "customers_mode", "drive_url", "_links"] {
        assert!(schema["properties"][key].is_object(), "{key} in {schema}");
    }
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_account_answers_kommo_fields_and_the_drive_url() {
    the_account_answers_kommo_fields_and_the_drive_url(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_account_answers_kommo_fields_and_the_drive_url() {
    the_account_answers_kommo_fields_and_the_drive_url(Backend::Postgres).await;
}

async fn the_files_list_reads_query_arrays_as_php_writes_them(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let second = ctx.app.token("acme", "files").await;
    let pdf = upload(&ctx, &ctx.token, "Contract.pdf", 30).await;
    let txt = upload(&ctx, &second, "notes.TXT", 20).await;
    let png = upload(&ctx, &ctx.token, "logo.png", 10).await;
    let uuid = |f: &Value| f["uuid"].as_str().unwrap().to_owned();
    // Each file's name with its extension, as the library's
    // getNameWithExtension() writes it.
    let names = |answer: &Answer| -> Vec<String> {
        let extensions = listed(answer, "files", "metadata");
        listed(answer, "files", "name")
            .iter()
            .zip(&extensions)
            .map(|(n, m)| format!("{}.{}", n.as_str().unwrap(), m["extension"].as_str().unwrap()))
            .collect()
    };
    let c = &ctx;
    let list =
        |query: String| async move { c.php("GET", &format!("/v1.0/files?{query}"), None).await };

    // The list request as the PHP library sends it, byte for byte as Guzzle does.
    let php = list(
        "filter%5Bextensions%5D%5B0%5D=pdf&filter%5Bextensions%5D%5B1%5D=txt&limit=50&page=1"
            .into(),
    )
    .await;
    assert_eq!(names(&php), ["notes.txt", "Contract.pdf"]);
    let body = php.json();
    assert_eq!((&body["_page"], &body["_count"]), (&json!(1), &json!(2)));
    // The same list in every other form: indices out of order or with
    // gaps, Kommo's `[]`, a comma list, unencoded brackets.
    for query in [
        "filter[extensions][1]=txt&filter[extensions][0]=pdf",
        "filter%5Bextensions%5D%5B3%5D=PDF&filter%5Bextensions%5D%5B7%5D=.txt",
        "filter[extensions][]=pdf&filter[extensions][]=txt",
        "filter[extensions]=pdf,txt",
    ] {
        assert_eq!(names(&list(query.into()).await), ["notes.txt", "Contract.pdf"], "{query}");
    }

    // filter[uuid] as the library sends it: one comma-joined string.
    let by_uuid = format!("filter%5Buuid%5D={}%2C{}&limit=50&page=1", uuid(&pdf), uuid(&png));
    assert_eq!(names(&list(by_uuid).await), ["logo.png", "Contract.pdf"]);
    let indexed = format!("filter[uuid][0]={}&filter[uuid][1]={}", uuid(&txt), uuid(&png));
    assert_eq!(names(&list(indexed).await), ["logo.png", "notes.txt"]);

    // Authors, as the library indexes them; updated_by too.
    let author = &txt["created_by"]["id"];
    let by_author = format!("filter%5Bcreated_by%5D%5B0%5D={author}&limit=50&page=1");
    assert_eq!(names(&list(by_author).await), ["notes.txt"]);
    let first_author = &pdf["updated_by"]["id"];
    let by_editor = format!(
        "filter%5Bupdated_by%5D%5B0%5D={first_author}&filter%5Bupdated_by%5D%5B1%5D=999999"
    );
    assert_eq!(names(&list(by_editor).await), ["logo.png", "Contract.pdf"]);

    // Filters this list does not know are ignored, as Kommo ignores them.
    let unknown = "filter%5Bresponsible_user_id%5D%5B0%5D=5&filter[colour]=red&limit=50&page=1";
    assert_eq!(names(&list(unknown.into()).await), ["logo.png", "notes.txt", "Contract.pdf"]);

    // A page's links keep the filters as sent, so following `next` (as
    // the library does, re-sending its query) walks the same list.
    let first = list(
        "filter%5Bextensions%5D%5B0%5D=pdf&filter%5Bextensions%5D%5B1%5D=png&limit=1&page=1".into(),
    )
    .await;
    assert_eq!(names(&first), ["logo.png"]);
    let next = first.json()["_links"]["next"]["href"].as_str().unwrap().to_owned();
    assert!(next.starts_with(&format!("{PUBLIC_URL}/v1.0/files?")), "{next}");
    let second_page = ctx.php_as(&ctx.token, "GET", &path_of(&next), None).await;
    assert_eq!(names(&second_page), ["Contract.pdf"]);
    assert!(second_page.json()["_links"].get("next").is_none());

    // Bad values are named in the problem's detail, in Kommo's list name.
    for (query, named) in [
        ("filter%5Bcreated_by%5D%5B0%5D=bob", "filter[created_by][]"),
        ("filter%5Bupdated_by%5D%5B2%5D=-x", "filter[updated_by][]"),
        ("filter%5Bname%5D%5B0%5D=Contract", "filter[name]"),
        ("filter%5Bsize%5D%5Bfrom%5D%5B%5D=1", "filter[size][from]"),
        ("order%5Bsize%5D%5B0%5D=asc", "order[size]"),
    ] {
        let problem = list(query.into()).await.problem(400, "validation");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{query}: {detail}");
    }
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_files_list_reads_query_arrays_as_php_writes_them() {
    the_files_list_reads_query_arrays_as_php_writes_them(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_files_list_reads_query_arrays_as_php_writes_them() {
    the_files_list_reads_query_arrays_as_php_writes_them(Backend::Postgres).await;
}

async fn the_crm_lists_read_id_filters_in_every_list_form(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let created = ctx
        .ok(
            "POST",
            "/api/v4/leads",
            Some(json!([{"name": "Alpha"}, {"name": "Beta"}, {"name": "Gamma"}])),
        )
        .await;
    let ids: Vec<i64> = created["_embedded"]["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    let c = &ctx;
    let leads =
        |query: String| async move { c.php("GET", &format!("/api/v4/leads?{query}"), None).await };
    let lead_names = |answer: &Answer| listed(answer, "leads", "name");

    let php = format!(
        "filter%5Bid%5D%5B0%5D={}&filter%5Bid%5D%5B1%5D={}&limit=50&page=1",
        ids[0], ids[2]
    );
    assert_eq!(lead_names(&leads(php).await), ["Alpha", "Gamma"]);
    for query in [
        format!("filter[id][]={}&filter[id][]={}", ids[2], ids[0]),
        format!("filter[id][5]={}&filter[id][2]={}", ids[0], ids[2]),
    ] {
        assert_eq!(lead_names(&leads(query.clone()).await), ["Alpha", "Gamma"], "{query}");
    }
    assert_eq!(lead_names(&leads(format!("filter[id]={}", ids[1])).await), ["Beta"]);
    // Unknown filters are ignored; no such id is an empty list (204).
    assert_eq!(
        lead_names(&leads("filter%5Bpipeline_id%5D%5B0%5D=7&limit=50&page=1".into()).await),
        ["Alpha", "Beta", "Gamma"]
    );
    assert_eq!(leads("filter[id][0]=999999".into()).await.status, 204);

    // Page links keep the filter, in Kommo's `[]` form.
    let first = leads(format!(
        "filter%5Bid%5D%5B0%5D={}&filter%5Bid%5D%5B1%5D={}&limit=1&page=1",
        ids[1], ids[2]
    ))
    .await;
    assert_eq!(lead_names(&first), ["Beta"]);
    let next = first.json()["_links"]["next"]["href"].as_str().unwrap().to_owned();
    assert!(next.starts_with(&format!("{PUBLIC_URL}/api/v4/leads?")), "{next}");
    assert_eq!(lead_names(&ctx.php_as(&ctx.token, "GET", &path_of(&next), None).await), ["Gamma"]);

    for (query, named) in [
        ("filter%5Bid%5D%5B0%5D=abc", "filter[id][]"),
        ("filter[id]=1,2", "filter[id][]"),
        ("limit%5B0%5D=5", "limit"),
    ] {
        let problem = leads(query.into()).await.problem(400, "validation");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{query}: {detail}");
    }

    // An entity's notes, filtered by id the same way.
    let lead = ids[0];
    let notes_uri = format!("/api/v4/leads/{lead}/notes");
    let added = ctx
        .ok(
            "POST",
            &notes_uri,
            Some(json!([
                {"note_type": "common", "params": {"text": "first"}},
                {"note_type": "common", "params": {"text": "second"}},
                {"note_type": "common", "params": {"text": "third"}},
            ])),
        )
        .await;
    let note_ids: Vec<i64> = added["_embedded"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    let notes = |query: String| {
        let uri = format!("{notes_uri}?{query}");
        async move { c.php("GET", &uri, None).await }
    };
    let texts = |answer: &Answer| -> Vec<Value> {
        listed(answer, "notes", "params").into_iter().map(|p| p["text"].clone()).collect()
    };
    let php = format!(
        "filter%5Bid%5D%5B0%5D={}&filter%5Bid%5D%5B2%5D={}&limit=50&page=1",
        note_ids[2], note_ids[1]
    );
    assert_eq!(texts(&notes(php).await), ["second", "third"]);
    assert_eq!(texts(&notes(format!("filter[id][]={}", note_ids[0])).await), ["first"]);
    assert_eq!(texts(&notes("limit=50&page=1".into()).await), ["first", "second", "third"]);
    notes("filter%5Bid%5D%5B0%5D=0".into()).await.problem(400, "validation");
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_crm_lists_read_id_filters_in_every_list_form() {
    the_crm_lists_read_id_filters_in_every_list_form(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_crm_lists_read_id_filters_in_every_list_form() {
    the_crm_lists_read_id_filters_in_every_list_form(Backend::Postgres).await;
}
