//! `/metrics` in Prometheus text format, and the middleware that counts
//! requests and times them by method, route template and status.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Installs the process-wide recorder, if it is not yet: figures
/// recorded before it exists are lost.
pub fn install() {
    handle();
}

/// The process-wide recorder, installed on first use. Every app built in
/// one process (tests build many) shares it.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .expect("static bucket list is non-empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if something else installed a recorder first; then
        // that one receives the figures and ours renders empty.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        handle
    })
}

/// The method as a label: the methods Satchel answers by name, every
/// other one (an extension method a client invented) as `other`, so that
/// no request can add label values without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records `satchel_http_requests_total` and
/// `satchel_http_request_duration_seconds` for every request.
pub async fn track(request: Request, next: Next) -> Response {
    handle();
    let started = Instant::now();
    let method = method_label(request.method()).to_owned();
    // The route template, not the raw path, keeps label cardinality bounded.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let took = started.elapsed().as_secs_f64();
    if let Some(face) = part_face(&method, &route) {
        if response.status().is_success() {
            metrics::counter!("satchel_upload_parts_stored_total", "face" => face).increment(1);
            metrics::histogram!("satchel_upload_part_duration_seconds", "face" => face)
                .record(took);
        } else {
            let reason = match response.extensions().get::<super::problem::ProblemKind>() {
                Some(kind) => kind.0,
                None => "other",
            };
            metrics::counter!("satchel_upload_parts_refused_total", "face" => face, "reason" => reason)
                .increment(1);
        }
    }
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("satchel_http_requests_total", &labels).increment(1);
    metrics::histogram!("satchel_http_request_duration_seconds", &labels).record(took);
    response
}

/// The upload face a request sends part bytes through: a Kommo part, a
/// tus PATCH (or a creation with its first bytes).
fn part_face(method: &str, route: &str) -> Option<&'static str> {
    match (method, route) {
        ("POST", "/upload/{token}") => Some("kommo"),
        ("PATCH", "/tus/{token}") => Some("tus"),
        _ => None,
    }
}

/// Counts an error that ends in a 500, by what failed.
pub fn internal_error(error: &crate::error::Error) {
    use crate::error::Error;
    let kind = match error {
        Error::Database(_) | Error::Migrate(_) => "database",
        Error::Io(_) | Error::ObjectStore(_) => "storage",
        _ => "other",
    };
    handle();
    metrics::counter!("satchel_internal_errors_total", "kind" => kind).increment(1);
}

/// Store-wide gauges, read from the database at scrape time, so every
/// node reports the same figures whichever saw the uploads.
async fn store_gauges(state: &AppState) {
    match state.db.gauges(crate::store::now_unix()).await {
        Ok(g) => {
            metrics::gauge!("satchel_upload_sessions_open").set(g.open_sessions as f64);
            metrics::gauge!("satchel_upload_sessions_open_bytes").set(g.open_session_bytes as f64);
            metrics::gauge!("satchel_trash_files").set(g.trashed_files as f64);
            metrics::gauge!("satchel_trash_bytes").set(g.trashed_bytes as f64);
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the store's gauges failed");
            internal_error(&e);
        }
    }
}

/// Prometheus metrics (beyond Kommo).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let handle = handle();
    store_gauges(&state).await;
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}
