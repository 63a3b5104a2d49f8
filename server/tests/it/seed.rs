//! `satchel demo-seed`: every feature has something to show, made by the
//! API's own rules; an account with data is left alone.

use satchel::{
    seed::{demo_seed, Seeded},
    testing::{Backend, TestApp},
};
use serde_json::Value;
use support::{send, with_token};

use crate::support;

async fn the_demo_data_covers_every_feature(backend: Backend) {
    let app = TestApp::new(backend).await;
    let account = app.state.db.ensure_account("default").await.unwrap();
    let seeded = demo_seed(&app.state, account).await.unwrap();
    assert_eq!(seeded, Some(Seeded { entities: 3, files: 6, notes: 6 }));
    assert_eq!(demo_seed(&app.state, account).await.unwrap(), None, "left alone the second time");

    let token = app.token("default", "files,crm").await;
    let router = app.router();
    let get = |uri: String| {
        let router = router.clone();
        let token = token.clone();
        async move {
            let answer = send(&router, with_token("GET", &uri, &token, None)).await;
            assert_eq!(answer.status, 200, "{uri}: {}", answer.text());
            answer.json()
        }
    };
    let leads = get("/api/v4/leads".into()).await;
    let lead = &leads["_embedded"]["leads"][0];
    assert_eq!(lead["name"], "Website redesign for Acme");
    let id = lead["id"].as_i64().unwrap();
    let fields = lead["custom_fields_values"].as_array().unwrap();
    let contract = fields.iter().find(|f| f["field_type"] == "file").unwrap();
    let contract_uuid = contract["values"][0]["value"]["file_uuid"].as_str().unwrap().to_owned();
    let versions = get(format!("/v1.0/files/{contract_uuid}/versions")).await;
    assert_eq!(versions["_count"], 2, "a file field with a version history");
    assert!(fields.iter().any(|f| f["field_type"] == "text"));

    let notes = get(format!("/api/v4/leads/{id}/notes")).await;
    let notes = notes["_embedded"]["notes"].as_array().unwrap().clone();
    assert_eq!(notes.len(), 5);
    let times: Vec<i64> = notes.iter().map(|n| n["created_at"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    // A comment and a file at the same moment: one item in the feed.
    let paired = notes.iter().filter(|n| n["note_type"] == "common").any(|c| {
        notes.iter().any(|a| a["note_type"] == "attachment" && a["created_at"] == c["created_at"])
    });
    assert!(paired);
    let trashed: Vec<&Value> = notes.iter().filter(|n| n["params"]["is_deleted"] == true).collect();
    assert_eq!(trashed.len(), 1, "one note shows a trashed file");

    let companies = get("/api/v4/companies".into()).await;
    let company = companies["_embedded"]["companies"][0]["id"].as_i64().unwrap();
    let media = get(format!("/api/v4/companies/{company}/files")).await;
    assert_eq!(media["_embedded"]["files"].as_array().unwrap().len(), 1);
    let files = get("/v1.0/files".into()).await;
    assert_eq!(files["_count"], 5, "six files, one in the trash");
    let images = get("/v1.0/files?filter[extensions][]=png".into()).await;
    assert_eq!(images["_embedded"]["files"][0]["type"], "image");
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_demo_data_covers_every_feature() {
    the_demo_data_covers_every_feature(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_demo_data_covers_every_feature() {
    the_demo_data_covers_every_feature(Backend::Postgres).await;
}
