//! Blobs a session leaves that no piece row names (bytes written but never
//! recorded: a crash between the write and the record) are deleted by the
//! sweeper once the session takes no more bytes; recorded pieces stay.

use std::sync::Arc;

use bytes::Bytes;
use satchel::{
    blob::{BlobKey, BlobStore, S3Store},
    jobs::sweep,
    state::Settings,
    testing::{Backend, S3Server, TestApp},
};
use serde_json::json;
use support::{path_of, pattern, send, with_token};

use crate::support;

const PART: usize = 1024;

async fn app(backend: Backend, blobs: Option<Arc<dyn BlobStore>>) -> (TestApp, String) {
    let settings = Settings {
        max_part_size: PART as u64,
        max_file_size: 64 * PART as u64,
        ..Settings::default()
    };
    let app = TestApp::with(backend, settings, blobs).await;
    let token = app.token("acme", "files").await;
    (app, token)
}

/// Opens a session for `size` bytes: its id and upload URL.
async fn open(app: &TestApp, token: &str, size: usize) -> (i64, String) {
    let body = json!({"file_name": "left.bin", "file_size": size});
    let answer = send(&app.router(), with_token("POST", "/v1.0/sessions", token, Some(body))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let json = answer.json();
    (json["session_id"].as_i64().unwrap(), json["upload_url"].as_str().unwrap().to_owned())
}

/// Sends `bytes` as the parts of the session at `url`: the last status.
async fn send_parts(app: &TestApp, mut url: String, bytes: &[u8]) -> u16 {
    let mut status = 0u16;
    for part in bytes.chunks(PART) {
        let request = axum::http::Request::post(path_of(&url))
            .body(axum::body::Body::from(part.to_vec()))
            .unwrap();
        let answer = send(&app.router(), request).await;
        status = answer.status.as_u16();
        if status == 202 {
            url = answer.json()["next_url"].as_str().unwrap().to_owned();
        }
    }
    status
}

async fn listed(blobs: &dyn BlobStore, folder: &str) -> Vec<String> {
    let keys = blobs.list(&BlobKey::new(folder).unwrap()).await.unwrap();
    let mut keys: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
    keys.sort();
    keys
}

/// On S3 each piece is a blob of its own under `parts/<session>/`.
async fn s3_leftovers_of_completed_and_cancelled_sessions_go(backend: Backend) {
    let server = S3Server::start();
    let url = format!("s3://{}/leftovers", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let (app, token) = app(backend, Some(blobs.clone())).await;

    // A completed upload with an object written but never recorded.
    let bytes = pattern(3 * PART + 10, 4);
    let (done, done_url) = open(&app, &token, bytes.len()).await;
    let orphan = BlobKey::new(format!("parts/{done}/000000000000-orphan")).unwrap();
    blobs.put(&orphan, Bytes::from(pattern(PART, 9))).await.unwrap();
    assert_eq!(send_parts(&app, done_url, &bytes).await, 200);
    let recorded: Vec<String> = {
        let mut keys: Vec<String> =
            app.state.db.pieces(done).await.unwrap().into_iter().map(|p| p.blob_key).collect();
        keys.sort();
        keys
    };
    assert_eq!(recorded.len(), 4);

    // A cancelled upload: one recorded part and one orphan.
    let (cancelled, cancelled_url) = open(&app, &token, 2 * PART).await;
    assert_eq!(send_parts(&app, cancelled_url.clone(), &bytes[..PART]).await, 202);
    let stray = BlobKey::new(format!("parts/{cancelled}/000000001024-stray")).unwrap();
    blobs.put(&stray, Bytes::from(pattern(PART, 8))).await.unwrap();
    let cancel = axum::http::Request::delete(path_of(&cancelled_url))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&app.router(), cancel).await.status, 204);
    assert_eq!(listed(blobs.as_ref(), &format!("parts/{cancelled}")).await, [stray.as_str()]);

    let swept = sweep(&app.state).await.unwrap();
    assert_eq!(swept.leftovers_removed, 2, "the orphan and the stray");
    assert_eq!(listed(blobs.as_ref(), &format!("parts/{done}")).await, recorded);
    assert!(listed(blobs.as_ref(), &format!("parts/{cancelled}")).await.is_empty());
    for key in &recorded {
        let size = blobs.size(&BlobKey::new(key.clone()).unwrap()).await.unwrap();
        assert!(size.is_some(), "recorded piece {key} kept");
    }
    // Each session is looked over once.
    blobs.put(&orphan, Bytes::from(pattern(PART, 9))).await.unwrap();
    assert_eq!(sweep(&app.state).await.unwrap().leftovers_removed, 0);
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_and_s3_leftovers_of_completed_and_cancelled_sessions_go() {
    s3_leftovers_of_completed_and_cancelled_sessions_go(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_and_s3_leftovers_of_completed_and_cancelled_sessions_go() {
    s3_leftovers_of_completed_and_cancelled_sessions_go(Backend::Postgres).await;
}

/// On local disk a session's pieces share one blob, `uploads/<session>`:
/// written in place before any piece was recorded, it is a leftover once
/// the session is cancelled; a completed session's blob is its file.
#[tokio::test]
async fn on_local_disk_a_session_blob_no_piece_names_goes() {
    let (app, token) = app(Backend::Sqlite, None).await;
    let blobs = app.state.blobs.clone();
    let (cancelled, cancelled_url) = open(&app, &token, 2 * PART).await;
    let key = BlobKey::new(format!("uploads/{cancelled}")).unwrap();
    let mut writer = blobs.piece_writer(&key, 0).await.unwrap();
    writer.write(Bytes::from(pattern(PART, 2))).await.unwrap();
    writer.finish().await.unwrap();
    let cancel = axum::http::Request::delete(path_of(&cancelled_url))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&app.router(), cancel).await.status, 204);
    assert_eq!(blobs.size(&key).await.unwrap(), Some(PART as u64), "no piece named it");

    let bytes = pattern(2 * PART, 3);
    let (done, done_url) = open(&app, &token, bytes.len()).await;
    assert_eq!(send_parts(&app, done_url, &bytes).await, 200);

    assert_eq!(sweep(&app.state).await.unwrap().leftovers_removed, 1);
    assert_eq!(blobs.size(&key).await.unwrap(), None);
    let file = BlobKey::new(format!("uploads/{done}")).unwrap();
    assert_eq!(blobs.size(&file).await.unwrap(), Some(bytes.len() as u64), "the file stays");
    app.cleanup().await;
}
