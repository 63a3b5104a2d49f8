//! The CRM side: entities with file custom fields, notes, the Media tab,
//! file links, and how the trash shows through them; on SQLite and
//! PostgreSQL.

use axum::Router;
use satchel::{
    state::Settings,
    testing::{Backend, TestApp},
};
use serde_json::{json, Value};
use support::{path_of, pattern, send, upload_one_part, with_token, Answer};

use crate::support;

struct Ctx {
    app: TestApp,
    router: Router,
    /// `files`, `files_delete` and `crm`.
    token: String,
}

impl Ctx {
    async fn new(backend: Backend, settings: Settings) -> Ctx {
        let app = TestApp::with(backend, settings, None).await;
        let token = app.token("acme", "files,files_delete,crm").await;
        Ctx { router: app.router(), app, token }
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        send(&self.router, with_token(method, uri, &self.token, body)).await
    }

    async fn call_as(&self, token: &str, method: &str, uri: &str, body: Option<Value>) -> Answer {
        send(&self.router, with_token(method, uri, token, body)).await
    }

    /// `call` that must answer `status`; returns the JSON body (or null).
    async fn ok(&self, method: &str, uri: &str, body: Option<Value>, status: u16) -> Value {
        let answer = self.call(method, uri, body).await;
        assert_eq!(answer.status.as_u16(), status, "{method} {uri}: {}", answer.text());
        if answer.body.is_empty() {
            Value::Null
        } else {
            answer.json()
        }
    }

    /// Uploads a one-part file (or a new version of `file_uuid`) and
    /// returns its file object.
    async fn upload_as(
        &self,
        token: &str,
        name: &str,
        size: usize,
        file_uuid: Option<&str>,
    ) -> Value {
        upload_one_part(&self.router, token, name, &pattern(size, size as u8), file_uuid).await
    }

    async fn upload(&self, name: &str, size: usize) -> Value {
        self.upload_as(&self.token, name, size, None).await
    }

    async fn create(&self, kind: &str, items: Value) -> Vec<Value> {
        let created = self.ok("POST", &format!("/api/v4/{kind}"), Some(items), 200).await;
        created["_embedded"][kind].as_array().unwrap().clone()
    }

    async fn field(&self, kind: &str, name: &str, field_type: &str) -> i64 {
        let made = self
            .ok(
                "POST",
                &format!("/api/v4/{kind}/custom_fields"),
                Some(json!([{"name": name, "type": field_type}])),
                200,
            )
            .await;
        made["_embedded"]["custom_fields"][0]["id"].as_i64().unwrap()
    }

