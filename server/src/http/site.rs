//! The site's static files: the wasm bundle with its JavaScript, the CSS
//! and `public/`, laid out under `target/site` by `scripts/build.sh` (or
//! cargo-leptos). A release binary carries them inside itself, so it
//! serves its pages from any directory; `--site-root` serves a directory
//! instead, for development.
//!
//! The `satchel` binary (`main.rs`), not this library, embeds the files
//! and hands them over with `carry`: a new bundle rebuilds only the
//! binary's small crate, and the library builds while the bundle does.

use std::{
    borrow::Cow,
    path::PathBuf,
    sync::{Arc, OnceLock},
};

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

/// One file a binary carries.
pub struct CarriedFile {
    pub data: Cow<'static, [u8]>,
    pub sha256: [u8; 32],
}

/// The site's files as a binary carries them, by path (`pkg/satchel.js`).
pub trait Bundle: Send + Sync {
    fn get(&self, path: &str) -> Option<CarriedFile>;
}

/// The bundle the binary carries, once `carry` has handed it over.
static CARRIED: OnceLock<Arc<dyn Bundle>> = OnceLock::new();

/// Hands the bundle this binary carries to the library, before serving.
pub fn carry(bundle: Arc<dyn Bundle>) {
    let _ = CARRIED.set(bundle);
}

/// Where the site's files come from.
#[derive(Clone)]
pub enum Site {
    /// The files this binary carries.
    Carried(Arc<dyn Bundle>),
    /// A directory laid out like `target/site`.
    Dir(PathBuf),
}

/// The file every built site has: its absence means nothing was carried.
const WITNESS: &str = "pkg/satchel.js";

impl Site {
    /// `--site-root` when given; otherwise the carried files, or
    /// `target/site` when the binary carries none (built before its site).
    pub fn choose(site_root: Option<PathBuf>) -> Site {
        Self::choose_from(site_root, CARRIED.get().cloned())
    }

    fn choose_from(site_root: Option<PathBuf>, carried: Option<Arc<dyn Bundle>>) -> Site {
        match (site_root, carried) {
            (Some(dir), _) => Site::Dir(dir),
            (None, Some(bundle)) if bundle.get(WITNESS).is_some() => Site::Carried(bundle),
            (None, _) => Site::Dir(PathBuf::from("target/site")),
        }
    }

    /// For the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            Site::Carried(_) => "carried in the binary".to_owned(),
            Site::Dir(dir) => format!("from {}", dir.display()),
        }
    }

    /// Whether the pages' bundle can be served at all.
    pub fn is_complete(&self) -> bool {
        match self {
            Site::Carried(bundle) => bundle.get(WITNESS).is_some(),
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
            Site::Carried(bundle) => carried(bundle.as_ref(), path, request)?,
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
fn carried(bundle: &dyn Bundle, path: &str, request: &Head) -> Option<Response> {
    let file = bundle.get(path)?;
    let etag = format!("\"{}\"", hex::encode(&file.sha256[..16]));
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
        let site = Site::choose_from(Some(dir.path().to_owned()), Some(bundle()));
        assert!(matches!(&site, Site::Dir(d) if d == dir.path()), "--site-root wins");
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

    /// A bundle of two files, as the binary's embedded one answers.
    struct Two;

    impl Bundle for Two {
        fn get(&self, path: &str) -> Option<CarriedFile> {
            use sha2::Digest;
            let data: &'static [u8] = match path {
                "pkg/satchel.js" => b"export default 1;",
                "pkg/satchel.wasm" => b"\0asm",
                _ => return None,
            };
            Some(CarriedFile { data: data.into(), sha256: sha2::Sha256::digest(data).into() })
        }
    }

    fn bundle() -> Arc<dyn Bundle> {
        Arc::new(Two)
    }

    #[tokio::test]
    async fn carried_files_have_their_type_and_revalidate_by_etag() {
        let site = Site::choose_from(None, Some(bundle()));
        assert!(matches!(site, Site::Carried(_)) && site.is_complete());
        assert_eq!(site.describe(), "carried in the binary");
        let response = site.serve(&get("/pkg/satchel.js", &[])).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
        assert_eq!(response.headers()[header::CONTENT_LENGTH], "17");
        let etag = response.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(text(response).await, "export default 1;");
        let wasm = site.serve(&get("/pkg/satchel.wasm", &[])).await.unwrap();
        assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_ne!(wasm.headers()[header::ETAG].to_str().unwrap(), etag);

        let again = site
            .serve(&get("/pkg/satchel.js", &[("if-none-match", &format!("\"x\", {etag}"))]))
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(text(again).await.is_empty());
        let head = Request::builder().method(Method::HEAD).uri("/pkg/satchel.js").body(()).unwrap();
        let head = site.serve(&head.into_parts().0).await.unwrap();
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "17");
        assert!(text(head).await.is_empty());
        assert!(site.serve(&get("/pkg/nothing.js", &[])).await.is_none());
    }

    #[test]
    fn a_binary_without_a_bundle_serves_target_site() {
        struct Empty;
        impl Bundle for Empty {
            fn get(&self, _: &str) -> Option<CarriedFile> {
                None
            }
        }
        let dev = PathBuf::from("target/site");
        assert!(matches!(Site::choose_from(None, None), Site::Dir(d) if d == dev));
        let empty: Arc<dyn Bundle> = Arc::new(Empty);
        assert!(matches!(Site::choose_from(None, Some(empty)), Site::Dir(d) if d == dev));
    }
}
