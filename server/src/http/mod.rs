//! HTTP: one module per resource, each exposing `router()`, assembled here
//! with the cross-cutting layers (tracing, metrics, timeouts, body limits,
//! CORS, compression) and the Leptos pages as the fallback.

use std::{future::Future, pin::Pin, sync::OnceLock};

use axum::{
    extract::Request,
    http::{HeaderValue, Method},
    middleware,
    response::Response,
    routing::any,
    Router,
};
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::{
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::state::AppState;

pub mod account;
pub mod auth;
pub mod body;
pub mod crm;
pub mod download;
pub mod embed;
pub mod files;
pub mod health;
pub mod json;
pub mod links;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod part_body;
pub mod problem;
pub mod query;
pub mod serve;
pub mod sessions;
pub mod site;
pub mod tokens;
pub mod trash;
pub mod tus;
pub mod upload;

/// Largest JSON body the API accepts. Part uploads set their own limit.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// The whole application: API, pages and assets.
pub fn app(state: AppState) -> Router {
    let api = api(&state);
    // The pages call the API in-process, without its CORS and metrics.
    let pages_backend = pages::backend(&state, api.clone().with_state(state.clone()));
    let context = move || leptos::prelude::provide_context(pages_backend.clone());

    let leptos_options = state.leptos.clone();
    let routes = page_routes();
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(leptos_options.clone())
        })
        .fallback(site_or_page(&state, context))
        .layer(middleware::from_fn_with_state(state.clone(), pages::same_origin));

    // Part bodies and downloads are bytes: no compression, and their size
    // limits are the upload handler's own (the part size). Part uploads
    // take as long as their bytes take to arrive, at least at
    // --min-upload-rate, so the request timeout does not cut them off.
    let parts = upload::router()
        .layer(CorsLayer::permissive())
        .layer(middleware::from_fn(problem::problems_only));
    let downloads = download::router().layer(middleware::from_fn(problem::problems_only));

    Router::new()
        .merge(api)
        .merge(login::router())
        .merge(pages)
        .layer(CompressionLayer::new())
        .merge(downloads)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            state.settings.request_timeout,
        ))
        .merge(parts)
        .merge(tus::router(&state).layer(middleware::from_fn(problem::problems_only)))
        .layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Paths no route takes: a file of the site (the wasm bundle, CSS,
/// `public/`), else the pages' 404 page.
fn site_or_page(
    state: &AppState,
    context: impl Fn() + Clone + Send + Sync + 'static,
) -> impl Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Clone + Send + Sync + 'static
{
    let options = state.leptos.clone();
    let page = leptos_axum::render_app_to_stream_in_order_with_context(context, move || {
        app::shell(options.clone())
    });
    let site = state.site.clone();
    move |request: Request| {
        let site = site.clone();
        let page = page.clone();
        Box::pin(async move {
            let (head, body) = request.into_parts();
            match site.serve(&head).await {
                Some(file) => file,
                None => page(Request::from_parts(head, body)).await,
            }
        })
    }
}

/// The pages' routes, listed once per process.
///
/// Listing them renders the app with resource loading switched off, and
/// Leptos keeps that switch in one process-wide flag. A page rendered on
/// another thread meanwhile would find its resources never loading and
/// wait forever. Listing them once, before any router exists to render a
/// page, keeps every later render clear of it, however many routers the
/// process builds (tests build one each).
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// The JSON API: `/v1.0`, `/api/v4`, docs, health and metrics.
fn api(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .merge(tokens::router())
        .merge(account::router().layer(middleware::map_response(json::hal_json)))
        .merge(sessions::router())
        .merge(files::router())
        .merge(trash::router())
        .merge(crm::router().layer(middleware::map_response(json::hal_json)))
        .merge(embed::router())
        .route("/v1.0/{*rest}", any(problem::no_such_endpoint))
        .route("/api/v4/{*rest}", any(problem::no_such_endpoint))
        .layer(RequestBodyLimitLayer::new(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(problem::problems_only))
        .layer(cors(&state.settings.cors_origins))
}

/// CORS for the API: only the configured origins, with the bearer header.
fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE])
}
