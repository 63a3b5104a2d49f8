//! The site's static files: the wasm bundle with its JavaScript, the CSS
//! and `public/`, laid out under `target/site` by `scripts/build.sh` (or
//! cargo-leptos). A release binary carries them inside itself, so it
//! serves its pages from any directory; `--site-root` serves a directory
//! instead, for development.

use std::path::PathBuf;

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// What the site needs of a request: its method, URI and headers.
pub type Head = axum::http::request::Parts;

/// The files under `target/site` when this binary was built. A debug
/// build reads them from that directory at run time instead.
#[derive(rust_embed::Embed)]
#[folder = "../target/site"]
#[allow_missing = true]
struct Carried;

/// Where the site's files come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Site {
    /// The files this binary carries.
    Carried,
    /// A directory laid out like `target/site`.
    Dir(PathBuf),
}

/// The file every built site has: its absence means nothing was carried.
const WITNESS: &str = "pkg/satchel.js";

impl Site {
    /// `--site-root` when given; otherwise the carried files, or
    /// `target/site` when the binary carries none (built before its site).
    pub fn choose(site_root: Option<PathBuf>) -> Site {
        match site_root {
            Some(dir) => Site::Dir(dir),
            None if Carried::get(WITNESS).is_some() => Site::Carried,
            None => Site::Dir(PathBuf::from("target/site")),
        }
    }

    /// For the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            Site::Carried => "carried in the binary".to_owned(),
            Site::Dir(dir) => format!("from {}", dir.display()),
        }
    }

    /// Whether the pages' bundle can be served at all.
    pub fn is_complete(&self) -> bool {
        match self {
            Site::Carried => Carried::get(WITNESS).is_some(),
            Site::Dir(dir) => dir.join(WITNESS).is_file(),
        }
    }

    /// The file a GET or HEAD request names, or `None` (the pages'
    /// routes and their 404 page take it).
    pub async fn serve(&self, request: &Head) -> Option<Response> {
        if request.method != Method::GET && request.method != Method::HEAD {
            return None;
        }
        let path = request.uri.path().strip_prefix('/')?;
        if path.is_empty() || path.ends_with('/') {
            return None;
        }
        let response = match self {
            Site::Carried => carried(path, request)?,
            Site::Dir(dir) => {
                // ServeDir answers a copy: the request itself goes on to
                // the pages when no file matches.
                let mut copy = Request::new(Body::empty());
                *copy.method_mut() = request.method.clone();
                *copy.uri_mut() = request.uri.clone();
                *copy.headers_mut() = request.headers.clone();
                let response = ServeDir::new(dir).oneshot(copy).await.ok()?;
                if response.status() == StatusCode::NOT_FOUND {
                    return None;
                }
                response.map(Body::new)
            }
        };
        Some(with_cors(response))
    }
}

/// A carried file, with a strong ETag from its SHA-256 so browsers
/// revalidate it cheaply (the names carry no hash).
fn carried(path: &str, request: &Head) -> Option<Response> {
    let file = Carried::get(path)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let fresh = request
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::CONTENT_TYPE, mime.essence_str().to_owned()),
    ];
    if fresh {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let length = file.data.len();
    let body = if request.method == Method::HEAD { Body::empty() } else { Body::from(file.data) };
    let mut response = (headers, body).into_response();
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Some(response)
}

/// The bundle is loaded by CRM pages of other origins (`<script
/// type="module">` and the wasm fetch are CORS requests); it is public.
fn with_cors(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &[(&str, &str)]) -> Head {
        let mut builder = Request::builder().uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_directory_serves_its_files_and_leaves_the_rest_to_the_pages() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
        std::fs::write(dir.path().join("pkg/satchel.js"), "export default 1;").unwrap();
        let site = Site::choose(Some(dir.path().to_owned()));
        assert_eq!(site, Site::Dir(dir.path().to_owned()));
        assert!(site.is_complete());

        let response = site.serve(&get("/pkg/satchel.js", &[])).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(text(response).await, "export default 1;");

        assert!(site.serve(&get("/pkg/missing.js", &[])).await.is_none());
        assert!(site.serve(&get("/", &[])).await.is_none());
        assert!(site.serve(&get("/files/", &[])).await.is_none());
        let post = Request::builder().method(Method::POST).uri("/pkg/satchel.js").body(()).unwrap();
        let post = post.into_parts().0;
        assert!(site.serve(&post).await.is_none());
        // ServeDir keeps requests inside the directory.
        assert!(site.serve(&get("/../Cargo.toml", &[])).await.is_none());
    }

    #[test]
    fn an_empty_directory_is_an_incomplete_site() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Site::Dir(dir.path().to_owned()).is_complete());
    }

    /// Runs against whatever `target/site` held when this test binary
    /// was built (a debug build reads it at run time): meaningful after
    /// `scripts/build.sh`, skipped on a checkout that never built one.
    #[tokio::test]
    async fn carried_files_have_their_type_and_revalidate_by_etag() {
        if Carried::get(WITNESS).is_none() {
            eprintln!("no built site under target/site; nothing carried to check");
            return;
        }
        let response = Site::Carried.serve(&get("/pkg/satchel.js", &[])).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
        let etag = response.headers()[header::ETAG].to_str().unwrap().to_owned();
        let wasm = Site::Carried.serve(&get("/pkg/satchel.wasm", &[])).await.unwrap();
        assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_ne!(wasm.headers()[header::ETAG].to_str().unwrap(), etag);

        let again = Site::Carried
            .serve(&get("/pkg/satchel.js", &[("if-none-match", &format!("\"x\", {etag}"))]))
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(text(again).await.is_empty());
        assert!(Site::Carried.serve(&get("/pkg/nothing.js", &[])).await.is_none());
    }
}