    async fn media(&self, kind: &str, id: i64) -> Vec<String> {
        let answer = self.call("GET", &format!("/api/v4/{kind}/{id}/files"), None).await;
        if answer.status == 204 {
            return vec![];
        }
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["_embedded"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["file_uuid"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(&format!("select cast(count(*) as bigint) from {table}"))
            .fetch_one(self.app.state.db.pool())
            .await
            .unwrap()
    }
}

fn uuid_of(file: &Value) -> String {
    file["uuid"].as_str().unwrap().to_owned()
}

fn file_value(field_id: i64, file_uuid: &str) -> Value {
    json!([{"field_id": field_id, "values": [{"value": {"file_uuid": file_uuid}}]}])
}

/// The validation errors of a CRM 400, as (request_id, code, path).
fn crm_errors(body: &Value) -> Vec<(String, String, String)> {
    let mut found = vec![];
    for item in body["validation-errors"].as_array().expect("validation-errors") {
        for e in item["errors"].as_array().unwrap() {
            found.push((
                item["request_id"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
            ));
        }
    }
    found
}

async fn entities_are_created_read_listed_and_patched(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    for kind in ["leads", "contacts", "companies"] {
        assert_eq!(ctx.call("GET", &format!("/api/v4/{kind}"), None).await.status, 204);
        let text = ctx.field(kind, "Comment", "text").await;
        let made = ctx
            .create(
                kind,
                json!([{"name": "First"},
                       {"name": "Second", "custom_fields_values":
                           [{"field_id": text, "values": [{"value": "hello"}]}]}]),
            )
            .await;
        assert_eq!(made.len(), 2);
        assert_eq!(made[0]["request_id"], "0");
        assert_eq!(made[0]["custom_fields_values"], Value::Null);
        let id = made[1]["id"].as_i64().unwrap();
        let one = ctx.ok("GET", &format!("/api/v4/{kind}/{id}"), None, 200).await;
        assert_eq!(one["name"], "Second");
        assert_eq!(one["custom_fields_values"][0]["field_type"], "text");
        assert_eq!(one["custom_fields_values"][0]["values"][0]["value"], "hello");
        assert!(one["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v4/{kind}/{id}")));

        let patched = ctx
            .ok(
                "PATCH",
                &format!("/api/v4/{kind}/{id}"),
                Some(json!({"name": "Renamed", "custom_fields_values": [{"field_id": text, "values": null}]})),
                200,
            )
            .await;
        assert_eq!(patched["name"], "Renamed");
        assert_eq!(patched["custom_fields_values"], Value::Null, "values: null clears");

        let page = ctx.ok("GET", &format!("/api/v4/{kind}?limit=1"), None, 200).await;
        assert_eq!(page["_embedded"][kind].as_array().unwrap().len(), 1);
        assert_eq!(page["_embedded"][kind][0]["name"], "First");
        let next = path_of(page["_links"]["next"]["href"].as_str().unwrap());
        let page2 = ctx.ok("GET", &next, None, 200).await;
        assert_eq!(page2["_embedded"][kind][0]["name"], "Renamed");
        assert!(page2["_links"].get("next").is_none());
        ctx.call("GET", &format!("/api/v4/{kind}?limit=0"), None).await.problem(400, "validation");

        let fields = ctx.ok("GET", &format!("/api/v4/{kind}/custom_fields"), None, 200).await;
        assert_eq!(fields["_embedded"]["custom_fields"][0]["id"], text);
    }
    // Unknown, malformed or wrong-type ids are 404.
    let lead = ctx.create("leads", json!([{"name": "L"}])).await[0]["id"].as_i64().unwrap();
    ctx.call("GET", &format!("/api/v4/contacts/{lead}"), None).await.problem(404, "not-found");
    ctx.call("GET", "/api/v4/leads/999999", None).await.problem(404, "not-found");
    ctx.call("GET", "/api/v4/leads/abc", None).await.problem(404, "not-found");
    ctx.call("PATCH", "/api/v4/leads/999999", Some(json!({"name": "x"})))
        .await
        .problem(404, "not-found");
    ctx.call("GET", "/api/v4/deals", None).await.problem(404, "not-found");

    // Bad bodies name what is wrong, and nothing is created.
    let before = ctx.count("entities").await;
    let bad = ctx
        .call("POST", "/api/v4/leads", Some(json!([{"name": "ok"}, {"name": ""}, {}])))
        .await
        .problem(400, "validation");
    assert_eq!(
        crm_errors(&bad),
        vec![
            ("1".into(), "NotBlank".into(), "name".into()),
            ("2".into(), "NotBlank".into(), "name".into())
        ]
    );
    assert_eq!(ctx.count("entities").await, before);
    ctx.call("POST", "/api/v4/leads", Some(json!([]))).await.problem(400, "validation");
    ctx.call("POST", "/api/v4/leads", Some(json!({"name": "x"}))).await.problem(400, "validation");
    let bad_field = ctx
        .call("POST", "/api/v4/leads/custom_fields", Some(json!([{"name": "x", "type": "date"}])))
        .await
        .problem(400, "validation");
    assert_eq!(
        crm_errors(&bad_field),
        vec![("0".into(), "NotSupportedChoice".into(), "type".into())]
    );
    ctx.app.cleanup().await;
}

async fn scopes_and_accounts_fence_the_crm(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let files_only = ctx.app.token("acme", "files").await;
    let other = ctx.app.token("other", "files,crm").await;
    let lead = ctx.create("leads", json!([{"name": "Mine"}])).await[0]["id"].as_i64().unwrap();
    let mine = ctx.upload("mine.pdf", 100).await;

    let no_crm =
        ctx.call_as(&files_only, "GET", "/api/v4/leads", None).await.problem(403, "forbidden");
    assert!(no_crm["detail"].as_str().unwrap().contains("crm"), "{no_crm}");
    ctx.call_as(&files_only, "POST", "/api/v4/leads", Some(json!([{"name": "x"}])))
        .await
        .problem(403, "forbidden");
    ctx.call_as("nope", "GET", "/api/v4/leads", None).await.problem(401, "unauthorized");

    // Another account sees neither the entity nor the file.
    assert_eq!(ctx.call_as(&other, "GET", "/api/v4/leads", None).await.status, 204);
    ctx.call_as(&other, "GET", &format!("/api/v4/leads/{lead}"), None)
        .await
        .problem(404, "not-found");
    ctx.call_as(&other, "GET", &format!("/api/v4/files/{}/links", uuid_of(&mine)), None)
        .await
        .problem(404, "not-found");
    let theirs = ctx
        .call_as(&other, "POST", "/api/v4/leads", Some(json!([{"name": "Theirs"}])))
        .await
        .json();
    let their_lead = theirs["_embedded"]["leads"][0]["id"].as_i64().unwrap();
    // ...and cannot attach this account's file to their own entity.
    let foreign = ctx
        .call_as(
            &other,
            "PUT",
            &format!("/api/v4/leads/{their_lead}/files"),
            Some(json!([{"file_uuid": uuid_of(&mine)}])),
        )
        .await
        .problem(400, "validation");
    assert_eq!(crm_errors(&foreign), vec![("0".into(), "NotFound".into(), "file_uuid".into())]);
    ctx.app.cleanup().await;
}

async fn file_fields_follow_or_pin_versions_and_refuse_bad_files(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let other = ctx.app.token("other", "files,crm").await;
    let contract = ctx.field("leads", "Contract", "file").await;
    let file = ctx.upload("contract.pdf", 1000).await;
    let uuid = uuid_of(&file);
    let first_version = file["version_uuid"].as_str().unwrap().to_owned();

    let following = ctx
        .create(
            "leads",
            json!([{"name": "Follows", "custom_fields_values": file_value(contract, &uuid)}]),
        )
        .await;
    let pinned = ctx
        .create(
            "leads",
            json!([{"name": "Pinned", "custom_fields_values": [{"field_id": contract, "values": [
                {"value": {"file_uuid": uuid, "version_uuid": first_version, "file_name": "Signed.pdf"}}]}]}]),
        )
        .await;
    let value = &following[0]["custom_fields_values"][0];
    assert_eq!(value["field_type"], "file");
    assert_eq!(
        value["values"][0]["value"],
        json!({"file_uuid": uuid, "version_uuid": first_version, "file_name": "contract.pdf",
               "file_size": 1000, "is_deleted": false})
    );

    // A new version: the following value moves, the pinned one stays.
    let v2 = ctx.upload_as(&ctx.token, "contract-v2.pdf", 1500, Some(&uuid)).await;
    let v2_uuid = v2["version_uuid"].as_str().unwrap();
    assert_ne!(v2_uuid, first_version);
    let id_f = following[0]["id"].as_i64().unwrap();
    let id_p = pinned[0]["id"].as_i64().unwrap();
    let now_f = ctx.ok("GET", &format!("/api/v4/leads/{id_f}"), None, 200).await;
    let now_p = ctx.ok("GET", &format!("/api/v4/leads/{id_p}"), None, 200).await;
    let vf = &now_f["custom_fields_values"][0]["values"][0]["value"];
    let vp = &now_p["custom_fields_values"][0]["values"][0]["value"];
    assert_eq!(
        (vf["version_uuid"].as_str().unwrap(), vf["file_size"].as_i64().unwrap()),
        (v2_uuid, 1500)
    );
    assert_eq!(vp["version_uuid"], first_version.as_str());
    assert_eq!(
        (vp["file_size"].as_i64().unwrap(), vp["file_name"].as_str().unwrap()),
        (1000, "Signed.pdf")
    );
    // Every version stays listed for the field's history.
    let versions = ctx.ok("GET", &format!("/v1.0/files/{uuid}/versions"), None, 200).await;
    assert_eq!(versions["_count"], 2);

    // A round-tripped value (with is_deleted and file_size) is accepted.
    ctx.ok(
        "PATCH",
        &format!("/api/v4/leads/{id_p}"),
        Some(json!({"custom_fields_values": now_p["custom_fields_values"]})),
        200,
    )
    .await;

    // Unknown file, foreign file, unknown version, trashed file: refused,
    // nothing written.
    let theirs = ctx.upload_as(&other, "theirs.pdf", 10, None).await;
    let trashed = ctx.upload("old.pdf", 10).await;
    ctx.ok("DELETE", "/v1.0/files", Some(json!([{"uuid": uuid_of(&trashed)}])), 200).await;
    let (entities, values) = (ctx.count("entities").await, ctx.count("field_values").await);
    let unknown = ctx
        .call("POST", "/api/v4/leads", Some(json!([{"name": "x", "custom_fields_values": file_value(contract, "00000000-0000-4000-8000-000000000000")}])))
        .await
        .problem(400, "validation");
    assert_eq!(
        crm_errors(&unknown),
        vec![(
            "0".into(),
            "NotFound".into(),
            "custom_fields_values.0.values.0.value.file_uuid".into()
        )]
    );
    ctx.call("POST", "/api/v4/leads", Some(json!([{"name": "ok"}, {"name": "x", "custom_fields_values": file_value(contract, &uuid_of(&theirs))}])))
        .await
        .problem(400, "validation");
    let bad_version = ctx
        .call(
            "PATCH",
            &format!("/api/v4/leads/{id_f}"),
            Some(json!({"name": "changed", "custom_fields_values": [{"field_id": contract, "values": [
                {"value": {"file_uuid": uuid, "version_uuid": "nope"}}]}]})),
        )
        .await
        .problem(400, "validation");
    assert_eq!(crm_errors(&bad_version)[0].2, "custom_fields_values.0.values.0.value.version_uuid");
    let in_trash = ctx
        .call("PATCH", &format!("/api/v4/leads/{id_f}"), Some(json!({"name": "changed", "custom_fields_values": file_value(contract, &uuid_of(&trashed))})))
        .await
        .problem(400, "file-trashed");
    assert_eq!(crm_errors(&in_trash)[0].1, "FileTrashed");
    assert_eq!((ctx.count("entities").await, ctx.count("field_values").await), (entities, values));
    let unchanged = ctx.ok("GET", &format!("/api/v4/leads/{id_f}"), None, 200).await;
    assert_eq!(unchanged["name"], "Follows");
    assert_eq!(
        unchanged["custom_fields_values"][0]["values"][0]["value"]["file_uuid"],
        uuid.as_str()
    );
    // A field of another entity type is not this one's.
    let contact_field = ctx.field("contacts", "Photo", "file").await;
    let wrong = ctx
        .call(
            "POST",
            "/api/v4/leads",
            Some(json!([{"name": "x", "custom_fields_values": file_value(contact_field, &uuid)}])),
        )
        .await
        .problem(400, "validation");
    assert_eq!(crm_errors(&wrong)[0].1, "NotFound");
    ctx.app.cleanup().await;
}

async fn notes_read_back_oldest_first_and_attach_their_files(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let lead = ctx.create("leads", json!([{"name": "Acme deal"}])).await[0]["id"].as_i64().unwrap();
    let notes_uri = format!("/api/v4/leads/{lead}/notes");
    assert_eq!(ctx.call("GET", &notes_uri, None).await.status, 204);
    let file = ctx.upload("quote.pdf", 700).await;
    let uuid = uuid_of(&file);
    let version = file["version_uuid"].as_str().unwrap();
    let added = ctx
        .ok(
            "POST",
            &notes_uri,
            Some(json!([
                {"note_type": "common", "params": {"text": "Later comment"}, "created_at": 2_000_000_000},
                {"note_type": "attachment", "created_at": 1_900_000_000,
                 "params": {"file_uuid": uuid, "version_uuid": version, "file_name": "Quote for Acme.pdf"}},
                {"note_type": "common", "params": {"text": "Comment with the file"}, "created_at": 1_900_000_000},
            ])),
            200,
        )
        .await;
    assert_eq!(added["_embedded"]["notes"].as_array().unwrap().len(), 3);
    assert_eq!(added["_embedded"]["notes"][1]["request_id"], "1");

    let listed = ctx.ok("GET", &notes_uri, None, 200).await;
    let notes = listed["_embedded"]["notes"].as_array().unwrap();
    let order: Vec<(&str, i64)> = notes
        .iter()
        .map(|n| (n["note_type"].as_str().unwrap(), n["created_at"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        order,
        vec![("attachment", 1_900_000_000), ("common", 1_900_000_000), ("common", 2_000_000_000)],
        "oldest first, then in the order added"
    );
    assert_eq!(
        notes[0]["params"],
        json!({"file_uuid": uuid, "version_uuid": version, "file_name": "Quote for Acme.pdf",
               "original_name": "quote.pdf", "is_drive_attachment": true, "is_deleted": false})
    );
    assert_eq!(notes[0]["entity_id"], lead);
    assert_eq!(notes[1]["params"], json!({"text": "Comment with the file"}));

    // Without version_uuid or file_name the note takes the active version
    // and the file's name.
    let bare = ctx
        .ok(
            "POST",
            &notes_uri,
            Some(json!([{"note_type": "attachment", "params": {"file_uuid": uuid}}])),
            200,
        )
        .await;
    let params = &bare["_embedded"]["notes"][0]["params"];
    assert_eq!(
        (params["version_uuid"].as_str().unwrap(), params["file_name"].as_str().unwrap()),
        (version, "quote.pdf")
    );

    // The attachment note put the file into the Media tab (once).
    assert_eq!(ctx.media("leads", lead).await, vec![uuid.clone()]);

    // Bad notes: nothing written.
    let before = ctx.count("notes").await;
    let bad = ctx
        .call(
            "POST",
            &notes_uri,
            Some(json!([{"note_type": "common", "params": {"text": "fine"}},
                        {"note_type": "sms", "params": {}},
                        {"note_type": "attachment", "params": {"file_uuid": "00000000-0000-4000-8000-000000000000"}}])),
        )
        .await
        .problem(400, "validation");
    assert_eq!(
        crm_errors(&bad),
        vec![
            ("1".into(), "NotSupportedChoice".into(), "note_type".into()),
            ("2".into(), "NotFound".into(), "params.file_uuid".into())
        ]
    );
    assert_eq!(ctx.count("notes").await, before);
    ctx.call(
        "POST",
        "/api/v4/leads/999999/notes",
        Some(json!([{"note_type": "common", "params": {"text": "x"}}])),
    )
    .await
    .problem(404, "not-found");
    ctx.app.cleanup().await;
}

async fn the_media_tab_holds_attached_and_note_files_only(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let field = ctx.field("companies", "Logo", "file").await;
    let company =
        ctx.create("companies", json!([{"name": "Globex"}])).await[0]["id"].as_i64().unwrap();
    let contact =
        ctx.create("contacts", json!([{"name": "Hank Scorpio"}])).await[0]["id"].as_i64().unwrap();
    let attached = uuid_of(&ctx.upload("attached.png", 10).await);
    let noted = uuid_of(&ctx.upload("noted.png", 20).await);
    let field_only = uuid_of(&ctx.upload("logo.png", 30).await);
    let media_uri = format!("/api/v4/companies/{company}/files");

    assert_eq!(ctx.call("GET", &media_uri, None).await.status, 204);
    let put = ctx.ok("PUT", &media_uri, Some(json!([{"file_uuid": attached}])), 202).await;
    assert_eq!(put["_embedded"]["files"][0]["file_uuid"], attached.as_str());
    // Attaching again changes nothing.
    ctx.ok("PUT", &media_uri, Some(json!([{"file_uuid": attached}])), 202).await;
    ctx.ok(
        "POST",
        &format!("/api/v4/companies/{company}/notes"),
        Some(json!([{"note_type": "attachment", "params": {"file_uuid": noted, "file_name": "n.png"}}])),
        200,
    )
    .await;
    ctx.ok(
        "PATCH",
        &format!("/api/v4/companies/{company}"),
        Some(json!({"custom_fields_values": file_value(field, &field_only)})),
        200,
    )
    .await;
    assert_eq!(
        ctx.media("companies", company).await,
        vec![noted.clone(), attached.clone()],
        "newest first; no field-only file"
    );

    // Paging with before_id.
    let first = ctx.ok("GET", &format!("{media_uri}?limit=1"), None, 200).await;
    assert_eq!(first["_embedded"]["files"][0]["file_uuid"], noted.as_str());
    let next = path_of(first["_links"]["next"]["href"].as_str().unwrap());
    let second = ctx.ok("GET", &next, None, 200).await;
    assert_eq!(second["_embedded"]["files"][0]["file_uuid"], attached.as_str());
    assert!(second["_links"].get("next").is_none());
    ctx.call("GET", &format!("{media_uri}?before_id=x"), None).await.problem(400, "validation");

    // One file, many entities; the links list them.
    ctx.ok(
        "PUT",
        &format!("/api/v4/contacts/{contact}/files"),
        Some(json!([{"file_uuid": attached}])),
        202,
    )
    .await;
    let links = ctx.ok("GET", &format!("/api/v4/files/{attached}/links"), None, 200).await;
    assert_eq!(
        links,
        json!({"file_uuid": attached, "is_deleted": false, "entities": [
            {"id": company, "name": "Globex", "entity_type": "companies"},
            {"id": contact, "name": "Hank Scorpio", "entity_type": "contacts"}]})
    );
    let none = ctx.ok("GET", &format!("/api/v4/files/{field_only}/links"), None, 200).await;
    assert_eq!(none["entities"], json!([]));

    // The catalogue's term matches linked entity names.
    let found = ctx.ok("GET", "/v1.0/files?filter[term]=scorp", None, 200).await;
    let uuids: Vec<&str> = found["_embedded"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(uuids, vec![attached.as_str()]);
    let by_company = ctx.ok("GET", "/v1.0/files?filter[term]=GLOBEX", None, 200).await;
    assert_eq!(by_company["_count"], 2, "attached and noted files of Globex: {by_company}");

    // Detach: gone from this entity only; unknown files are refused.
    let removed = ctx.ok("DELETE", &media_uri, Some(json!([{"file_uuid": attached}])), 202).await;
    assert_eq!(removed["_embedded"]["files"][0]["file_uuid"], attached.as_str());
    assert_eq!(ctx.media("companies", company).await, vec![noted.clone()]);
    assert_eq!(ctx.media("contacts", contact).await, vec![attached.clone()]);
    ctx.call("DELETE", &media_uri, Some(json!([{"file_uuid": "nope"}])))
        .await
        .problem(400, "validation");
    ctx.call("PUT", &media_uri, Some(json!([{"file_uuid": attached}, {"file_uuid": "nope"}])))
        .await
        .problem(400, "validation");
    assert_eq!(ctx.media("companies", company).await, vec![noted], "all or nothing");
    ctx.call("PUT", "/api/v4/companies/999999/files", Some(json!([{"file_uuid": attached}])))
        .await
        .problem(404, "not-found");
    ctx.app.cleanup().await;
}

async fn trash_marks_uses_deleted_restore_brings_them_back_purge_removes_them(backend: Backend) {
    let ttl = Settings { trash_ttl: std::time::Duration::from_secs(2), ..Settings::default() };
    let ctx = Ctx::new(backend, ttl).await;
    let field = ctx.field("leads", "Doc", "file").await;
    let file = uuid_of(&ctx.upload("doc.pdf", 50).await);
    let keep = uuid_of(&ctx.upload("keep.pdf", 60).await);
    let lead = ctx
        .create(
            "leads",
            json!([{"name": "Deal", "custom_fields_values": file_value(field, &file)}]),
        )
        .await[0]["id"]
        .as_i64()
        .unwrap();
    ctx.ok(
        "PUT",
        &format!("/api/v4/leads/{lead}/files"),
        Some(json!([{"file_uuid": file}, {"file_uuid": keep}])),
        202,
    )
    .await;
    ctx.ok(
        "POST",
        &format!("/api/v4/leads/{lead}/notes"),
        Some(json!([{"note_type": "attachment", "params": {"file_uuid": file}}])),
        200,
    )
    .await;

    let deleted_flags = || async {
        let lead_now = ctx.ok("GET", &format!("/api/v4/leads/{lead}"), None, 200).await;
        let notes = ctx.ok("GET", &format!("/api/v4/leads/{lead}/notes"), None, 200).await;
        let media = ctx.ok("GET", &format!("/api/v4/leads/{lead}/files"), None, 200).await;
        let links = ctx.ok("GET", &format!("/api/v4/files/{file}/links"), None, 200).await;
        let media_flag = media["_embedded"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file_uuid"] == file.as_str())
            .map(|f| f["is_deleted"].clone());
        (
            lead_now["custom_fields_values"][0]["values"][0]["value"]["is_deleted"].clone(),
            notes["_embedded"]["notes"][0]["params"]["is_deleted"].clone(),
            media_flag,
            links["is_deleted"].clone(),
        )
    };
    assert_eq!(
        deleted_flags().await,
        (json!(false), json!(false), Some(json!(false)), json!(false))
    );
    ctx.ok("DELETE", "/v1.0/files", Some(json!([{"uuid": file}])), 200).await;
    assert_eq!(deleted_flags().await, (json!(true), json!(true), Some(json!(true)), json!(true)));
    // A trashed file can be used nowhere.
    let refused = ctx
        .call("PUT", &format!("/api/v4/leads/{lead}/files"), Some(json!([{"file_uuid": file}])))
        .await
        .problem(400, "file-trashed");
    assert_eq!(crm_errors(&refused)[0].1, "FileTrashed");
    ctx.call(
        "POST",
        &format!("/api/v4/leads/{lead}/notes"),
        Some(json!([{"note_type": "attachment", "params": {"file_uuid": file}}])),
    )
    .await
    .problem(400, "file-trashed");
    ctx.call(
        "POST",
        "/v1.0/sessions",
        Some(json!({"file_name": "doc.pdf", "file_size": 5, "file_uuid": file})),
    )
    .await
    .problem(400, "file-trashed");

    ctx.ok("POST", "/v1.0/files/restore", Some(json!([{"uuid": file}])), 200).await;
    assert_eq!(
        deleted_flags().await,
        (json!(false), json!(false), Some(json!(false)), json!(false))
    );

    // Trash again and let the purge run: the uses go with the file.
    ctx.ok("DELETE", "/v1.0/files", Some(json!([{"uuid": file}])), 200).await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(satchel::jobs::sweep(&ctx.app.state).await.unwrap().files_purged, 1);
    let lead_now = ctx.ok("GET", &format!("/api/v4/leads/{lead}"), None, 200).await;
    assert_eq!(lead_now["custom_fields_values"], Value::Null);
    assert_eq!(ctx.call("GET", &format!("/api/v4/leads/{lead}/notes"), None).await.status, 204);
    assert_eq!(ctx.media("leads", lead).await, vec![keep]);
    ctx.call("GET", &format!("/api/v4/files/{file}/links"), None).await.problem(404, "not-found");
    ctx.app.cleanup().await;
}

async fn a_widget_token_uploads_but_cannot_reach_the_crm(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let issued = ctx.ok("POST", "/api/v4/files/issue_token", None, 200).await;
    let widget = issued["token"].as_str().unwrap().to_owned();
    let expires = issued["expires_at"].as_i64().unwrap() - satchel::store::now_unix();
    assert!((3590..=3600).contains(&expires), "{expires}");
    let file = ctx.upload_as(&widget, "w.txt", 10, None).await;
    ctx.call_as(&widget, "GET", "/api/v4/leads", None).await.problem(403, "forbidden");
    ctx.call_as(&widget, "POST", "/api/v4/files/issue_token", None).await.problem(403, "forbidden");
    // The page that owns the crm token does the CRM follow-up.
    let lead = ctx.create("leads", json!([{"name": "W"}])).await[0]["id"].as_i64().unwrap();
    ctx.ok(
        "PUT",
        &format!("/api/v4/leads/{lead}/files"),
        Some(json!([{"file_uuid": uuid_of(&file)}])),
        202,
    )
    .await;
    ctx.app.cleanup().await;
}

/// The write itself re-checks the files it uses, inside its transaction:
/// a file trashed after the request's checks is still refused, and
/// nothing is written.
async fn a_file_trashed_after_the_checks_is_refused_by_the_write(backend: Backend) {
    use satchel::store::crm::{NewNote, StoredField, StoredValue};
    let ctx = Ctx::new(backend, Settings::default()).await;
    let field = ctx.field("leads", "Doc", "file").await;
    let lead = ctx.create("leads", json!([{"name": "L"}])).await[0]["id"].as_i64().unwrap();
    let file = ctx.upload("late.pdf", 40).await;
    let db = &ctx.app.state.db;
    let account = db.ensure_account("acme").await.unwrap();
    let record = db.file_by_uuid(account, &uuid_of(&file)).await.unwrap().unwrap();
    ctx.ok("DELETE", "/v1.0/files", Some(json!([{"uuid": uuid_of(&file)}])), 200).await;
    let before = (
        ctx.count("entity_files").await,
        ctx.count("notes").await,
        ctx.count("field_values").await,
    );
    fn trashed<T>(r: satchel::Result<T>) -> bool {
        matches!(r, Err(satchel::Error::FileTrashed))
    }
    assert!(trashed(db.attach_files(account, lead, &[record.id], 1, 0).await));
    let note = NewNote::Attachment {
        file_id: record.id,
        version_id: record.version_id,
        file_name: "late.pdf".into(),
        created_at: 0,
    };
    assert!(trashed(db.add_notes(account, lead, &[note], 1, 0).await));
    let value = StoredField {
        field_id: field,
        values: vec![StoredValue::File { file_id: record.id, version_id: None, file_name: None }],
    };
    assert!(trashed(
        db.update_entity(lead, Some("renamed"), std::slice::from_ref(&value), 1, 0).await
    ));
    let kind = satchel::domain::crm::EntityType::Leads;
    assert!(trashed(db.create_entities(account, kind, &[("x".into(), vec![value])], 1, 0).await));
    let after = (
        ctx.count("entity_files").await,
        ctx.count("notes").await,
        ctx.count("field_values").await,
    );
    assert_eq!(before, after, "nothing written");
    let lead_now = ctx.ok("GET", &format!("/api/v4/leads/{lead}"), None, 200).await;
    assert_eq!(lead_now["name"], "L", "the rename went with the refused write");
    ctx.app.cleanup().await;
}

/// Many CRM writes at once, each using files, all succeed: none is
/// refused because another committed first ("database is locked").
async fn concurrent_uses_of_files_all_land(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let leads = ctx.create("leads", json!([{"name": "A"}, {"name": "B"}, {"name": "C"}])).await;
    let mut files = Vec::new();
    for i in 0..6 {
        files.push(uuid_of(&ctx.upload(&format!("f{i}.txt"), 10 + i).await));
    }
    let mut requests = Vec::new();
    for lead in &leads {
        let id = lead["id"].as_i64().unwrap();
        for file in &files {
            requests.push((
                "PUT",
                format!("/api/v4/leads/{id}/files"),
                json!([{"file_uuid": file}]),
            ));
            requests.push((
                "POST",
                format!("/api/v4/leads/{id}/notes"),
                json!([{"note_type": "attachment", "params": {"file_uuid": file}}]),
            ));
        }
    }
    let calls =
        requests.iter().map(|(method, uri, body)| ctx.call(method, uri, Some(body.clone())));
    let answers = futures::future::join_all(calls).await;
    for answer in &answers {
        assert!(answer.status.is_success(), "{}: {}", answer.status, answer.text());
    }
    assert_eq!(ctx.count("entity_files").await, 18);
    assert_eq!(ctx.count("notes").await, 18);
    ctx.app.cleanup().await;
}

on_both!(
    entities_are_created_read_listed_and_patched,
    scopes_and_accounts_fence_the_crm,
    file_fields_follow_or_pin_versions_and_refuse_bad_files,
    notes_read_back_oldest_first_and_attach_their_files,
    the_media_tab_holds_attached_and_note_files_only,
    trash_marks_uses_deleted_restore_brings_them_back_purge_removes_them,
    a_widget_token_uploads_but_cannot_reach_the_crm,
    a_file_trashed_after_the_checks_is_refused_by_the_write,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_uses_of_files_all_land() {
    concurrent_uses_of_files_all_land(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_uses_of_files_all_land() {
    concurrent_uses_of_files_all_land(Backend::Postgres).await;
}
