//! `satchel demo-seed`: a lead, a contact and a company with file fields,
//! notes and files, so a new user sees every feature at once. It goes
//! through the HTTP API in-process (no socket), with a token that lives
//! ten minutes, so the data is made by the same rules as any other.
//! An account that already holds entities or files is left alone.

use axum::{
    body::Body,
    http::{header, Request},
    Router,
};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{
    domain::{Scope, Scopes},
    error::{Error, Result},
    state::AppState,
    store::{accounts::AccountId, now_unix},
};

/// What the seed made.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub entities: usize,
    pub files: usize,
    pub notes: usize,
}

struct Api {
    router: Router,
    token: String,
}

impl Api {
    async fn send(&self, request: Request<Body>) -> Result<(u16, Value)> {
        let answer = self.router.clone().oneshot(request).await.expect("infallible");
        let status = answer.status().as_u16();
        let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .map_err(|e| Error::Config(format!("demo-seed: reading an answer: {e}")))?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// A JSON call that must succeed.
    async fn call(&self, method: &str, uri: &str, body: Value) -> Result<Value> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let (status, json) = self.send(request).await?;
        if !(200..300).contains(&status) {
            return Err(Error::Config(format!(
                "demo-seed: {method} {uri} answered {status}: {json}"
            )));
        }
        Ok(json)
    }

    /// Defines a custom field; its id.
    async fn field(&self, kind: &str, name: &str, field_type: &str) -> Result<i64> {
        let body = json!([{"name": name, "type": field_type}]);
        let made = self.call("POST", &format!("/api/v4/{kind}/custom_fields"), body).await?;
        Ok(made["_embedded"]["custom_fields"][0]["id"].as_i64().unwrap_or_default())
    }

    /// Uploads `bytes` as a new file, or as a new version of `file_uuid`.
    async fn upload(&self, name: &str, bytes: &[u8], file_uuid: Option<&str>) -> Result<Value> {
        let mut open = json!({"file_name": name, "file_size": bytes.len()});
        if let Some(uuid) = file_uuid {
            open["file_uuid"] = json!(uuid);
        }
        let session = self.call("POST", "/v1.0/sessions", open).await?;
        let part_size = session["max_part_size"].as_u64().unwrap_or(524_288) as usize;
        let mut url = session["upload_url"].as_str().unwrap_or_default().to_owned();
        let chunks: Vec<&[u8]> =
            if bytes.is_empty() { vec![&[]] } else { bytes.chunks(part_size).collect() };
        for chunk in chunks {
            let path = url.find("/upload/").map_or(url.clone(), |i| url[i..].to_owned());
            let request = Request::post(path).body(Body::from(chunk.to_vec())).expect("request");
            let (status, json) = self.send(request).await?;
            match status {
                200 => return Ok(json),
                202 => url = json["next_url"].as_str().unwrap_or_default().to_owned(),
                _ => {
                    return Err(Error::Config(format!(
                        "demo-seed: part of {name}: {status} {json}"
                    )))
                }
            }
        }
        Err(Error::Config(format!("demo-seed: {name} did not complete")))
    }
}

fn uuid(file: &Value) -> String {
    file["uuid"].as_str().unwrap_or_default().to_owned()
}

fn id(answer: &Value, kind: &str) -> i64 {
    answer["_embedded"][kind][0]["id"].as_i64().unwrap_or_default()
}

/// A small PNG: a blue-green gradient.
fn logo_png() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(96, 96, |x, y| image::Rgb([30, (80 + x) as u8, (200 - y) as u8]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).expect("a PNG encodes");
    bytes.into_inner()
}

