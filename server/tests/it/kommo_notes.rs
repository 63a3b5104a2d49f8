//! Kommo fidelity, the notes API: every note type added in batch (by
//! entity type with `entity_id`, or on one entity), read back by id in
//! both path forms and through `_links.self`, listed with Kommo's filters,
//! order and paging, and edited in batch and one at a time; refusals in
//! Kommo's `validation-errors` shape with nothing written. Requests are
//! sent as Kommo's reference and its official PHP library send them (a
//! JSON array even for one note, `request_id` as a string, query arrays
//! as `filter%5Bid%5D%5B0%5D=`); on SQLite and PostgreSQL.

use satchel::testing::Backend;
use serde_json::{json, Value};
use support::{path_of, pattern, upload_one_part, Answer};

use crate::support;

use support::kommo::Kommo;

const PUBLIC_URL: &str = "https://crm.satchel.test";

type Ctx = Kommo;

impl Ctx {
    async fn entity(&self, kind: &str, name: &str) -> i64 {
        let made = self.ok("POST", &format!("/api/v4/{kind}"), Some(json!([{"name": name}]))).await;
        made["_embedded"][kind][0]["id"].as_i64().unwrap()
    }

    async fn upload_as(&self, token: &str, name: &str, file_uuid: Option<&str>) -> Value {
        upload_one_part(&self.router, token, name, &pattern(64, 7), file_uuid).await
    }

    async fn count_notes(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("select cast(count(*) as bigint) from notes")
            .fetch_one(self.app.state.db.pool())
            .await
            .unwrap()
    }

    /// The ids of a batch answer's notes, in order.
    fn ids(answer: &Value) -> Vec<i64> {
        notes_of(answer).iter().map(|n| n["id"].as_i64().unwrap()).collect()
    }
}

fn notes_of(answer: &Value) -> Vec<Value> {
    answer["_embedded"]["notes"].as_array().expect("_embedded.notes").clone()
}

