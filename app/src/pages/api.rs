//! What the pages ask of the server, as Leptos server functions. On the
//! server they call Satchel's own HTTP API in-process, as the signed-in
//! browser (`Backend`, provided by the server crate), so the pages follow
//! exactly the rules the API does. State-changing calls carry the
//! session's CSRF token as an argument.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in browser, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub account: String,
    /// Sent back with every state-changing call.
    pub csrf: String,
}

/// One row of an entity list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

#[cfg(feature = "ssr")]
pub mod backend {
    //! The server's side of the pages' calls.
    use std::{future::Future, pin::Pin, sync::Arc};

    use serde_json::Value;

    use super::Viewer;

    pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    /// Implemented by the server crate.
    pub trait Backend: Send + Sync {
        /// The browser a request's session cookie signs in, if any.
        fn viewer(&self, headers: http::HeaderMap) -> Pending<Option<Viewer>>;

        /// Satchel's API, called as that browser's account: status and
        /// JSON body (null when empty). `Err` when nobody is signed in.
        fn call(
            &self,
            headers: http::HeaderMap,
            method: &'static str,
            uri: String,
            body: Option<Value>,
        ) -> Pending<Result<(u16, Value), String>>;
    }

    /// The backend, as a Leptos context.
    #[derive(Clone)]
    pub struct Pages(pub Arc<dyn Backend>);
}

#[cfg(feature = "ssr")]
mod on_server {
    use leptos::prelude::*;
    use serde_json::Value;

    use super::backend::Pages;

    fn pages() -> Result<Pages, ServerFnError> {
        use_context::<Pages>().ok_or_else(|| ServerFnError::new("the pages backend is missing"))
    }

    async fn headers() -> Result<http::HeaderMap, ServerFnError> {
        Ok(leptos_axum::extract::<http::HeaderMap>().await?)
    }

    pub async fn viewer() -> Result<Option<super::Viewer>, ServerFnError> {
        Ok(pages()?.0.viewer(headers().await?).await)
    }

    /// An API call that must succeed; its problem's detail otherwise.
    pub async fn call(
        method: &'static str,
        uri: String,
        body: Option<Value>,
    ) -> Result<(u16, Value), ServerFnError> {
        let (status, json) = pages()?
            .0
            .call(headers().await?, method, uri, body)
            .await
            .map_err(ServerFnError::new)?;
        if status >= 400 {
            let detail = json["detail"].as_str().unwrap_or("the request was refused");
            return Err(ServerFnError::new(detail.to_owned()));
        }
        Ok((status, json))
    }

    /// Refuses a state-changing call without the session's CSRF token.
    pub async fn check_csrf(csrf: &str) -> Result<(), ServerFnError> {
        match viewer().await? {
            Some(v) if v.csrf == csrf => Ok(()),
            Some(_) => Err(ServerFnError::new("the page's CSRF token is wrong; reload the page")),
            None => Err(ServerFnError::new("sign in first")),
        }
    }
}

/// Who is signed in (`None`: nobody).
#[server(prefix = "/_pages")]
pub async fn current_viewer() -> Result<Option<Viewer>, ServerFnError> {
    on_server::viewer().await
}

/// The account's entities of one type, oldest first (the first 250).
#[server(prefix = "/_pages")]
pub async fn entities(kind: String) -> Result<Vec<EntityRow>, ServerFnError> {
    let (status, json) = on_server::call("GET", format!("/api/v4/{kind}?limit=250"), None).await?;
    if status == 204 {
        return Ok(Vec::new());
    }
    Ok(json["_embedded"][kind.as_str()]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|e| EntityRow {
                    id: e["id"].as_i64().unwrap_or_default(),
                    name: e["name"].as_str().unwrap_or_default().to_owned(),
                    created_at: e["created_at"].as_i64().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Creates an entity; its id.
#[server(prefix = "/_pages")]
pub async fn create_entity(csrf: String, kind: String, name: String) -> Result<i64, ServerFnError> {
    on_server::check_csrf(&csrf).await?;
    let body = serde_json::json!([{ "name": name }]);
    let (_, json) = on_server::call("POST", format!("/api/v4/{kind}"), Some(body)).await?;
    json["_embedded"][kind.as_str()][0]["id"]
        .as_i64()
        .ok_or_else(|| ServerFnError::new("the entity was not created"))
}