/// A one-page PDF whose text is `line`.
fn pdf(line: &str) -> Vec<u8> {
    let stream = format!("BT /F1 18 Tf 72 720 Td ({line}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Seeds the account unless it already holds entities or files;
/// `Ok(None)` when it was left alone.
pub async fn demo_seed(state: &AppState, account: AccountId) -> Result<Option<Seeded>> {
    let busy: Option<i64> = sqlx::query_scalar(
        "select id from entities where account_id = $1 \
         union all select id from files where account_id = $1 limit 1",
    )
    .bind(account.0)
    .fetch_optional(state.db.pool())
    .await?;
    if busy.is_some() {
        return Ok(None);
    }
    let scopes: Scopes = [Scope::Files, Scope::FilesDelete, Scope::Crm].into_iter().collect();
    let token = state.db.create_token(account, scopes, Some(now_unix() + 600), None).await?;
    let api = Api { router: crate::http::app(state.clone()), token: token.expose().to_owned() };

    // Field definitions.
    let contract = api.field("leads", "Contract", "file").await?;
    let source = api.field("leads", "Source", "text").await?;
    let photo = api.field("contacts", "Photo", "file").await?;
    let logo_field = api.field("companies", "Logo", "file").await?;

    // Files: a contract with two versions, and the rest.
    let contract_v1 =
        api.upload("Service contract.pdf", &pdf("Service contract, draft"), None).await?;
    let contract_uuid = uuid(&contract_v1);
    api.upload("Service contract.pdf", &pdf("Service contract, signed"), Some(&contract_uuid))
        .await?;
    let proposal = api.upload("Proposal.pdf", &pdf("Proposal for Acme"), None).await?;
    let budget = api
        .upload("Budget.csv", b"item,amount\ndesign,4200\ndevelopment,9800\nhosting,600\n", None)
        .await?;
    let logo = api.upload("Acme logo.png", &logo_png(), None).await?;
    let minutes = api
        .upload(
            "Meeting minutes.txt",
            b"Kick-off with Acme.\n- Scope agreed\n- Next call Friday\n",
            None,
        )
        .await?;
    let draft = api.upload("Old draft.txt", b"An early draft, since replaced.\n", None).await?;

    // Entities.
    let file_value = |field: i64, file: &str| json!({"field_id": field, "values": [{"value": {"file_uuid": file}}]});
    let lead = api
        .call(
            "POST",
            "/api/v4/leads",
            json!([{"name": "Website redesign for Acme", "custom_fields_values": [
                file_value(contract, &contract_uuid),
                {"field_id": source, "values": [{"value": "Referral"}]}]}]),
        )
        .await?;
    let lead = id(&lead, "leads");
    let contact = api
        .call("POST", "/api/v4/contacts", json!([{"name": "Maria Silva", "custom_fields_values": [file_value(photo, &uuid(&logo))]}]))
        .await?;
    let contact = id(&contact, "contacts");
    let company = api
        .call("POST", "/api/v4/companies", json!([{"name": "Acme Ltda", "custom_fields_values": [file_value(logo_field, &uuid(&logo))]}]))
        .await?;
    let company = id(&company, "companies");

    // The lead's feed: a comment, then a comment with a file (same time),
    // a lone file, and a file that is now in the trash.
    let hour_ago = now_unix() - 3600;
    let notes = json!([
        {"note_type": "common", "params": {"text": "Kick-off call went well; they want a proposal."},
         "created_at": hour_ago - 86_400},
        {"note_type": "common", "params": {"text": "Proposal sent, as discussed."}, "created_at": hour_ago},
        {"note_type": "attachment", "params": {"file_uuid": uuid(&proposal), "file_name": "Proposal.pdf"},
         "created_at": hour_ago},
        {"note_type": "attachment", "params": {"file_uuid": uuid(&budget), "file_name": "Budget.csv"}},
        {"note_type": "attachment", "params": {"file_uuid": uuid(&draft), "file_name": "Old draft.txt"}},
    ]);
    api.call("POST", &format!("/api/v4/leads/{lead}/notes"), notes).await?;
    api.call(
        "PUT",
        &format!("/api/v4/companies/{company}/files"),
        json!([{"file_uuid": uuid(&minutes)}]),
    )
    .await?;
    api.call(
        "PUT",
        &format!("/api/v4/contacts/{contact}/files"),
        json!([{"file_uuid": uuid(&proposal)}]),
    )
    .await?;
    api.call(
        "POST",
        &format!("/api/v4/contacts/{contact}/notes"),
        json!([{"note_type": "common", "params": {"text": "Prefers email; decides on the budget."}}]),
    )
    .await?;
    api.call("DELETE", "/v1.0/files", json!([{"uuid": uuid(&draft)}])).await?;
    Ok(Some(Seeded { entities: 3, files: 6, notes: 6 }))
}