/// The ids a list answers, in order; none for a 204.
fn listed_ids(answer: &Answer) -> Vec<i64> {
    if answer.status == 204 {
        assert!(answer.body.is_empty(), "204 has no body");
        return vec![];
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    Ctx::ids(&answer.json())
}

/// Kommo's validation answer: 400, problem+json, `validation-errors` as
/// (request_id, code, path).
fn validation_errors(answer: &Answer, slug: &str) -> Vec<(String, String, String)> {
    let body = answer.problem(400, slug);
    assert_eq!(
        body["title"],
        if slug == "validation" { "Invalid request" } else { "File is in the trash" }
    );
    let mut found = vec![];
    for item in body["validation-errors"].as_array().expect("validation-errors") {
        for e in item["errors"].as_array().unwrap() {
            assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
            found.push((
                item["request_id"].as_str().expect("request_id is a string").to_owned(),
                e["code"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
            ));
        }
    }
    found
}

fn error(request_id: &str, code: &str, path: &str) -> (String, String, String) {
    (request_id.into(), code.into(), path.into())
}

async fn every_note_type_is_added_in_batch_and_read_back_by_id(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let lead = ctx.entity("leads", "Acme deal").await;
    let contact = ctx.entity("contacts", "Ann").await;
    let file = ctx.upload_as(&ctx.token, "quote.pdf", None).await;
    let (file_uuid, version_uuid) =
        (file["uuid"].as_str().unwrap(), file["version_uuid"].as_str().unwrap());

    // Kommo's own examples of each type's params, as the PHP library's
    // add() sends them: request_id "0", "1", ... and null for params unset.
    let call = json!({"uniq": "8f52d38a-5fb3-406d-93a3-a4832dc28f8b", "duration": 60,
                      "source": "Twilio", "link": "https://example.com", "phone": "+14155551234"});
    let sent = [
        ("common", json!({"text": "Common note"})),
        ("call_in", call.clone()),
        (
            "call_out",
            json!({"uniq": null, "duration": 15, "source": "SIP", "link": null, "phone": "+14155550000"}),
        ),
        ("service_message", json!({"service": "Example service", "text": "Note text"})),
        ("extended_service_message", json!({"service": "Example service", "text": "Note text"})),
        (
            "geolocation",
            json!({"text": "Geolocation", "address": "222 Columbus Ave Ste 407",
                   "longitude": "-13", "latitude": "32"}),
        ),
        ("sms_in", json!({"text": "New incoming SMS", "phone": "+14155551234"})),
        ("sms_out", json!({"text": "New outgoing SMS", "phone": "+14155551234"})),
        (
            "attachment",
            json!({"version_uuid": version_uuid, "file_uuid": file_uuid, "file_name": "Quote.pdf"}),
        ),
    ];
    let body: Vec<Value> = sent
        .iter()
        .enumerate()
        .map(|(i, (note_type, params))| {
            json!({"entity_id": lead, "request_id": i.to_string(), "note_type": note_type,
                   "params": params, "is_need_to_trigger_digital_pipeline": false})
        })
        .collect();
    let added = ctx.ok("POST", "/api/v4/leads/notes", Some(Value::Array(body))).await;
    assert_eq!(added["_links"]["self"]["href"], format!("{PUBLIC_URL}/api/v4/leads/notes"));
    let notes = notes_of(&added);
    assert_eq!(notes.len(), sent.len());
    let account = ctx.ok("GET", "/api/v4/account", None).await;
    let expected_params = |i: usize| -> Value {
        match sent[i].0 {
            "call_out" => json!({"duration": 15, "source": "SIP", "phone": "+14155550000"}),
            "attachment" => json!({"file_uuid": file_uuid, "version_uuid": version_uuid,
                "file_name": "Quote.pdf", "original_name": "quote.pdf",
                "is_drive_attachment": true, "is_deleted": false}),
            _ => sent[i].1.clone(),
        }
    };
    for (i, note) in notes.iter().enumerate() {
        // The library matches answers to its models with ===: the string
        // it sent must come back as that same string.
        assert_eq!(note["request_id"], json!(i.to_string()), "{note}");
        assert_eq!(note["entity_id"], lead);
        assert_eq!(note["note_type"], sent[i].0);
        assert_eq!(note["params"], expected_params(i), "{}", sent[i].0);
        assert!(note["id"].as_i64().unwrap() > 0);
        assert_eq!(note["account_id"], account["id"]);
        assert_eq!(note["created_by"], note["updated_by"]);

        // _links.self resolves, and both by-id forms answer the same note.
        let href = note["_links"]["self"]["href"].as_str().unwrap();
        assert!(href.starts_with(PUBLIC_URL), "{href}");
        let id = note["id"].as_i64().unwrap();
        for uri in [
            path_of(href),
            format!("/api/v4/leads/notes/{id}"),
            format!("/api/v4/leads/{lead}/notes/{id}"),
        ] {
            let one = ctx.ok("GET", &uri, None).await;
            assert_eq!(one["id"], id, "{uri}");
            assert_eq!(one["params"], expected_params(i), "{uri}");
            assert_eq!(one["_links"]["self"]["href"], href);
            assert!(one.get("request_id").is_none(), "only in add answers");
            assert!(one.get("is_pinned").is_none(), "only with=is_pinned");
        }
    }
    let last = notes[0]["id"].as_i64().unwrap();
    let pinned = ctx.ok("GET", &format!("/api/v4/leads/notes/{last}?with=is_pinned"), None).await;
    assert_eq!(pinned["is_pinned"], false);

    // The attachment note put its file into the lead's Media tab.
    let media = ctx.ok("GET", &format!("/api/v4/leads/{lead}/files"), None).await;
    assert_eq!(media["_embedded"]["files"][0]["file_uuid"], file_uuid);

    // The entity form, on another type; a request_id sent as a number
    // comes back as that number, an item without one gets its index.
    let added = ctx
        .ok(
            "POST",
            &format!("/api/v4/contacts/{contact}/notes"),
            Some(json!([
                {"note_type": "sms_out", "request_id": 17, "params": {"text": "Hi", "phone": "+1"}},
                {"note_type": "common", "entity_id": contact, "params": {"text": "Called back"}},
            ])),
        )
        .await;
    let notes = notes_of(&added);
    assert_eq!((&notes[0]["request_id"], &notes[1]["request_id"]), (&json!(17), &json!("1")));
    assert_eq!(notes[1]["entity_id"], contact);
    let contact_note = notes[0]["id"].as_i64().unwrap();
    assert!(notes[0]["_links"]["self"]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/api/v4/contacts/{contact}/notes/{contact_note}")));

    // By id, a note is found only under its own entity type, its own
    // entity, and its own account.
    for uri in [
        format!("/api/v4/leads/notes/{contact_note}"),
        format!("/api/v4/companies/notes/{contact_note}"),
        format!("/api/v4/leads/{lead}/notes/{contact_note}"),
        format!("/api/v4/contacts/{lead}/notes/{contact_note}"),
        "/api/v4/leads/notes/999999".to_owned(),
        "/api/v4/leads/notes/abc".to_owned(),
    ] {
        ctx.php("GET", &uri, None).await.problem(404, "not-found");
    }
    let other = ctx.app.token("globex", "crm").await;
    ctx.php_as(&other, "GET", &format!("/api/v4/contacts/notes/{contact_note}"), None)
        .await
        .problem(404, "not-found");
    assert_eq!(
        ctx.php_as(&other, "GET", "/api/v4/contacts/notes", None).await.status,
        204,
        "another account sees none"
    );
    let files_only = ctx.app.token("acme", "files").await;
    ctx.php_as(&files_only, "GET", "/api/v4/leads/notes", None).await.problem(403, "forbidden");
    ctx.app.cleanup().await;
}

async fn a_batch_with_one_bad_note_writes_none(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let lead = ctx.entity("leads", "Deal").await;
    let company = ctx.entity("companies", "Globex").await;
    let trashed = ctx.upload_as(&ctx.token, "old.pdf", None).await;
    let trashed_uuid = trashed["uuid"].as_str().unwrap();
    let answer = ctx.php("DELETE", "/v1.0/files", Some(json!([{"uuid": trashed_uuid}]))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let foreign_token = ctx.app.token("globex", "files,crm").await;
    let foreign = ctx.upload_as(&foreign_token, "theirs.pdf", None).await;
    let good = json!({"entity_id": lead, "note_type": "common", "params": {"text": "fine"}});
    let before = ctx.count_notes().await;

    let answer = ctx
        .php(
            "POST",
            "/api/v4/leads/notes",
            Some(json!([
                {"entity_id": lead, "request_id": "0", "note_type": "common", "params": {"text": "fine"}},
                {"entity_id": lead, "request_id": "1", "note_type": "call_in",
                 "params": {"uniq": null, "duration": null, "source": "SIP", "link": null, "phone": null}},
                {"entity_id": company, "request_id": "2", "note_type": "common", "params": {"text": "x"}},
                {"request_id": "3", "note_type": "sms_in", "params": {"text": "x", "phone": "+1"}},
                {"entity_id": lead, "request_id": "4", "note_type": "invoice_paid", "params": {}},
                {"entity_id": lead, "request_id": "5", "note_type": "geolocation",
                 "params": {"latitude": "95", "longitude": "-13"}},
                {"entity_id": lead, "request_id": "6", "note_type": "attachment",
                 "params": {"file_uuid": foreign["uuid"]}},
                {"entity_id": lead, "note_type": "service_message", "params": {"service": "Bot"}},
            ])),
        )
        .await;
    assert_eq!(
        validation_errors(&answer, "validation"),
        vec![
            error("1", "NotBlank", "params.duration"),
            error("1", "NotBlank", "params.phone"),
            error("2", "NotFound", "entity_id"),
            error("3", "NotBlank", "entity_id"),
            error("4", "NotSupportedChoice", "note_type"),
            error("5", "InvalidValue", "params.latitude"),
            error("6", "NotFound", "params.file_uuid"),
            error("7", "NotBlank", "params.text"),
        ]
    );
    let detail = answer.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("params.duration") && detail.contains("7 more"), "{detail}");

    // A trashed file: Kommo's shape, with the slug saying why.
    let answer = ctx
        .php(
            "POST",
            &format!("/api/v4/leads/{lead}/notes"),
            Some(json!([good, {"note_type": "attachment", "request_id": "1",
                               "params": {"file_uuid": trashed_uuid}}])),
        )
        .await;
    assert_eq!(
        validation_errors(&answer, "file-trashed"),
        vec![error("1", "FileTrashed", "params.file_uuid")]
    );
    // The path's entity and the note's own entity_id must agree.
    let answer = ctx
        .php(
            "POST",
            &format!("/api/v4/leads/{lead}/notes"),
            Some(
                json!([{"entity_id": lead + 1000, "note_type": "common", "params": {"text": "x"}}]),
            ),
        )
        .await;
    assert_eq!(
        validation_errors(&answer, "validation"),
        vec![error("0", "InvalidValue", "entity_id")]
    );
    assert_eq!(ctx.count_notes().await, before, "nothing written");

    // Bodies that are not a batch at all.
    for body in [json!([]), json!({"entity_id": lead, "note_type": "common"}), json!("x")] {
        ctx.php("POST", "/api/v4/leads/notes", Some(body)).await.problem(400, "validation");
    }
    let too_many = Value::Array(vec![good.clone(); 251]);
    ctx.php("POST", "/api/v4/leads/notes", Some(too_many)).await.problem(400, "validation");
    ctx.php("POST", "/api/v4/leads/999999/notes", Some(json!([good])))
        .await
        .problem(404, "not-found");
    assert_eq!(ctx.count_notes().await, before, "nothing written");
    ctx.app.cleanup().await;
}

async fn the_lists_read_kommos_filters_order_and_paging(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let (a, b) = (ctx.entity("leads", "A").await, ctx.entity("leads", "B").await);
    let contact = ctx.entity("contacts", "C").await;
    let note = |entity: i64, note_type: &str, params: Value, updated_at: i64| {
        json!({"entity_id": entity, "note_type": note_type, "params": params,
               "created_at": updated_at, "updated_at": updated_at})
    };
    let sms = json!({"text": "hi", "phone": "+1"});
    let added = ctx
        .ok(
            "POST",
            "/api/v4/leads/notes",
            Some(json!([
                note(a, "common", json!({"text": "one"}), 1_000),
                note(a, "sms_in", sms.clone(), 3_000),
                note(b, "call_in", json!({"duration": 5, "source": "SIP", "phone": "+2"}), 2_000),
                note(b, "sms_out", sms.clone(), 4_000),
                note(a, "common", json!({"text": "five"}), 5_000),
            ])),
        )
        .await;
    let ids = Ctx::ids(&added);
    ctx.ok(
        "POST",
        "/api/v4/contacts/notes",
        Some(json!([note(contact, "common", json!({"text": "c"}), 1_500)])),
    )
    .await;
    let list = |query: &str| {
        let uri = format!("/api/v4/leads/notes?{query}");
        let ctx = &ctx;
        async move { ctx.php("GET", &uri, None).await }
    };
    let by_created = [ids[0], ids[2], ids[1], ids[3], ids[4]];

    // What the PHP library sends by default; oldest first, leads only.
    let all = list("limit=50&page=1").await;
    assert_eq!(listed_ids(&all), by_created);
    let all = all.json();
    assert_eq!(all["_page"], 1);
    assert_eq!(
        all["_links"]["self"]["href"],
        format!("{PUBLIC_URL}/api/v4/leads/notes?page=1&limit=50")
    );
    assert!(all["_links"].get("next").is_none() && all["_links"].get("prev").is_none());

    for (query, expected) in [
        (format!("filter%5Bentity_id%5D%5B0%5D={b}&limit=50&page=1"), vec![ids[2], ids[3]]),
        (format!("filter[entity_id][]={a}&filter[entity_id][]={b}"), by_created.to_vec()),
        (
            format!("filter%5Bid%5D%5B0%5D={}&filter%5Bid%5D%5B2%5D={}", ids[4], ids[0]),
            vec![ids[0], ids[4]],
        ),
        (
            "filter%5Bnote_type%5D%5B0%5D=sms_in&filter%5Bnote_type%5D%5B1%5D=sms_out".into(),
            vec![ids[1], ids[3]],
        ),
        ("filter[note_type]=common,call_in".into(), vec![ids[0], ids[2], ids[4]]),
        ("filter%5Bupdated_at%5D=3000".into(), vec![ids[1], ids[3], ids[4]]),
        (
            "filter%5Bupdated_at%5D%5Bfrom%5D=2000&filter%5Bupdated_at%5D%5Bto%5D=4000".into(),
            vec![ids[2], ids[1], ids[3]],
        ),
        ("filter[updated_at][to]=1000".into(), vec![ids[0]]),
        (
            "order%5Bupdated_at%5D=desc&limit=50&page=1".into(),
            vec![ids[4], ids[3], ids[1], ids[2], ids[0]],
        ),
        ("order[id]=desc".into(), vec![ids[4], ids[3], ids[2], ids[1], ids[0]]),
        ("order[id]=asc&filter[responsible_user_id]=5&order[created_at]=desc".into(), ids.clone()),
        (format!("filter[entity_id][]={contact}"), vec![]),
        ("filter[note_type][]=geolocation".into(), vec![]),
    ] {
        assert_eq!(listed_ids(&list(&query).await), expected, "{query}");
    }

    // Paging: _page, and self/next/prev/first carrying the filter in
    // Kommo's form; the library's nextPage() follows next as given.
    let first =
        list("filter%5Bnote_type%5D%5B0%5D=common&filter[note_type][1]=sms_in&order[updated_at]=asc&limit=1&page=2")
            .await;
    assert_eq!(listed_ids(&first), [ids[1]]);
    let page = first.json();
    assert_eq!(page["_page"], 2);
    let links = &page["_links"];
    let query = "filter%5Bnote_type%5D%5B%5D=common&filter%5Bnote_type%5D%5B%5D=sms_in\
                 &order%5Bupdated_at%5D=asc";
    for (rel, n) in [("self", 2), ("next", 3), ("prev", 1), ("first", 1)] {
        assert_eq!(
            links[rel]["href"],
            format!("{PUBLIC_URL}/api/v4/leads/notes?{query}&page={n}&limit=1"),
            "{rel}"
        );
    }
    let next = ctx.php("GET", &path_of(links["next"]["href"].as_str().unwrap()), None).await;
    assert_eq!(listed_ids(&next), [ids[4]]);
    assert!(next.json()["_links"].get("next").is_none(), "the last page");
    assert_eq!(list("limit=1&page=9").await.status, 204);

    // Above Kommo's maximum of 250 the list answers 250 a page.
    let big = list("limit=1000").await;
    assert_eq!(listed_ids(&big), by_created);
    assert!(big.json()["_links"]["self"]["href"].as_str().unwrap().ends_with("page=1&limit=250"));

    // The same filters on one entity's list.
    let of_a = |query: &str| {
        let uri = format!("/api/v4/leads/{a}/notes?{query}");
        let ctx = &ctx;
        async move { ctx.php("GET", &uri, None).await }
    };
    assert_eq!(listed_ids(&of_a("").await), [ids[0], ids[1], ids[4]]);
    assert_eq!(
        listed_ids(&of_a("filter%5Bnote_type%5D%5B0%5D=common&order%5Bid%5D=desc").await),
        [ids[4], ids[0]]
    );
    assert_eq!(
        listed_ids(&of_a("filter[updated_at][from]=2000&filter[updated_at][to]=4000").await),
        [ids[1]]
    );
    let paged = of_a("limit=2").await.json();
    assert_eq!(
        paged["_links"]["next"]["href"],
        format!("{PUBLIC_URL}/api/v4/leads/{a}/notes?page=2&limit=2")
    );
    assert_eq!(listed_ids(&of_a(&format!("filter[id][]={}", ids[2])).await), Vec::<i64>::new());
    ctx.php("GET", "/api/v4/leads/999999/notes", None).await.problem(404, "not-found");

    // A bad parameter is named.
    for (query, named) in [
        ("filter%5Bid%5D%5B0%5D=abc", "filter[id][]"),
        ("filter%5Bentity_id%5D%5B0%5D=-1", "filter[entity_id][]"),
        ("filter[note_type][]=fax", "filter[note_type][]"),
        ("filter[updated_at]=today", "filter[updated_at]"),
        ("filter[updated_at][from]=5&filter[updated_at][to]=1", "filter[updated_at][from]"),
        ("order[updated_at]=newest", "order[updated_at]"),
        ("limit=0", "limit"),
        ("page=x", "page"),
    ] {
        let problem = list(query).await.problem(400, "validation");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{query}: {detail}");
        let problem = of_a(query).await.problem(400, "validation");
        assert!(problem["detail"].as_str().unwrap().contains(named), "{query}");
    }
    ctx.app.cleanup().await;
}

async fn notes_are_edited_in_batch_and_one_at_a_time(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let lead = ctx.entity("leads", "Deal").await;
    let other_lead = ctx.entity("leads", "Other").await;
    let file = ctx.upload_as(&ctx.token, "plan.pdf", None).await;
    let file_uuid = file["uuid"].as_str().unwrap().to_owned();
    let first_version = file["version_uuid"].as_str().unwrap().to_owned();
    let added = ctx
        .ok(
            "POST",
            "/api/v4/leads/notes",
            Some(json!([
                {"entity_id": lead, "note_type": "common", "params": {"text": "draft"}, "updated_at": 100},
                {"entity_id": lead, "note_type": "call_out", "updated_at": 100,
                 "params": {"duration": 10, "source": "SIP", "phone": "+1"}},
                {"entity_id": lead, "note_type": "attachment", "params": {"file_uuid": file_uuid}},
            ])),
        )
        .await;
    let ids = Ctx::ids(&added);
    let (common, call, attachment) = (ids[0], ids[1], ids[2]);
    let get = |id: i64| {
        let uri = format!("/api/v4/leads/notes/{id}");
        let ctx = &ctx;
        async move { ctx.ok("GET", &uri, None).await }
    };

    // Batch, as the library's update() sends it: id, entity_id, the
    // type and the whole params, request_id as a string.
    let edited = ctx
        .ok(
            "PATCH",
            "/api/v4/leads/notes",
            Some(json!([
                {"id": common, "entity_id": lead, "request_id": "0", "note_type": "common",
                 "params": {"text": "final"}},
                {"id": call, "entity_id": lead, "request_id": "1", "note_type": "call_out",
                 "params": {"uniq": "u-1", "duration": 42, "source": "SIP", "link": null,
                            "phone": "+1", "call_status": 4}, "updated_at": 5_000},
            ])),
        )
        .await;
    assert_eq!(edited["_links"]["self"]["href"], format!("{PUBLIC_URL}/api/v4/leads/notes"));
    let notes = notes_of(&edited);
    assert_eq!((&notes[0]["request_id"], &notes[1]["request_id"]), (&json!("0"), &json!("1")));
    assert_eq!(
        (notes[0]["id"].as_i64(), notes[0]["entity_id"].as_i64()),
        (Some(common), Some(lead))
    );
    assert_eq!(get(common).await["params"], json!({"text": "final"}));
    let call_now = get(call).await;
    assert_eq!(
        call_now["params"],
        json!({"uniq": "u-1", "duration": 42, "source": "SIP", "phone": "+1", "call_status": 4})
    );
    assert_eq!(call_now["updated_at"], 5_000);
    assert!(get(common).await["updated_at"].as_i64().unwrap() > 100, "edited now");

    // One note by the type's path; without params they stay, and the
    // type may change when the new params come with it.
    let one = ctx
        .ok("PATCH", &format!("/api/v4/leads/notes/{common}"), Some(json!({"updated_at": 7_000})))
        .await;
    assert_eq!(
        (one["id"].as_i64(), &one["params"], &one["updated_at"]),
        (Some(common), &json!({"text": "final"}), &json!(7_000))
    );
    assert!(one.get("request_id").is_none());
    let one = ctx
        .ok(
            "PATCH",
            &format!("/api/v4/leads/notes/{common}"),
            Some(json!({"note_type": "service_message", "params": {"service": "Bot", "text": "done"}})),
        )
        .await;
    assert_eq!(one["note_type"], "service_message");

    // One note by the entity's path, as the library's updateOne() sends
    // it: the note's toApi() with request_id "0". A new version pinned.
    let second = ctx.upload_as(&ctx.token, "plan.pdf", Some(&file_uuid)).await;
    let second_version = second["version_uuid"].as_str().unwrap().to_owned();
    assert_ne!(second_version, first_version);
    let one = ctx
        .ok(
            "PATCH",
            &format!("/api/v4/leads/{lead}/notes/{attachment}"),
            Some(json!({"id": attachment, "entity_id": lead, "note_type": "attachment", "request_id": "0",
                        "params": {"file_uuid": file_uuid, "version_uuid": first_version,
                                   "file_name": "Plan v1.pdf"}})),
        )
        .await;
    assert_eq!((one["id"].as_i64(), one["entity_id"].as_i64()), (Some(attachment), Some(lead)));
    assert_eq!(one["request_id"], "0");
    assert_eq!(one["params"]["version_uuid"], first_version.as_str());
    assert_eq!(one["params"]["file_name"], "Plan v1.pdf");

    // Refusals change nothing: an unknown id among good edits, a type
    // change without params, a note moved to another entity, a trashed
    // file.
    let snapshot = (get(common).await, get(call).await, get(attachment).await);
    let answer = ctx
        .php(
            "PATCH",
            "/api/v4/leads/notes",
            Some(json!([
                {"id": common, "request_id": "0", "params": {"service": "Bot", "text": "changed"}},
                {"id": 999_999, "request_id": "1", "note_type": "common", "params": {"text": "x"}},
                {"id": call, "request_id": "2", "note_type": "sms_in"},
                {"id": call, "request_id": "3", "entity_id": other_lead},
                {"request_id": "4", "note_type": "common", "params": {"text": "x"}},
            ])),
        )
        .await;
    assert_eq!(
        validation_errors(&answer, "validation"),
        vec![
            error("1", "NotFound", "id"),
            error("2", "NotBlank", "params"),
            error("3", "Duplicate", "id"),
            error("3", "InvalidValue", "entity_id"),
            error("4", "NotBlank", "id"),
        ]
    );
    ctx.php("DELETE", "/v1.0/files", Some(json!([{"uuid": file_uuid}]))).await;
    let answer = ctx
        .php(
            "PATCH",
            &format!("/api/v4/leads/notes/{attachment}"),
            Some(json!({"params": {"file_uuid": file_uuid}})),
        )
        .await;
    assert_eq!(
        validation_errors(&answer, "file-trashed"),
        vec![error("0", "FileTrashed", "params.file_uuid")]
    );
    ctx.php("PATCH", &format!("/api/v4/leads/notes/{call}"), Some(json!([{"id": call}])))
        .await
        .problem(400, "validation");
    let after = (get(common).await, get(call).await, get(attachment).await);
    assert_eq!(after.0, snapshot.0);
    assert_eq!(after.1, snapshot.1);
    assert_eq!(after.2["params"]["is_deleted"], true, "the trash shows through");
    assert_eq!(after.2["params"]["file_name"], snapshot.2["params"]["file_name"]);

    // Unknown notes and notes of another entity are 404 on the one-note
    // paths.
    let body = Some(json!({"params": {"text": "x"}}));
    for uri in [
        "/api/v4/leads/notes/999999".to_owned(),
        format!("/api/v4/contacts/notes/{common}"),
        format!("/api/v4/leads/{other_lead}/notes/{common}"),
    ] {
        ctx.php("PATCH", &uri, body.clone()).await.problem(404, "not-found");
    }
    ctx.app.cleanup().await;
}

on_both!(
    every_note_type_is_added_in_batch_and_read_back_by_id,
    a_batch_with_one_bad_note_writes_none,
    the_lists_read_kommos_filters_order_and_paging,
    notes_are_edited_in_batch_and_one_at_a_time,
);
